/**
 * The built page in a real browser, for the test and the benchmark: Debian's
 * Chromium (or the one `CHROMIUM` names), headless, driven by puppeteer-core
 * (which downloads no browser), over the built folder served by `vite
 * preview` on a free port of localhost (a secure context, so the page
 * hashes its data for the checkpoint's record as the CLI does).
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import puppeteer from 'puppeteer-core'
import { preview } from 'vite'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The Chromium to drive: `$CHROMIUM`, else the first of chromium, chromium-browser and google-chrome on the PATH; `undefined` when there is none. */
export const findChromium = () => {
  if (process.env.CHROMIUM) return process.env.CHROMIUM
  const folders = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    for (const folder of folders) {
      const path = join(folder, name)
      try {
        accessSync(path, constants.X_OK)
        return path
      } catch {
        // not here
      }
    }
  }
  return undefined
}

/**
 * The page, opened in a fresh headless Chromium and ready (its worker has
 * loaded the kernels); downloads go to `downloads`. `close` ends the
 * browser and the server.
 */
export const openPage = async (chromium, downloads) => {
  if (!existsSync(join(ROOT, 'dist', 'index.html'))) throw new Error('packages/web/dist is not built: run pnpm --filter web build')
  const server = await preview({ root: ROOT, logLevel: 'silent', preview: { host: '127.0.0.1', port: 0 } })
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // As root (CI) Chromium needs --no-sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    defaultViewport: { width: 1100, height: 1000 },
    downloadBehavior: { policy: 'allow', downloadPath: downloads },
  })
  const close = async () => {
    await browser.close()
    await server.close()
  }
  try {
    const page = await browser.newPage()
    const errors = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(server.resolvedUrls.local[0])
    await page.waitForFunction(() => document.body.dataset.state === 'ready', { timeout: 30_000 })
    return { page, errors, close }
  } catch (e) {
    await close()
    throw e
  }
}

/** Sets fields of the page's forms by id (`{ seed: 7, steps: 2000 }`). */
export const setFields = async (page, fields) => {
  for (const [id, value] of Object.entries(fields)) {
    await page.$eval(`#${id}`, (input, v) => { input.value = String(v) }, value)
  }
}

/** The text of the element with this id. */
export const textOf = (page, id) => page.$eval(`#${id}`, (e) => e.textContent)

/** Waits until the element with this id has some text, and returns it. */
export const shown = async (page, id) => {
  await page.waitForFunction((i) => document.getElementById(i).textContent !== '', {}, id)
  return textOf(page, id)
}

/** Waits until the page is in `state` (`document.body.dataset.state`). */
export const reached = (page, state, timeout = 30_000) =>
  page.waitForFunction((s) => document.body.dataset.state === s, { timeout, polling: 50 }, state)

/** Waits until the run has taken at least `step` steps. */
export const reachedStep = (page, step) =>
  page.waitForFunction((n) => Number(document.getElementById('step').textContent.split(' / ')[0].replaceAll(',', '')) >= n, { polling: 50 }, step)

/** Waits for the run to end, and returns the steps/s the page shows. */
export const trainingDone = async (page, timeout = 300_000) => {
  await reached(page, 'done', timeout)
  return Number((await textOf(page, 'speed')).replaceAll(',', ''))
}

/** Sets the run's fields (`{ seed, levels, embedding, hidden, steps, batch }`, each optional), trains to the end, and returns the steps/s the page shows. */
export const trainInPage = async (page, settings, timeout) => {
  await setFields(page, settings)
  await page.click('#train')
  return trainingDone(page, timeout)
}

/** `count` words sampled in the page at `temperature` with `seed`; for a model of running text, a passage of `count` characters, as the list's one item. */
export const sampleInPage = async (page, count, temperature, seed) => {
  await page.$eval('#samples', (list) => list.replaceChildren())
  await page.$eval('#passage', (passage) => { passage.textContent = '' })
  await setFields(page, { count, temperature, 'sample-seed': seed })
  await page.click('#sample button')
  await page.waitForFunction((n) => document.querySelectorAll('#samples li').length === n || document.getElementById('passage').textContent !== '', {}, count)
  const words = await page.$$eval('#samples li', (items) => items.map((item) => item.textContent))
  return words.length > 0 ? words : [await textOf(page, 'passage')]
}

/** How many pixels of the chart are of each colour (`{ name: [r, g, b] }`). */
export const chartPixels = (page, colours) =>
  page.$eval('#chart', (canvas, wanted) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
    const counts = Object.fromEntries(Object.keys(wanted).map((name) => [name, 0]))
    for (let i = 0; i < data.length; i += 4) {
      for (const [name, [r, g, b]] of Object.entries(wanted)) if (data[i] === r && data[i + 1] === g && data[i + 2] === b) counts[name]++
    }
    return counts
  }, colours)
