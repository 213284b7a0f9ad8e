/**
 * `pnpm mutation [group ...] [--incremental] [stryker flags]`: StrykerJS over
 * packages/core/src (stryker.config.json), one run per group of files, then
 * the score of every file and of the whole core.
 *
 * Why groups: Stryker instruments every file it mutates, and an instrumented
 * file runs slower even while none of its own mutants is active. The
 * reference kernels are the inner loops of nearly every test, so in one run
 * with everything they slowed every other mutant's tests; in their own group
 * only their own mutants pay. Every source file belongs to exactly one group
 * (checked), so the table covers the whole core.
 *
 * `--incremental` keeps each group's results in
 * reports/stryker-incremental-GROUP.json and tests again only the mutants
 * whose code, or whose covering tests, changed since. The sandboxes live in
 * .stryker-tmp, two folders below the repository: tests that read
 * `../../../../shared/data` find it there through a link to the
 * repository's own `../shared`. Exit status: 1 when a run fails or the
 * core's score is under `thresholds.break` of stryker.config.json.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = 'packages/core/src/'
const base = JSON.parse(readFileSync(`${root}stryker.config.json`, 'utf8'))

const groups = {
  reference: ['kernels/reference.ts'],
  kernels: ['kernels/kernels.ts', 'kernels/wasm-arena.ts'],
  wasm: ['kernels/wasm.ts', 'kernels/wasm-module.ts', 'kernels/wasm-program.ts'],
  layers: ['layers/batchnorm.ts', 'layers/dropout.ts', 'layers/embedding.ts', 'layers/flatten.ts',
    'layers/linear.ts', 'layers/residual.ts', 'layers/skip.ts', 'layers/tanh.ts'],
  model: ['layers/sequential.ts', 'model.ts'],
  basics: ['index.ts', 'layers/layer.ts', 'loss.ts', 'optim.ts', 'tensor.ts', 'train.ts'],
  random: ['random.ts'],
  pipeline: ['data.ts', 'generate.ts', 'run.ts', 'sample.ts', 'sequence.ts', 'session.ts'],
  formats: ['compiled.ts', 'json.ts', 'safetensors.ts', 'trace.ts'],
  checkpoint: ['checkpoint.ts', 'limits.ts'],
}

/**
 * Stryker gives a mutant timeoutFactor × the initial run's time of the tests
 * that reach it (plus timeoutMS) before calling it a timeout. That initial
 * run counts coverage on every statement, which in the reference kernels'
 * loops made the suite about six times slower than a mutant's run (198 s
 * against about 30 s); with the default factor of 1.5, each mutant that
 * loops forever (`i++` made `i--`) held a runner for five minutes.
 */
const overrides = { reference: { timeoutFactor: 0.25 } }

const excluded = base.mutate.filter((p) => p.startsWith('!')).map((p) => p.slice(1))
const sources = readdirSync(`${root}${src}`, { recursive: true })
  .map((f) => String(f).replaceAll('\\', '/'))
  .filter((f) => f.endsWith('.ts') && !excluded.includes(`${src}${f}`))
const grouped = Object.values(groups).flat()
const unplaced = sources.filter((f) => !grouped.includes(f))
const missing = grouped.filter((f) => !sources.includes(f))
if (unplaced.length > 0 || missing.length > 0) {
  console.error(`mutation: scripts/mutation.mjs groups out of date: ${[...unplaced.map((f) => `${f} is in no group`), ...missing.map((f) => `${f} does not exist`)].join('; ')}`)
  process.exit(2)
}

const args = process.argv.slice(2)
const named = args.filter((a) => !a.startsWith('-'))
const unknown = named.filter((g) => !(g in groups))
if (unknown.length > 0) {
  console.error(`mutation: no group ${unknown.join(', ')} (groups: ${Object.keys(groups).join(', ')})`)
  process.exit(2)
}
const incremental = args.includes('--incremental')
const flags = args.filter((a) => a.startsWith('-') && a !== '--incremental')
const chosen = named.length > 0 ? named : Object.keys(groups)

mkdirSync(`${root}.stryker-tmp`, { recursive: true })
mkdirSync(`${root}reports/mutation`, { recursive: true })
if (!existsSync(`${root}.stryker-tmp/shared`) && existsSync(`${root}../shared`)) symlinkSync('../../shared', `${root}.stryker-tmp/shared`)

for (const group of chosen) {
  console.log(`\nmutation: group ${group}: ${groups[group].join(', ')}`)
  const config = `reports/mutation/${group}.config.json`
  writeFileSync(`${root}${config}`, JSON.stringify({
    ...base,
    mutate: groups[group].map((f) => `${src}${f}`),
    htmlReporter: { fileName: `reports/mutation/${group}.html` },
    jsonReporter: { fileName: `reports/mutation/${group}.json` },
    thresholds: { ...base.thresholds, break: null },
    ...overrides[group],
    ...(incremental ? { incremental: true, incrementalFile: `reports/stryker-incremental-${group}.json` } : {}),
  }, null, 2))
  const run = spawnSync('stryker', ['run', config, ...flags], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  if (run.status !== 0) {
    console.error(`mutation: group ${group} failed (exit ${run.status ?? run.signal})`)
    process.exit(1)
  }
}

const rows = []
for (const group of Object.keys(groups)) {
  const report = `${root}reports/mutation/${group}.json`
  if (!existsSync(report)) continue
  for (const [file, { mutants }] of Object.entries(JSON.parse(readFileSync(report, 'utf8')).files)) {
    const count = (status) => mutants.filter((m) => m.status === status).length
    const [killed, timeout, survived, noCoverage] = ['Killed', 'Timeout', 'Survived', 'NoCoverage'].map(count)
    rows.push({ group, file: file.replace(src, ''), detected: killed + timeout, undetected: survived + noCoverage, survived, timeout, noCoverage })
  }
}
const score = (r) => (r.detected + r.undetected === 0 ? 100 : (100 * r.detected) / (r.detected + r.undetected))
const total = rows.reduce((t, r) => ({ ...t, detected: t.detected + r.detected, undetected: t.undetected + r.undetected,
  survived: t.survived + r.survived, timeout: t.timeout + r.timeout, noCoverage: t.noCoverage + r.noCoverage }),
{ group: '', file: 'all files', detected: 0, undetected: 0, survived: 0, timeout: 0, noCoverage: 0 })
const line = (r) => [r.file.padEnd(28), r.group.padEnd(10), `${score(r).toFixed(1)}%`.padStart(7),
  ...[r.detected + r.undetected, r.detected, r.timeout, r.survived, r.noCoverage].map((n) => String(n).padStart(8))].join(' ')
console.log(`\n${['file'.padEnd(28), 'group'.padEnd(10), 'score'.padStart(7), ...['mutants', 'detected', 'timeout', 'survived', 'no cover'].map((h) => h.padStart(8))].join(' ')}`)
for (const r of rows.sort((a, b) => score(a) - score(b))) console.log(line(r))
console.log(line(total))
const stale = Object.keys(groups).filter((g) => !existsSync(`${root}reports/mutation/${g}.json`))
if (stale.length > 0) console.log(`(no report yet for ${stale.join(', ')}: run pnpm mutation ${stale.join(' ')})`)
const floor = base.thresholds?.break
if (typeof floor === 'number' && stale.length === 0 && score(total) < floor) {
  console.error(`mutation: ${score(total).toFixed(1)}% of mutants detected, under the ${floor}% floor`)
  process.exit(1)
}
