/**
 * The page: a form for a run, its live loss chart and speed, pause and
 * continue, sampling, and checkpoints to download and load. Every
 * computation happens in the worker (`worker.ts`); this thread only draws.
 * `document.body.dataset.state` says where the page is (`loading`, `ready`,
 * `training`, `paused`, `done`, `loaded`), for people and for tests.
 */
import { RECIPES } from '@wavenet/core'
import { drawChart } from './chart.js'
import type { DataSet, FromWorker, ModelSummary, Points, ToWorker } from './protocol.js'

const element = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const number = (id: string): number => element<HTMLInputElement>(id).valueAsNumber

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })
const send = (message: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(message, transfer)

const chart = element<HTMLCanvasElement>('chart')
const pause = element<HTMLButtonElement>('pause')
const buttons = {
  train: element<HTMLButtonElement>('train'),
  sample: document.querySelector<HTMLButtonElement>('#sample button')!,
  save: element<HTMLButtonElement>('save'),
}

const setState = (state: string): void => {
  document.body.dataset['state'] = state
  buttons.train.disabled = state === 'loading'
  buttons.sample.disabled = buttons.save.disabled = !['training', 'paused', 'done', 'loaded'].includes(state)
  pause.disabled = state !== 'training' && state !== 'paused'
  pause.textContent = state === 'paused' ? 'Continue' : 'Pause'
}

const last = (points: Points): string => (points.length === 0 ? '–' : points[points.length - 1]![1].toFixed(4))

/** Samples of a model of running text are passages of so many characters; of a model of words, so many words. */
const SAMPLE_COUNTS = { words: 20, characters: 600 } as const

let shown: ModelSummary | undefined
const show = (summary: ModelSummary): void => {
  const unit = summary.text ? 'characters' : 'words'
  if (element('count-name').textContent !== unit) {
    element('count-name').textContent = unit
    element<HTMLInputElement>('count').value = String(SAMPLE_COUNTS[unit])
  }
  shown = summary
  element('step').textContent = `${summary.step.toLocaleString('en')} / ${summary.steps.toLocaleString('en')}`
  element('train-loss').textContent = last(summary.train)
  element('val-loss').textContent = last(summary.val)
  element('parameters').textContent = `${summary.parameters.toLocaleString('en')} (sees ${summary.receptiveField} characters)`
  drawChart(chart, summary.steps, summary.train, summary.val)
}
new ResizeObserver(() => {
  if (shown !== undefined) show(shown)
}).observe(chart)

const download = (bytes: Uint8Array): void => {
  // A message's arrays arrive on ArrayBuffers of their own, never shared ones.
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }))
  const link = document.createElement('a')
  link.href = url
  link.download = 'model.safetensors'
  link.click()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

worker.onmessage = ({ data: message }: MessageEvent<FromWorker>) => {
  element('error').textContent = ''
  switch (message.kind) {
    case 'ready':
      element('backend').textContent = message.backend === 'wasm' ? 'WebAssembly SIMD' : 'JavaScript (no WebAssembly SIMD here)'
      return setState('ready')
    case 'progress':
      show(message.summary)
      element('speed').textContent = Math.round(message.stepsPerSecond).toLocaleString('en')
      element('model').textContent = ''
      return setState(message.state)
    case 'loaded':
      show(message.summary)
      element('speed').textContent = '–'
      element('model').textContent = `Loaded ${message.name}: step ${message.summary.step.toLocaleString('en')}.`
      return setState('loaded')
    case 'samples':
      element('passage').textContent = ''
      element('samples').replaceChildren(...message.words.map((word) => Object.assign(document.createElement('li'), { textContent: word })))
      return
    case 'passage':
      element('samples').replaceChildren()
      element('passage').textContent = message.text
      return
    case 'checkpoint':
      return download(message.bytes)
    case 'failed':
      element('error').textContent = message.message
      return setState('ready')
    case 'error':
      element('error').textContent = message.message
  }
}
worker.onerror = (event) => {
  element('error').textContent = `the worker failed: ${event.message}`
}

element<HTMLFormElement>('run').addEventListener('submit', (event) => {
  event.preventDefault()
  element('samples').replaceChildren()
  element('passage').textContent = ''
  setState('training')
  send({
    kind: 'train',
    settings: {
      data: element<HTMLSelectElement>('data').value as DataSet, seed: number('seed'), levels: number('levels'), embedding: number('embedding'),
      hidden: number('hidden'), steps: number('steps'), batch: number('batch'), window: number('window'),
    },
  })
})
/** Each data set's steps and batch when chosen: a tenth of the lecture's run on the names, the text recipe's on the speeches. */
const DATA_DEFAULTS = { names: { steps: 20_000, batch: RECIPES.example.batch }, speeches: { steps: RECIPES.text.steps, batch: RECIPES.text.batch } }
element<HTMLSelectElement>('data').addEventListener('change', (event) => {
  const data = (event.target as HTMLSelectElement).value as DataSet
  element('window-field').hidden = data !== 'speeches'
  element<HTMLInputElement>('steps').value = String(DATA_DEFAULTS[data].steps)
  element<HTMLInputElement>('batch').value = String(DATA_DEFAULTS[data].batch)
})
pause.addEventListener('click', () => send({ kind: document.body.dataset['state'] === 'paused' ? 'continue' : 'pause' }))
element<HTMLFormElement>('sample').addEventListener('submit', (event) => {
  event.preventDefault()
  send({ kind: 'sample', settings: { count: number('count'), temperature: number('temperature'), seed: number('sample-seed') } })
})
buttons.save.addEventListener('click', () => send({ kind: 'save' }))
element<HTMLInputElement>('load').addEventListener('change', async (event) => {
  const input = event.target as HTMLInputElement
  const file = input.files?.[0]
  if (file === undefined) return
  const bytes = new Uint8Array(await file.arrayBuffer())
  input.value = ''
  send({ kind: 'load', bytes, name: file.name }, [bytes.buffer])
})
