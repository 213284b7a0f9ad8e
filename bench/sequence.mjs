// Context paid for in depth, in two parts.
//
// 1. The cost per target character of a training step against the tree's
//    depth (levels 1 … 10, group size 2: 2 … 1,024 characters of context),
//    per-example against the sequence view (whole words, each node once),
//    side by side in one run with the systems alternating, medians over
//    rounds. Beside each measured ratio, the ratio of matrix-product FLOPs the
//    two do per target character.
// 2. Generation: characters per second, the queue-cached generator against
//    the naive one (the whole tree per character), at 3, 6 and 10 levels, one
//    stream and 64 rows, with the ratio of fusions per character beside; and
//    the lecture's own PyTorch sampling loop (one word at a time) at 3 levels.
// 3. Time to quality on the names split: training seconds (evaluation
//    excluded) until the validation loss is at or below 2.00, for
//    `wavenet train --mode sequence` (its recipe), `wavenet train` per example
//    (the lecture's recipe) and the lecture's own PyTorch script, where
//    /usr/bin/python3 imports torch, one after the other in this run.
//
// Usage: pnpm bench   (builds first)
//        node bench/sequence.mjs [--rounds N] [--data FILE] [--no-quality]
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = `${root}packages/core/dist/index.js`
if (!existsSync(dist)) throw new Error('packages/core/dist is missing: run `pnpm --filter @wavenet/core run build` first (`pnpm bench` does)')
const core = await import(dist)
const { median } = await import(`${root}packages/core/bench/measure.mjs`)

const { values: options } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    data: { type: 'string', default: `${root}../shared/data/names.train.txt` },
    'no-quality': { type: 'boolean', default: false },
  },
})
const rounds = Math.max(1, Number(options.rounds))
const LEVELS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
const [EMBEDDING, HIDDEN] = [24, 128]
/** Target characters per sequence step; examples per per-example step (fewer for deep trees: each costs 2^L − 1 fusions). */
const BUDGET = 128
const examplesPerStep = (levels) => (levels <= 6 ? 32 : 8)
/** Timed milliseconds per system and depth in a round, about. */
const ROUND_MS = 400

const words = core.parseCorpus(readFileSync(options.data, 'utf8')).words
const vocab = core.buildVocabulary(words)
const encoded = words.map((w) => core.encode(vocab, w).right)
const V = vocab.symbols.length
const wasm = core.createWasmKernels()
if (wasm === undefined) throw new Error(`wasm kernels unavailable: ${core.wasmKernelsUnavailable()}`)
const optimizer = core.sgd({ lr: 0.01, totalSteps: 1e9, decayAt: 1, decay: 1 })

/** A step function and the target characters each step scores. */
const system = (kind, levels) => {
  const model = core.wavenet({ vocab: V, levels, embedding: EMBEDDING, hidden: HIDDEN, seed: 1 })
  const state = optimizer.init(core.trainableParameters(model))
  let rng = core.seeded(levels)
  if (kind === 'sequence') {
    const session = core.leanWordsSession(wasm, model, optimizer, state)
    let targets = 0
    return {
      session,
      step() {
        const [batch, next] = core.wordBatch(rng, encoded, BUDGET)
        rng = next
        targets = batch.words.reduce((n, w) => n + w.length + 1, 0)
        session.step(batch)
        return targets
      },
    }
  }
  const batchSize = examplesPerStep(levels)
  const data = core.examples(vocab, words.slice(0, 500), core.receptiveField(model)).right
  const session = core.leanSession(wasm, model, optimizer, state, batchSize)
  return {
    session,
    step() {
      const [batch, next] = core.minibatch(rng, data, batchSize)
      rng = next
      session.step(batch)
      return batchSize
    },
  }
}

/** Microseconds per target character: steps for about ROUND_MS, the median of their per-character times. */
const perCharacter = (s) => {
  const samples = []
  const began = performance.now()
  while (performance.now() - began < ROUND_MS || samples.length < 5) {
    const start = performance.now()
    const targets = s.step()
    samples.push(((performance.now() - start) * 1000) / targets)
  }
  return median(samples)
}

/** Matrix-product multiply-adds per target character, forward (backward does twice as many). */
const fusionMacs = (levels, fusionsAtLevel) => {
  let macs = V * HIDDEN
  for (let l = 0; l < levels; l++) macs += fusionsAtLevel(l) * 2 * (l === 0 ? EMBEDDING : HIDDEN) * HIDDEN
  return macs
}
// Per example, level l has 2^(L−1−l) nodes; in the sequence view about one node per level per character (one per
// character of the words, plus one boundary node per level per batch, against a character and a boundary output per word).
const exampleMacs = (levels) => fusionMacs(levels, (l) => 2 ** (levels - 1 - l))
const sequenceMacs = (levels) => fusionMacs(levels, () => 1)

const results = { example: {}, sequence: {} }
for (let round = 0; round < rounds; round++) {
  for (const levels of LEVELS) {
    for (const kind of ['example', 'sequence']) {
      const s = system(kind, levels)
      for (let i = 0; i < 20; i++) s.step()
      ;(results[kind][levels] ??= []).push(perCharacter(s))
      s.session.dispose()
    }
  }
  process.stderr.write(`round ${round + 1}/${rounds} done\n`)
}

const fmt = (x, digits = 2) => x.toFixed(digits)
const at = (kind, levels) => median(results[kind][levels])
console.log(`Training cost per target character against depth (group size 2, embedding ${EMBEDDING}, hidden ${HIDDEN}, --backend wasm;`)
console.log(`per-example steps of ${examplesPerStep(1)} examples (${examplesPerStep(10)} from 7 levels), sequence steps of ${BUDGET} target characters;`)
console.log(`median over ${rounds} rounds, the two alternating). FLOP ratios: matrix products per target character.`)
console.log()
console.log('levels  context  per-example µs/char  sequence µs/char  example / sequence (FLOPs)  sequence / 3 levels (FLOPs)')
for (const levels of LEVELS) {
  const [e, s] = [at('example', levels), at('sequence', levels)]
  console.log(
    `${String(levels).padStart(6)} ${String(2 ** levels).padStart(8)} ${fmt(e).padStart(20)} ${fmt(s).padStart(17)}` +
    `${`${fmt(e / s, 1)} (${fmt(exampleMacs(levels) / sequenceMacs(levels), 1)})`.padStart(28)}` +
    `${`${fmt(s / at('sequence', 3))} (${fmt(sequenceMacs(levels) / sequenceMacs(3))})`.padStart(29)}`,
  )
}

generation()
if (!options['no-quality']) timeToQuality()

/** Characters per second of each generator, and the lecture's sampling loop in PyTorch. */
function generation() {
  const rate = (make, model, rows, seconds) => wasm.scope(() => {
    const g = make(wasm, model, rows)
    const all = Array.from({ length: rows }, (_, i) => i)
    const tokens = new Int32Array(rows)
    const advance = () => {
      const logits = g.logits(all)
      // The most likely next character of each row, never the boundary: a long stream.
      for (let i = 0; i < rows; i++) {
        let best = 1
        for (let c = 2; c < V; c++) if (logits[i * V + c] > logits[i * V + best]) best = c
        tokens[i] = best
      }
      g.push(all, tokens)
    }
    for (let i = 0; i < 3; i++) advance()
    let steps = 0
    const began = performance.now()
    while (performance.now() - began < seconds * 1000) {
      advance()
      steps++
    }
    return (steps * rows) / ((performance.now() - began) / 1000)
  })
  console.log()
  console.log('Generation, characters per second (--backend wasm; embedding 24, hidden 128; greedy streams, no boundary):')
  console.log()
  console.log('levels  rows     cached      naive   cached / naive (fusions)')
  for (const levels of [3, 6, 10]) {
    const model = core.wavenet({ vocab: V, levels, embedding: EMBEDDING, hidden: HIDDEN, seed: 1 })
    for (const rows of [1, 64]) {
      const cached = rate(core.cachedGenerator, model, rows, 1)
      const naive = rate(core.naiveGenerator, model, rows, levels === 10 ? 3 : 1)
      console.log(`${String(levels).padStart(6)} ${String(rows).padStart(5)} ${fmt(cached, 0).padStart(10)} ${fmt(naive, 0).padStart(10)} ${`${fmt(cached / naive, 1)} (${fmt((2 ** levels - 1) / levels, 1)})`.padStart(26)}`)
    }
  }
  const python = '/usr/bin/python3'
  const anchor = `${root}../shared/anchors/pytorch/wavenet_lecture.py`
  if (existsSync(python) && existsSync(anchor) && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) {
    const env = { ...process.env }
    delete env.OPENBLAS_CORETYPE
    delete env.OPENBLAS_L2_SIZE
    const run = spawnSync(python, [anchor, '--data', `${root}../shared/data/names.txt`, '--threads', '1', '--steps', '2000', '--sample', '2000'], { env, encoding: 'utf8' })
    const found = /: (\d+) characters\/s/.exec(run.stdout)
    console.log(found === null ? `PyTorch sampling loop failed: ${run.stderr}` : `PyTorch, the lecture's sampling loop at 3 levels (one word at a time): ${found[1]} characters/s`)
  }
}

/** Training seconds to val ≤ 2.00 of each system, on the lecture's split. */
function timeToQuality() {
  const data = `${root}../shared/data`
  const split = ['--data', `${data}/names.train.txt`, '--val', `${data}/names.val.txt`]
  const out = join(mkdtempSync(join(tmpdir(), 'wavenet-bench-')), 'model.safetensors')
  const wavenet = (args) => {
    const run = spawnSync(process.execPath, [`${root}packages/cli/dist/main.js`, 'train', ...split, ...args, '--stop-at-val', '2.00', '--out', out, '--force', '--json', '--log-level', 'warning'], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`wavenet train failed: ${run.stderr}`)
    const summary = JSON.parse(run.stdout.trim().split('\n').pop())
    return { seconds: summary.trainSeconds, steps: summary.steps, val: summary.valLoss }
  }
  const systems = [
    ['wavenet --mode sequence (its recipe)', () => wavenet(['--mode', 'sequence', '--eval-every', '1000'])],
    ['wavenet per example (the lecture\'s recipe)', () => wavenet(['--eval-every', '5000'])],
  ]
  const python = '/usr/bin/python3'
  const anchor = `${root}../shared/anchors/pytorch/wavenet_lecture.py`
  if (existsSync(python) && existsSync(anchor) && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) {
    systems.push(['PyTorch, wavenet_lecture.py (one thread)', () => {
      // The fast OpenBLAS kernels: this machine's environment holds OpenBLAS to older ones (see the anchors' README).
      const env = { ...process.env }
      delete env.OPENBLAS_CORETYPE
      delete env.OPENBLAS_L2_SIZE
      const run = spawnSync(python, [anchor, '--data', `${data}/names.txt`, '--threads', '1', '--eval-every', '5000', '--stop-at-val', '2.00'], { env, encoding: 'utf8' })
      const found = /reached val ([\d.]+) <= [\d.]+ at step (\d+) after ([\d.]+) s of training/.exec(run.stdout)
      if (run.status !== 0 || found === null) throw new Error(`wavenet_lecture.py failed: ${run.stderr || run.stdout}`)
      return { seconds: Number(found[3]), steps: Number(found[2]), val: Number(found[1]) }
    }])
  }
  console.log()
  console.log('Time to val ≤ 2.00 on the names split (training seconds, periodic evaluation excluded), one after the other:')
  console.log()
  const results = systems.map(([name, measure]) => {
    const r = measure()
    process.stderr.write(`${name}: ${fmt(r.seconds, 1)} s\n`)
    return [name, r]
  })
  const torch = results.find(([name]) => name.startsWith('PyTorch'))?.[1]
  console.log('system                                        steps    val    seconds   / PyTorch')
  for (const [name, r] of results) {
    console.log(`${name.padEnd(44)} ${String(r.steps).padStart(7)} ${fmt(r.val, 4).padStart(7)} ${fmt(r.seconds, 1).padStart(9)} ${torch === undefined ? '' : fmt(r.seconds / torch.seconds).padStart(10)}`)
  }
}
