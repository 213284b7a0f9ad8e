// One training step of the lecture's model (makemore part 5: Embedding(27, 24),
// 3 × [FlattenConsecutive(2), Linear(no bias, 128), BatchNorm1d(128), Tanh],
// Linear(128, 27); 76,579 parameters) at batch 32 and 512, side by side in one
// run, the systems alternating within each round:
//   wasm   leanSession on the WebAssembly SIMD kernels
//   js     pureSession on the reference kernels (fewer steps: it is slow)
//   torch  the PyTorch anchor wavenet_nn.py (torch.nn, one thread), run as a
//          child process per round, where /usr/bin/python3 can import torch
// A step is the whole step, as the anchor times it: drawing the minibatch,
// forward, loss, backward, update. Each figure is the median over rounds of
// the median step time within a round. Then the matmul's GFLOP/s on each
// product shape of the step against the f32x4 multiply-add ceiling.
//
// Then the README's library example (examples/library.mjs: the pure trainStep
// on the wasm kernels) over 20,000 steps against the lean session.
//
// --breakdown times each kernel call in the wasm step instead (the session's
// calls wrapped in timers, which adds a little to every call) and prints
// where a step's time goes, by kind of call and by product shape.
//
// Usage: pnpm bench [--rounds N] [--breakdown]   (builds @wavenet/core first)
//        node bench/step.mjs [--rounds N] [--breakdown] [--data FILE] [--anchor FILE]
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = `${root}packages/core/dist/index.js`
if (!existsSync(dist)) throw new Error('packages/core/dist is missing: run `pnpm --filter @wavenet/core run build` first (`pnpm bench` does)')
const core = await import(dist)
const { gflops, lectureLayers, median, multiplyAddCeiling, stepProducts, wasmMatmulGflops } = await import(
  `${root}packages/core/bench/measure.mjs`
)

const { values: options } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    breakdown: { type: 'boolean', default: false },
    data: { type: 'string', default: `${root}../shared/data/names.txt` },
    anchor: { type: 'string', default: `${root}../shared/anchors/pytorch/wavenet_nn.py` },
  },
})
const rounds = Math.max(3, Number(options.rounds))
const BATCHES = [32, 512]
/** Steps per round, by system and batch: about a second or two of each. */
const STEPS = { wasm: { 32: 2000, 512: 150 }, js: { 32: 20, 512: 3 }, torch: { 32: 1000, 512: 200 } }
/** Warm-up steps before the timed ones (the anchor takes its own 200). */
const WARMUP = { wasm: { 32: 500, 512: 30 }, js: { 32: 3, 512: 1 } }
const TORCH_WARMUP = 200
const PYTHON = '/usr/bin/python3'

const words = core.parseCorpus(readFileSync(options.data, 'utf8')).words
const vocab = core.buildVocabulary(words)
const examples = core.examples(vocab, words, 8)
if (examples._tag !== 'Right') throw new Error(`cannot encode ${options.data}`)
const data = examples.right
const schedule = { lr: 0.1, totalSteps: 200_000, decayAt: 0.75, decay: 0.1 }
const lecture = () => core.wavenet({ vocab: vocab.symbols.length, levels: 3, embedding: 24, hidden: 128, seed: 42 })

const wasm = core.createWasmKernels()
if (wasm === undefined) throw new Error(`wasm kernels unavailable: ${core.wasmKernelsUnavailable()}`)

/** One whole step on a session: draw a minibatch (as the anchor does every step), then train on it. */
const stepper = (session, batch) => {
  let rng = core.seeded(1)
  return () => {
    const [drawn, next] = core.minibatch(rng, data, batch)
    rng = next
    session.step(drawn)
  }
}

/** The median milliseconds of `steps` timed calls of `step`, after `warmup` untimed ones. */
const medianStepMs = (step, warmup, steps) => {
  for (let i = 0; i < warmup; i++) step()
  const times = new Float64Array(steps)
  for (let i = 0; i < steps; i++) {
    const start = performance.now()
    step()
    times[i] = performance.now() - start
  }
  return median(times)
}

const newSession = (system, batch) => {
  const model = lecture()
  const optimizer = core.sgd(schedule)
  const state = optimizer.init(core.trainableParameters(model))
  return system === 'wasm'
    ? core.leanSession(wasm, model, optimizer, state, batch)
    : core.pureSession(core.referenceKernels, model, optimizer, state)
}

const torchAvailable = existsSync(PYTHON) && existsSync(options.anchor) &&
  spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0

/** The anchor's median ms per step over `steps` steps after its warm-up, in a fresh process. */
const torchStep = (batch, steps) => {
  // The fast OpenBLAS kernels: this machine's environment holds OpenBLAS to older ones (see the anchors' README).
  const env = { ...process.env }
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  const args = [options.anchor, '--steps', String(steps + TORCH_WARMUP), '--threads', '1', '--batch', String(batch), '--data', options.data]
  const run = spawnSync(PYTHON, args, { env, encoding: 'utf8' })
  const found = /ms\/step median ([\d.]+)/.exec(run.stdout)
  if (run.status !== 0 || found === null) throw new Error(`wavenet_nn.py failed: ${run.stderr || run.stdout}`)
  return Number(found[1])
}

const fmt = (x, digits = 3) => (x === undefined ? '—' : x.toFixed(digits))

if (options.breakdown) {
  breakdown()
} else {
  table()
  await library()
}

function table() {
  const systems = ['wasm', 'js', ...(torchAvailable ? ['torch'] : [])]
  const steppers = Object.fromEntries(BATCHES.flatMap((batch) =>
    systems.filter((s) => s !== 'torch').map((s) => [`${s} ${batch}`, stepper(newSession(s, batch), batch)])))
  const results = {}
  for (let round = 0; round < rounds; round++) {
    for (const batch of BATCHES) {
      for (const system of systems) {
        const key = `${system} ${batch}`
        const ms = system === 'torch'
          ? torchStep(batch, STEPS.torch[batch])
          : medianStepMs(steppers[key], round === 0 ? WARMUP[system][batch] : 0, STEPS[system][batch])
        ;(results[key] ??= []).push(ms)
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`)
  }
  const ms = (system, batch) => (results[`${system} ${batch}`] === undefined ? undefined : median(results[`${system} ${batch}`]))
  /** The median over rounds of each round's ratio to torch: the pairs measured side by side. */
  const versusTorch = (system, batch) => {
    const torch = results[`torch ${batch}`]
    return torch === undefined ? undefined : median(results[`${system} ${batch}`].map((t, i) => t / torch[i]))
  }

  console.log(`One training step of the lecture model (76,579 parameters), ms per step: median of ${rounds} rounds,`)
  console.log(`systems alternating within each round (node ${process.version}${torchAvailable ? '' : '; torch not importable by ' + PYTHON});`)
  console.log('"/ torch": the median over rounds of the ratio to the anchor measured in the same round')
  console.log()
  console.log('system  batch   ms/step   µs/example   / torch')
  for (const batch of BATCHES) {
    for (const system of systems) {
      const t = ms(system, batch)
      const pair = versusTorch(system, batch)
      const ratio = pair === undefined ? '' : fmt(pair, 2).padStart(8)
      console.log(`${system.padEnd(6)} ${String(batch).padStart(6)} ${fmt(t).padStart(9)} ${fmt((t / batch) * 1000, 2).padStart(12)} ${ratio}`)
    }
  }
  console.log()
  for (const system of systems) {
    const perExample = (batch) => ms(system, batch) / batch
    console.log(`${system.padEnd(6)} ms/step at batch 512 / 512 ÷ ms/step at batch 32 / 32 = ${fmt(perExample(512) / perExample(32), 3)}`)
  }
  const flops = (batch) => stepProducts(lectureLayers(batch)).reduce((sum, [, m, n, k]) => sum + 2 * m * n * k, 0)
  for (const batch of BATCHES) {
    console.log(`wasm at batch ${batch}: ${fmt(flops(batch) / (ms('wasm', batch) / 1000) / 1e9, 1)} GFLOP/s of products over the whole step (${fmt(flops(batch) / 1e6, 1)} MFLOP)`)
  }
  console.log()
  products()
}

function products() {
  const ceiling = multiplyAddCeiling()
  console.log('wasm matmul on the step\'s product shapes, GFLOP/s (arena views, isolated calls, median of rounds)')
  console.log('shape                        batch 32: m×n×k     GFLOP/s   batch 512: m×n×k    GFLOP/s')
  const small = stepProducts(lectureLayers(32))
  const large = stepProducts(lectureLayers(512))
  small.forEach((shape, i) => {
    const [label, m, n, k] = shape
    const big = large[i]
    console.log(`${label}   ${`${m}×${n}×${k}`.padEnd(16)} ${fmt(wasmMatmulGflops(wasm, shape), 1).padStart(9)}   ${`${big[1]}×${big[2]}×${big[3]}`.padEnd(16)} ${fmt(wasmMatmulGflops(wasm, big), 1).padStart(9)}`)
  })
  console.log(`ceiling: f32x4 multiply+add (the matmul's 5×8 register tile on L1-resident data): ${fmt(ceiling, 1)} GFLOP/s, one thread`)
}

/**
 * The README's library example (examples/library.mjs: the pure `trainStep` on
 * `createWasmKernels()`, batch 32) over 20,000 steps, against the lean session
 * timed just before and just after it: the pure API's cost over the fast
 * step, and whether it drifts as the steps go on.
 */
async function library() {
  const { train } = await import(`${root}examples/library.mjs`)
  const LIBRARY_STEPS = 20_000
  const lean = () => {
    const session = newSession('wasm', 32)
    const ms = medianStepMs(stepper(session, 32), WARMUP.wasm[32], STEPS.wasm[32])
    session.dispose()
    return ms
  }
  const before = lean()
  const times = new Float64Array(LIBRARY_STEPS)
  let last = performance.now()
  train(LIBRARY_STEPS, (step) => {
    const now = performance.now()
    times[step] = now - last
    last = now
  })
  const after = lean()
  const all = median(times.subarray(1000))
  const first = median(times.subarray(1, 1000))
  const final = median(times.subarray(LIBRARY_STEPS - 1000))
  const fast = median([before, after])
  console.log()
  console.log(`The README's library example (examples/library.mjs: trainStep on createWasmKernels(), batch 32), ${LIBRARY_STEPS} steps:`)
  console.log(`  ms/step: median ${fmt(all)} (after the first 1,000), first 1,000 ${fmt(first)}, last 1,000 ${fmt(final)}: last / first ${fmt(final / first, 2)}`)
  console.log(`  lean session in the same run: ${fmt(before)} before, ${fmt(after)} after: library / lean ${fmt(all / fast, 2)}`)
}

/** Kinds of kernel call, by kernel name. */
function kindOf(name) {
  if (name === 'matmul') return 'matmul'
  if (name === 'normalizeTanh' || name === 'tanhNormalizeBackward') return 'batchnorm+tanh'
  if (['columnMoments', 'normalize', 'normalizeBackward', 'movingAverage'].includes(name)) return 'batchnorm'
  if (name.startsWith('tanh')) return 'tanh'
  if (name === 'gather' || name === 'scatterAdd') return 'embedding'
  if (name.startsWith('softmax')) return 'softmax'
  if (name === 'broadcastRows' || name === 'sumRows') return 'bias'
  return name
}

function breakdown() {
  for (const batch of BATCHES) {
    const spent = new Map()
    const add = (key, ms) => spent.set(key, (spent.get(key) ?? 0) + ms)
    const profile = ({ kernel, args }, run) => () => {
      const start = performance.now()
      const result = run()
      const ms = performance.now() - start
      add(kindOf(kernel), ms)
      if (kernel === 'matmul') add(`  ${args[0]}×${args[1]}×${args[2]}${args[4] ? ' Aᵀ' : ''}${args[6] ? ' Bᵀ' : ''}`, ms)
      return result
    }
    const sgd = core.sgd(schedule)
    const optimizer = {
      ...sgd,
      updateInPlace(...args) {
        const start = performance.now()
        sgd.updateInPlace(...args)
        add('optimizer', performance.now() - start)
      },
    }
    const model = lecture()
    const session = core.leanSession(wasm, model, optimizer, sgd.init(core.trainableParameters(model)), batch, { profile })
    const step = stepper(session, batch)
    for (let i = 0; i < WARMUP.wasm[batch]; i++) step()
    spent.clear()
    const steps = rounds * STEPS.wasm[batch]
    const start = performance.now()
    for (let i = 0; i < steps; i++) step()
    const total = performance.now() - start
    session.dispose()
    const perStep = (ms) => (ms / steps) * 1000
    const totalUs = perStep(total)
    const kinds = [...spent].filter(([key]) => !key.startsWith(' ')).sort((a, b) => b[1] - a[1])
    const accounted = kinds.reduce((sum, [, ms]) => sum + perStep(ms), 0)
    console.log(`wasm step at batch ${batch}: ${fmt(totalUs, 1)} µs (mean over ${steps} steps, timers included)`)
    for (const [kind, ms] of kinds) {
      console.log(`  ${kind.padEnd(24)} ${fmt(perStep(ms), 1).padStart(8)} µs  ${fmt((100 * perStep(ms)) / totalUs, 1).padStart(5)} %`)
      if (kind === 'matmul') {
        for (const [key, shapeMs] of [...spent].filter(([k]) => k.startsWith(' ')).sort((a, b) => b[1] - a[1])) {
          const [m, n, k] = key.trim().split(' ')[0].split('×').map(Number)
          const gf = gflops(m, n, k, perStep(shapeMs) / 1e6)
          console.log(`    ${key.trim().padEnd(22)} ${fmt(perStep(shapeMs), 1).padStart(8)} µs  ${fmt(gf, 1).padStart(5)} GFLOP/s`)
        }
      }
    }
    console.log(`  ${'other (JS, batch, timers)'.padEnd(24)} ${fmt(totalUs - accounted, 1).padStart(8)} µs  ${fmt((100 * (totalUs - accounted)) / totalUs, 1).padStart(5)} %`)
    console.log()
  }
}
