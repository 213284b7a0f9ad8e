// Start-up: wall time of `wavenet sample -n 1` on the lecture's model, the
// whole process from spawn to exit (Node's own start included), median of
// five runs after one that warms the file cache; beside it, `node -e 0`,
// the floor no command goes below. The executable is packages/cli/dist/main.js,
// one bundled file (packages/cli/scripts/bundle.mjs).
//
// Usage: pnpm bench   (builds first)
//        node bench/startup.mjs [--runs 5]
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const main = `${root}packages/cli/dist/main.js`
if (!existsSync(main)) throw new Error('packages/cli/dist/main.js is missing: run `pnpm build` first (`pnpm bench` does)')
const { median } = await import(`${root}packages/core/bench/measure.mjs`)
const { values: options } = parseArgs({ options: { runs: { type: 'string', default: '5' } } })
const runs = Number(options.runs)

/** Seconds from spawn to exit of one run, which must succeed. */
const seconds = (args) => {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' })
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${result.status}: ${result.stderr}`)
  return elapsed
}

/** The median of `runs` timed runs, after one untimed. */
const timed = (args) => {
  seconds(args)
  const times = Array.from({ length: runs }, () => seconds(args))
  return { median: median(times), times }
}

const dir = mkdtempSync(join(tmpdir(), 'wavenet-startup-'))
const model = join(dir, 'model.safetensors')
seconds([main, 'train', '--steps', '200', '--out', model, '--log-level', 'none'])
const sample = timed([main, 'sample', '--model', model, '-n', '1', '--seed', '1'])
const floor = timed(['-e', '0'])
rmSync(dir, { recursive: true, force: true })

const fmt = (s) => s.toFixed(3)
console.log(`start-up (wall seconds, median of ${runs} runs)`)
console.log(`  wavenet sample -n 1   ${fmt(sample.median)}   (runs: ${sample.times.map(fmt).join(' ')})`)
console.log(`  node -e 0             ${fmt(floor.median)}`)
