// Training in the web page against the Node CLI: steps per second of
// training time (validation excluded, as both report it) for the lecture's
// model at batch 32, the page's run in headless Chromium (its Web Worker on
// the wasm kernels) and `wavenet train --json`'s `steps / trainSeconds`,
// alternating, the best round of each: on a shared machine the least
// disturbed (Chromium's several processes lose more to other load than one
// Node process does). Both runs train the same bits.
//
// Usage: pnpm bench   (builds first; needs a chromium, see packages/web/scripts/browser.mjs)
//        node bench/web.mjs [--steps 10000] [--rounds 3]
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const main = `${root}packages/cli/dist/main.js`
if (!existsSync(main)) throw new Error('packages/cli/dist/main.js is missing: run `pnpm build` first (`pnpm bench` does)')
const { findChromium, openPage, trainInPage } = await import(`${root}packages/web/scripts/browser.mjs`)
const { values: options } = parseArgs({ options: { steps: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '3' } } })
const [steps, rounds] = [Number(options.steps), Number(options.rounds)]
const BATCH = 32

const chromium = findChromium()
if (chromium === undefined) {
  console.log('web page against the CLI: skipped, no chromium binary (apt-get install chromium, or set CHROMIUM)')
  process.exit(0)
}

const dir = mkdtempSync(join(tmpdir(), 'wavenet-web-'))
/** Steps per training second of one CLI run. */
const cli = () => {
  const args = [main, 'train', '--steps', String(steps), '--batch', String(BATCH), '--out', join(dir, 'cli.safetensors'), '--force', '--json', '--log-level', 'none']
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`wavenet train exited with ${result.status}: ${result.stderr}`)
  const summary = JSON.parse(result.stdout.trim().split('\n').pop())
  return summary.steps / summary.trainSeconds
}

const { page, close } = await openPage(chromium, dir)
const pageRates = []
const cliRates = []
try {
  for (let round = 0; round < rounds; round++) {
    pageRates.push(await trainInPage(page, { steps, batch: BATCH }))
    cliRates.push(cli())
  }
} finally {
  await close()
  rmSync(dir, { recursive: true, force: true })
}
const [inPage, inNode] = [Math.max(...pageRates), Math.max(...cliRates)]
const fmt = (rates) => rates.map((r) => Math.round(r)).join(' ')
console.log(`web page against the CLI (steps/s of training time, batch ${BATCH}, ${steps} steps, the best of ${rounds} alternating runs)`)
console.log(`  page ${Math.round(inPage)}   CLI ${Math.round(inNode)}   page/CLI ${(inPage / inNode).toFixed(2)}x   (page: ${fmt(pageRates)}; CLI: ${fmt(cliRates)})`)
