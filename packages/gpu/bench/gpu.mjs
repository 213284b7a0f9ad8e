#!/usr/bin/env node
/**
 * Latency and throughput of the gpu.js kernels on the model's matrix products,
 * per available mode, against referenceKernels.
 *
 *   node packages/gpu/bench/gpu.mjs [--modes webasm,cpu] [--batches 32,512] [--budget 3]
 *   xvfb-run -a node packages/gpu/bench/gpu.mjs          # to include headlessgl
 *
 * Needs a build first (`pnpm --filter @wavenet/gpu run build`). The products
 * are those of the default WaveNet (embedding 24, hidden 128, 27 characters,
 * receptive field 8) at batch B, as `linear` calls them with its weight
 * stored fanOut×fanIn: forward x·Wᵀ (+ bias, so accumulating), dx = dy·W,
 * dW = dyᵀ·x. Each figure is the median over rounds after one warm-up call
 * (which also compiles the kernel; its time is reported as `first`). A call
 * slower than the budget (seconds) is timed once, and that product is not
 * run at larger batches in that implementation.
 */
import { referenceKernels } from '@wavenet/core'
import { availableModes, createGpuKernels } from '../dist/index.js'

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback
}
const batches = option('batches', '32,512,4096,16384').split(',').map(Number)
const budgetMs = Number(option('budget', '3')) * 1000
const wantedModes = option('modes', 'webgpu,headlessgl,webasm,cpu').split(',')

/** The linear layers: rows per batch element, fanIn, fanOut. */
const layers = [
  { name: 'fuse1', rows: 4, fanIn: 48, fanOut: 128 },
  { name: 'fuse2', rows: 2, fanIn: 256, fanOut: 128 },
  { name: 'fuse3', rows: 1, fanIn: 256, fanOut: 128 },
  { name: 'head', rows: 1, fanIn: 128, fanOut: 27 },
]

/** The three products of a layer at batch b, as matmul arguments. */
const products = (layer, b) => {
  const rows = layer.rows * b
  const { fanIn, fanOut } = layer
  return [
    { name: `${layer.name} fwd`, m: rows, n: fanOut, k: fanIn, transA: false, transB: true, accumulate: true },
    { name: `${layer.name} dx`, m: rows, n: fanIn, k: fanOut, transA: false, transB: false, accumulate: false },
    { name: `${layer.name} dW`, m: fanOut, n: fanIn, k: rows, transA: true, transB: false, accumulate: false },
  ]
}

const random = (n) => {
  const x = new Float32Array(n)
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1
  return x
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Times one product: { first, median, rounds } in ms, or { first, rounds: 1 } when over budget. */
const time = (kernels, p) => {
  const a = random(p.m * p.k)
  const b = random(p.k * p.n)
  const c = random(p.m * p.n)
  const call = () => kernels.matmul(p.m, p.n, p.k, a, p.transA, b, p.transB, c, p.accumulate)
  let t = performance.now()
  call()
  const first = performance.now() - t
  t = performance.now()
  call()
  const second = performance.now() - t
  if (second > budgetMs) return { first, median: second, rounds: 1 }
  // About half a second of rounds, 3 to 15 of them.
  const rounds = Math.min(15, Math.max(3, Math.ceil(500 / Math.max(second, 1e-3))))
  const times = []
  for (let r = 0; r < rounds; r++) {
    t = performance.now()
    call()
    times.push(performance.now() - t)
  }
  return { first, median: median(times), rounds }
}

const implementations = [{ label: 'reference', kernels: referenceKernels, destroy: async () => {} }]
for (const { mode, available, reason } of await availableModes()) {
  if (!wantedModes.includes(mode)) continue
  if (!available) {
    console.log(`# ${mode}: skipped (${reason})`)
    continue
  }
  const backend = await createGpuKernels(mode)
  implementations.push({
    label: mode + (backend.adapter ? ` [${backend.adapter}]` : ''),
    kernels: backend.kernels,
    destroy: () => backend.destroy(),
  })
}

console.log(`# node ${process.version}, ${(await import('node:os')).cpus().length} cpus, budget ${budgetMs / 1000} s`)
console.log('impl\tB\tproduct\tm×n×k\tfirst ms\tmedian ms\trounds\tGFLOP/s\tvs reference')
const referenceMs = new Map()
for (const impl of implementations) {
  const overBudget = new Set()
  for (const b of batches) {
    for (const layer of layers) {
      for (const p of products(layer, b)) {
        const shape = `${p.m}×${p.n}×${p.k}`
        if (overBudget.has(p.name)) {
          console.log(`${impl.label}\t${b}\t${p.name}\t${shape}\tskipped: over budget at a smaller batch`)
          continue
        }
        const { first, median: ms, rounds } = time(impl.kernels, p)
        if (rounds === 1) overBudget.add(p.name)
        const gflops = (2 * p.m * p.n * p.k) / (ms * 1e6)
        const key = `${b} ${p.name}`
        if (impl.label === 'reference') referenceMs.set(key, ms)
        const versus = referenceMs.has(key) ? `${(referenceMs.get(key) / ms).toFixed(2)}×` : '—'
        console.log(
          `${impl.label}\t${b}\t${p.name}\t${shape}\t${first.toFixed(1)}\t${ms.toFixed(3)}\t${rounds}\t${gflops.toFixed(2)}\t${versus}`,
        )
      }
    }
  }
  await impl.destroy()
}
