/**
 * Training as an Effect: importable, so a program can train without the CLI
 * (provide a FileSystem, a Path and a backend; see `index.ts`). The options
 * are those of `wavenet train` (`train-config.ts`), decoded and checked the
 * same way; the run starts (`train-start.ts`), loops (`train-loop.ts`), then
 * measures the model it ends with.
 */
import type { FileSystem, Path } from '@effect/platform'
import { evaluate, type History, type Model, parameterCount, receptiveField, sampleWords, seeded, trainableParameters, type Vocabulary, optimizerFrom } from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { BackendService } from './backend.js'
import { checkWritable } from './checkpoints.js'
import { type CliError, DataError, UsageError } from './errors.js'
import { decodeOptions } from './options.js'
import { progress } from './progress.js'
import { currentTerminal } from './terminal.js'
import { TrainConfig, type TrainOptions, VALIDATIONS_PER_RUN } from './train-config.js'
import { initialState, loop, type Run, save, savingOnInterrupt, validate } from './train-loop.js'
import { startRun } from './train-start.js'

export interface TrainSummary {
  readonly steps: number
  readonly parameters: number
  readonly receptiveField: number
  /** Mean cross-entropy over the whole train split, eval mode. */
  readonly trainLoss: number
  /** Mean cross-entropy over the whole validation split, eval mode. */
  readonly valLoss: number
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
    const start = yield* startRun(config)
    if (start.train.count === 0) return yield* Effect.fail(new DataError({ message: 'the training split has no examples' }))
    yield* checkWritable(out, { replace: value.force || out === value.resume })
    const optimizer = optimizerFrom(start.optimizer)
    const session = yield* Effect.try({
      try: () => backend.session(start.model, optimizer, start.state ?? optimizer.init(trainableParameters(start.model)), value.batch),
      catch: (e) => new UsageError({ message: `cannot train this model on --backend ${backend.name}: ${e instanceof Error ? e.message : String(e)}` }),
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => session.dispose()))
    const run: Run = {
      backend, session, start, out, steps: value.steps, batch: value.batch, saveEvery: value.saveEvery,
      evalEvery: value.evalEvery ?? Math.max(1, Math.ceil(value.steps / VALIDATIONS_PER_RUN)),
      progress: progress(yield* currentTerminal, value.steps, Math.max(1, Math.floor(value.steps / PROGRESS_LINES))),
    }
    const state = initialState(start)
    const { model, trainLoss, valLoss, samples } = yield* savingOnInterrupt(run, state, Effect.gen(function* () {
      yield* loop(run, state)
      // The final validation loss goes into the history before the checkpoint is written.
      const valLoss = yield* validate(run, state)
      yield* save(run, state)
      const { model } = session.snapshot()
      const trainLoss = evaluate(backend.kernels, model, start.train)
      const sampled = sampleWords(backend.kernels, model, start.vocab, seeded(start.seed), value.samples)
      return { model, trainLoss, valLoss, samples: E.isRight(sampled) ? sampled.right[0] : [] }
    }))
    return {
      steps: state.step,
      parameters: parameterCount(model),
      receptiveField: receptiveField(model),
      trainLoss,
      valLoss,
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
