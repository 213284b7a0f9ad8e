/**
 * Training as an Effect: importable, so a program can train without the CLI
 * (provide a FileSystem, a Path and a backend; see `index.ts`). The options
 * are those of `wavenet train` (`train-config.ts`), decoded and checked the
 * same way; the run starts (`train-start.ts`), loops (`train-loop.ts`), then
 * measures the model it ends with.
 */
import type { FileSystem, Path } from '@effect/platform'
import {
  exampleSteps, type History, type Model, type Optimizer, optimizerFrom, type OptimizerState, parameterCount, parameters, receptiveField,
  seeded, trainableParameters, type Vocabulary, windowSteps, wordSteps,
} from '@wavenet/core'
import { Effect } from 'effect'
import { type Backend, BackendService } from './backend.js'
import { checkFreeSpace, claimCheckpoint, refuseExisting } from './checkpoints.js'
import { type CliError, DataError, UsageError } from './errors.js'
import { decodeOptions } from './options.js'
import { evaluateInPieces, evaluateWindowsInPieces, sampleInPieces, sampleTextInPieces } from './pieces.js'
import { progress } from './progress.js'
import { currentTerminal } from './terminal.js'
import { TrainConfig, type TrainOptions, VALIDATIONS_PER_RUN } from './train-config.js'
import { initialState, loop, type Run, save, savingOnInterrupt, validate } from './train-loop.js'
import { type Start, startRun } from './train-start.js'

export interface TrainSummary {
  readonly steps: number
  readonly parameters: number
  readonly receptiveField: number
  /** Mean cross-entropy (nats) over the whole train split, eval mode; on running text, over a fixed sample of at least 100,000 of its characters. */
  readonly trainLoss: number
  /** Mean cross-entropy (nats) over the whole validation split, eval mode. */
  readonly valLoss: number
  /** The validation loss in bits per character (running text). */
  readonly valBitsPerChar?: number
  /** Median milliseconds of a whole step (batch, forward, backward, update), after the first 200. */
  readonly msPerStep: number
  /** Seconds spent in training steps, evaluation and saving excluded. */
  readonly trainSeconds: number
  readonly backend: string
  readonly checkpoint: string
  readonly samples: readonly string[]
  readonly history: History
  /** The trained model and its vocabulary (as saved in the checkpoint). */
  readonly model: Model
  readonly vocab: Vocabulary
}

/**
 * A session of the run's mode on the backend, and its step on the batch the
 * generator draws: a minibatch of examples, whole words filling the batch,
 * or windows of running text, then the step's dropout seed when the model
 * has dropout.
 */
const trainerOf = (backend: Backend, start: Start, optimizer: Optimizer, state: OptimizerState) => {
  const { settings, text } = start
  if (text !== undefined) {
    const session = backend.windowsSession(start.model, optimizer, state)
    return {
      advance: windowSteps(session, start.model, text.stream, receptiveField(start.model), settings.window, settings.batch),
      snapshot: () => session.snapshot(),
      dispose: () => session.dispose(),
    }
  }
  if (settings.mode === 'sequence') {
    const session = backend.wordsSession(start.model, optimizer, state)
    return { advance: wordSteps(session, start.model, start.trainWords, settings.batch), snapshot: () => session.snapshot(), dispose: () => session.dispose() }
  }
  const session = backend.session(start.model, optimizer, state, settings.batch)
  return { advance: exampleSteps(session, start.model, start.train!, settings.batch), snapshot: () => session.snapshot(), dispose: () => session.dispose() }
}

/** Bytes of a checkpoint of this run: its tensors, and room for the header (metadata, history, tensor entries). */
const checkpointBytes = (start: Start): number => {
  const scalars = Object.values(parameters(start.model)).reduce((n, t) => n + t.data.length, 0)
  const moments = start.optimizer.kind === 'adamw' ? 2 * parameterCount(start.model) : 0
  return 4 * (scalars + moments) + 2 ** 20
}

/** Characters of running text sampled at the end of a run per `--samples`. */
const TEXT_SAMPLE_LINE = 80

/** Steps excluded from `msPerStep` while the engine warms up. */
const WARMUP_STEPS = 200
/** Plain progress lines in a run, when stderr is not a terminal. */
const PROGRESS_LINES = 20

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Trains as the options say (each absent one takes its default; see
 * `TrainConfig`), writes the checkpoint, and sums up the run.
 */
export const train = (options: TrainOptions = {}): Effect.Effect<TrainSummary, CliError, FileSystem.FileSystem | Path.Path | BackendService> =>
  Effect.gen(function* () {
    const config = yield* decodeOptions(TrainConfig, options)
    const { value } = config
    const backend = yield* BackendService
    const out = config.given.out ?? value.resume ?? value.out
    const start = yield* startRun(config, backend.name)
    const { settings } = start
    if (start.text === undefined && start.trainWords.length === 0) return yield* Effect.fail(new DataError({ message: 'the training split has no words' }))
    // Claimed once the options are known good, before a step is taken.
    yield* claimCheckpoint(out, [value.data, value.val].filter((p) => p !== undefined))
    yield* refuseExisting(out, value.force || out === value.resume)
    yield* checkFreeSpace(out, checkpointBytes(start))
    const optimizer = optimizerFrom(start.optimizer)
    const initial = start.state ?? optimizer.init(trainableParameters(start.model))
    const cannot = (e: unknown) =>
      new UsageError({ message: `cannot train this model on --backend ${backend.name}: ${e instanceof Error ? e.message : String(e)}` })
    const trainer = yield* Effect.try({ try: () => trainerOf(backend, start, optimizer, initial), catch: cannot })
    yield* Effect.addFinalizer(() => Effect.sync(() => trainer.dispose()))
    const run: Run = {
      backend, advance: trainer.advance, snapshot: trainer.snapshot, start, out, steps: settings.steps, saveEvery: settings.saveEvery,
      evalEvery: settings.evalEvery ?? Math.max(1, Math.ceil(settings.steps / VALIDATIONS_PER_RUN)), stopAtVal: settings.stopAtVal,
      progress: progress(yield* currentTerminal, settings.steps, Math.max(1, Math.floor(settings.steps / PROGRESS_LINES))),
    }
    const state = initialState(start, out)
    const { model, trainLoss, valLoss, samples } = yield* savingOnInterrupt(run, state, Effect.gen(function* () {
      yield* loop(run, state)
      // The final validation loss (unless this step's is known) goes into the history before the checkpoint is written.
      const valLoss = state.valLoss ?? (yield* validate(run, state))
      yield* save(run, state)
      const { model } = trainer.snapshot()
      const trainLoss = start.text === undefined
        ? yield* evaluateInPieces(backend.kernels, model, start.trainWords)
        : yield* evaluateWindowsInPieces(backend.kernels, model, start.text.trainSample)
      const samples: string[] = []
      if (start.text !== undefined) {
        // On running text, one passage of --samples lines' worth of characters.
        yield* sampleTextInPieces(backend.kernels, model, start.vocab, seeded(start.seed), TEXT_SAMPLE_LINE * settings.samples, {}, (piece) =>
          Effect.sync(() => { samples.push(piece) })).pipe(Effect.orElseSucceed(() => undefined))
      } else {
        yield* sampleInPieces(backend.kernels, model, start.vocab, seeded(start.seed), settings.samples, {}, (words) =>
          Effect.sync(() => { samples.push(...words) })).pipe(Effect.orElseSucceed(() => undefined))
      }
      return { model, trainLoss, valLoss, samples }
    }))
    return {
      steps: state.step,
      parameters: parameterCount(model),
      receptiveField: receptiveField(model),
      trainLoss,
      valLoss,
      ...(start.text === undefined ? {} : { valBitsPerChar: valLoss / Math.LN2 }),
      msPerStep: median(state.times.length > WARMUP_STEPS ? state.times.slice(WARMUP_STEPS) : state.times),
      trainSeconds: state.trainMs / 1000,
      backend: backend.name,
      checkpoint: out,
      samples,
      history: state.history,
      model,
      vocab: start.vocab,
    }
  }).pipe(Effect.scoped)
