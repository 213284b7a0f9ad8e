#!/usr/bin/env node
/**
 * Latency and throughput of the gpu.js kernels on the model's matrix products,
 * per available mode, against the WebAssembly SIMD kernels (the CPU backend
 * they would replace) and the reference kernels; then whole training steps
 * per mode against `--backend wasm`, to find the batch size from which a GPU
 * mode wins.
 *
 *   node packages/gpu/bench/gpu.mjs [--modes webasm,cpu] [--batches 32,512] [--budget 3]
 *   xvfb-run -a node packages/gpu/bench/gpu.mjs          # to include headlessgl
 *
 * Needs a build first (`pnpm build`; `pnpm bench` runs this after the CPU table). The products
 * are those of the default WaveNet (embedding 24, hidden 128, 27 characters,
 * receptive field 8) at batch B, as `linear` calls them with its weight
 * stored fanOut×fanIn: forward x·Wᵀ (+ bias, so accumulating), dx = dy·W,
 * dW = dyᵀ·x. Each figure is the median over rounds after one warm-up call
 * (which also compiles the kernel; its time is reported as `first`). A call
 * slower than the budget (seconds) is timed once, and that product is not
 * run at larger batches in that implementation.
 */
import {
  buildVocabulary, createWasmKernels, examples, leanSession, minibatch, parseCorpus, pureSession, referenceKernels, seeded, sgd,
  trainableParameters, wavenet,
} from '@wavenet/core'
import { readFileSync } from 'node:fs'
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

/** n uniform values in [−1, 1), in the kernels' own memory (so wasm runs without copies). */
const random = (kernels, n) => {
  const x = kernels.alloc(new Float32Array(0), n)
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1
  return x
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Times one product: { first, median, rounds } in ms, or { first, rounds: 1 } when over budget. */
const time = (kernels, p) => {
  const mark = kernels.arena?.mark()
  const a = random(kernels, p.m * p.k)
  const b = random(kernels, p.k * p.n)
  const c = random(kernels, p.m * p.n)
  try {
    return timeCall(() => kernels.matmul(p.m, p.n, p.k, a, p.transA, b, p.transB, c, p.accumulate))
  } finally {
    if (mark !== undefined) kernels.arena.reset(mark)
  }
}

/** { first, median, rounds } in ms of a call; over budget, it is timed once. */
const timeCall = (call) => {
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

/** Enough WebAssembly memory for a whole step at the largest batch. */
const wasm = createWasmKernels({ memoryBytes: 2 ** 31 })
const implementations = [
  { label: 'wasm', kernels: wasm, destroy: async () => {} },
  { label: 'reference', kernels: referenceKernels, destroy: async () => {} },
]
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
console.log('impl\tB\tproduct\tm×n×k\tfirst ms\tmedian ms\trounds\tGFLOP/s\tvs wasm')
const wasmMs = new Map()
const gpus = []
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
        if (impl.label === 'wasm') wasmMs.set(key, ms)
        const versus = wasmMs.has(key) ? `${(wasmMs.get(key) / ms).toFixed(2)}×` : '—'
        console.log(
          `${impl.label}\t${b}\t${p.name}\t${shape}\t${first.toFixed(1)}\t${ms.toFixed(3)}\t${rounds}\t${gflops.toFixed(2)}\t${versus}`,
        )
      }
    }
  }
  if (impl.label !== 'wasm' && impl.label !== 'reference') gpus.push(impl)
  else await impl.destroy()
}

// Whole training steps of the lecture's model (SGD, as `train` runs them) per GPU mode
// against the wasm backend's lean session, at each batch size.
const words = parseCorpus(readFileSync(new URL('../../../../shared/data/names.txt', import.meta.url), 'utf8')).words
const vocab = buildVocabulary(words)
const data = examples(vocab, words, 8).right
const session = (kernels, batch) => {
  const model = wavenet({ vocab: vocab.symbols.length, levels: 3, embedding: 24, hidden: 128, seed: 42 })
  const optimizer = sgd({ lr: 0.1, totalSteps: 1000, decayAt: 0.75, decay: 0.1 })
  const state = optimizer.init(trainableParameters(model))
  return kernels === wasm ? leanSession(wasm, model, optimizer, state, batch) : pureSession(kernels, model, optimizer, state)
}
const stepMs = (kernels, batch) => {
  const s = session(kernels, batch)
  let rng = seeded(1)
  const step = () => {
    const [drawn, next] = minibatch(rng, data, batch)
    rng = next
    s.step(drawn)
  }
  try {
    return timeCall(step)
  } finally {
    s.dispose()
  }
}
console.log('\n# whole training steps (batch, forward, backward, update), ms per step')
console.log(`impl\t${batches.map((b) => `B=${b}`).join('\t')}`)
const perStep = new Map()
for (const impl of [{ label: 'wasm', kernels: wasm }, ...gpus]) {
  let over = false
  const row = batches.map((b) => {
    if (over) return undefined
    const { median: ms, rounds } = stepMs(impl.kernels, b)
    over = rounds === 1
    return ms
  })
  perStep.set(impl.label, row)
  console.log(`${impl.label}\t${row.map((ms) => (ms === undefined ? 'over budget' : ms.toFixed(2))).join('\t')}`)
}
const wasmSteps = perStep.get('wasm')
for (const impl of gpus) {
  const row = perStep.get(impl.label)
  const wins = batches.find((b, i) => row[i] !== undefined && row[i] < wasmSteps[i])
  const measured = batches.filter((_, i) => row[i] !== undefined)
  console.log(wins === undefined
    ? `# ${impl.label}: never beats --backend wasm per step (measured up to B=${measured[measured.length - 1]})`
    : `# ${impl.label}: beats --backend wasm per step from B=${wins}`)
  await impl.destroy()
}
