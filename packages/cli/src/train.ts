/**
 * The training loop as an Effect: importable, so a program can train without
 * the CLI (provide a FileSystem, a Path and a backend; see `index.ts`).
 *
 * Minibatches come from the seeded generator; each step is batch, forward,
 * backward, update. Every `evalEvery` steps the validation loss is logged;
 * every `saveEvery` steps and at the end a checkpoint is written atomically.
 * Interrupted (Ctrl-C, SIGTERM), the loop writes a checkpoint of the last
 * completed step before it stops. A loss that is not finite stops training
 * with an error naming the step and leaves the last good checkpoint in place.
 */
import type { FileSystem, Path } from '@effect/platform'
import {
  buildVocabulary, type Checkpoint, type Examples, evaluate, type History, minibatch, type Model, type OptimizerConfig, type OptimizerState,
  optimizerFrom, parameterCount, receptiveField, type Rng, sampleWords, seeded, shuffleSplit, trainableParameters,
  type Vocabulary, wavenet,
} from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { type Backend, BackendService } from './backend.js'
import { loadCheckpoint, saveCheckpoint } from './checkpoints.js'
import { BUILTIN, builtinWords, encodeExamples, readCorpus } from './dataset.js'
import { type CliError, DataError, DivergedError, UsageError } from './errors.js'
import { progress } from './progress.js'

export interface TrainConfig {
  /** Training words, one per line; the built-in names when absent. */
  readonly data?: string
  /** Validation words; without it the data is split 80/10/10 with the seed. */
  readonly val?: string
  /** Architecture; on `resume`, when given, it must match the checkpoint. Defaults: 3, 2, 24, 128. */
  readonly levels?: number
  readonly groupSize?: number
  readonly embedding?: number
  readonly hidden?: number
  /** Total steps (on `resume`, counting the steps already taken). */
  readonly steps: number
  readonly batch: number
  /** Defaults: sgd; lr 0.1 for sgd and 3e-3 for adamw. */
  readonly optimizer?: 'sgd' | 'adamw'
  readonly lr?: number
  readonly lrDecayAt: number
  readonly lrDecay: number
  /** AdamW only (default 0.01). */
  readonly weightDecay?: number
  readonly seed: number
  readonly evalEvery: number
  readonly saveEvery: number
  readonly out: string
  readonly resume?: string
  /** Words sampled at the end. */
  readonly samples: number
}

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

/** Steps run between two checks for interruption and progress updates, at most (about 50 ms). */
const CHUNK_MS = 50
/** Steps excluded from `msPerStep` while the engine warms up. */
const WARMUP_STEPS = 200
/** Points of the training-loss history. */
const HISTORY_POINTS = 200
/** Plain progress lines in a run, when stderr is not a terminal. */
const PROGRESS_LINES = 20

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Start {
  readonly model: Model
  readonly vocab: Vocabulary
  readonly step: number
  readonly rng: Rng
  readonly history: History
  readonly optimizer: OptimizerConfig
  /** The optimizer state to continue from; `undefined` for a fresh run. */
  readonly state: OptimizerState | undefined
  readonly train: Examples
  readonly val: Examples
}

/**
 * Words for training and validation, the generator after any split, and each
 * list's line numbers when it is a file in its own order (not shuffled).
 */
const loadWords = (config: TrainConfig) =>
  Effect.gen(function* () {
    const source = config.data ?? BUILTIN
    const corpus = config.data === undefined ? { words: builtinWords(), lines: undefined } : yield* readCorpus(config.data)
    if (config.val !== undefined) {
      const val = yield* readCorpus(config.val)
      return { source, all: corpus.words, train: corpus.words, trainLines: corpus.lines, val: val.words, valLines: val.lines, rng: seeded(config.seed) }
    }
    const [split, rng] = shuffleSplit(seeded(config.seed), corpus.words)
    return { source, all: corpus.words, train: split.train, trainLines: undefined, val: split.val, valLines: undefined, rng }
  })

const optimizerConfig = (config: TrainConfig): Effect.Effect<OptimizerConfig, UsageError> => {
  const kind = config.optimizer ?? 'sgd'
  const schedule = { totalSteps: config.steps, decayAt: config.lrDecayAt, decay: config.lrDecay }
  if (kind === 'sgd') {
    if (config.weightDecay !== undefined) return Effect.fail(new UsageError({ message: '--weight-decay applies to --optimizer adamw only' }))
    return Effect.succeed({ kind, lr: config.lr ?? 0.1, ...schedule })
  }
  return Effect.succeed({ kind, lr: config.lr ?? 3e-3, ...schedule, betas: [0.9, 0.999], eps: 1e-8, weightDecay: config.weightDecay ?? 0.01 })
}

const fresh = (config: TrainConfig) =>
  Effect.gen(function* () {
    const words = yield* loadWords(config)
    const levels = config.levels ?? 3
    const groupSize = config.groupSize ?? 2
    const vocab = buildVocabulary([...words.all, ...words.val])
    const model = wavenet({
      vocab: vocab.symbols.length, levels, groupSize, embedding: config.embedding ?? 24, hidden: config.hidden ?? 128, seed: config.seed,
    })
    const block = receptiveField(model)
    const start: Start = {
      model, vocab, step: 0, rng: words.rng, history: { train: [], val: [] }, optimizer: yield* optimizerConfig(config), state: undefined,
      train: yield* encodeExamples(vocab, words.train, block, words.source, words.trainLines),
      val: yield* encodeExamples(vocab, words.val, block, config.val ?? words.source, words.valLines),
    }
    return start
  })

const resumed = (config: TrainConfig, path: string) =>
  Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(path)
    if (checkpoint.optimizer === undefined) {
      return yield* Effect.fail(new UsageError({ message: `${path} has no optimizer state, so training cannot resume from it` }))
    }
    const model = checkpoint.model.config
    const given = { levels: config.levels, groupSize: config.groupSize, embedding: config.embedding, hidden: config.hidden }
    for (const [flag, value] of Object.entries(given)) {
      const saved = (model as unknown as Record<string, unknown>)[flag]
      if (value !== undefined && value !== saved) {
        return yield* Effect.fail(new UsageError({ message: `--${flag === 'groupSize' ? 'group-size' : flag} ${value} differs from the checkpoint's ${String(saved)}` }))
      }
    }
    if (config.optimizer !== undefined && config.optimizer !== checkpoint.optimizer.config.kind) {
      return yield* Effect.fail(new UsageError({ message: `--optimizer ${config.optimizer} differs from the checkpoint's ${checkpoint.optimizer.config.kind}` }))
    }
    if (config.steps <= checkpoint.step) {
      return yield* Effect.fail(new UsageError({ message: `--steps ${config.steps} is not beyond the checkpoint's step ${checkpoint.step}` }))
    }
    const words = yield* loadWords(config)
    const block = receptiveField(checkpoint.model)
    const start: Start = {
      model: checkpoint.model, vocab: checkpoint.vocab, step: checkpoint.step, rng: checkpoint.rng, history: checkpoint.history,
      // The learning-rate schedule is that of the new total.
      optimizer: { ...checkpoint.optimizer.config, totalSteps: config.steps }, state: checkpoint.optimizer.state,
      train: yield* encodeExamples(checkpoint.vocab, words.train, block, words.source, words.trainLines),
      val: yield* encodeExamples(checkpoint.vocab, words.val, block, config.val ?? words.source, words.valLines),
    }
    return start
  })

/** Trains as configured; see the module comment. */
export const train = (config: TrainConfig): Effect.Effect<TrainSummary, CliError, FileSystem.FileSystem | Path.Path | BackendService> =>
  Effect.gen(function* () {
    const backend: Backend = yield* BackendService
    const start = config.resume === undefined ? yield* fresh(config) : yield* resumed(config, config.resume)
    if (start.train.count === 0) return yield* Effect.fail(new DataError({ message: 'the training split has no examples' }))
    const optimizer = optimizerFrom(start.optimizer)
    const session = backend.session(start.model, optimizer, start.state ?? optimizer.init(trainableParameters(start.model)), config.batch)
    yield* Effect.addFinalizer(() => Effect.sync(() => session.dispose()))

    let step = start.step
    let rng = start.rng
    let saved: number | undefined
    const history = { train: [...start.history.train], val: [...start.history.val] }
    const times: number[] = []
    let trainMs = 0
    let intervalLoss = 0
    let intervalSteps = 0
    const logEvery = Math.max(1, Math.floor(config.steps / HISTORY_POINTS))
    const report = progress(config.steps, Math.max(1, Math.floor(config.steps / PROGRESS_LINES)))

    const checkpoint = (): Checkpoint => {
      const { model, state } = session.snapshot()
      return { model, vocab: start.vocab, step, rng, history, optimizer: { config: start.optimizer, state } }
    }
    // Uninterruptible: a Ctrl-C during a write lets it finish, so the file is always whole.
    const save = Effect.suspend(() => saveCheckpoint(config.out, checkpoint())).pipe(
      Effect.tap(() => Effect.sync(() => { saved = step })),
      Effect.tap(() => Effect.logDebug('checkpoint saved').pipe(Effect.annotateLogs({ step, path: config.out }))),
      Effect.uninterruptible,
    )
    const validate = Effect.suspend(() => {
      const loss = evaluate(backend.kernels, session.snapshot().model, start.val, { perChunk: backend.scratch })
      history.val.push([step, loss])
      return Effect.logInfo('validation').pipe(Effect.annotateLogs({ step, valLoss: Number(loss.toFixed(4)) }))
    })

    /** Runs steps until the chunk's time is up or a boundary (log, eval, save, end) is reached. */
    const chunk = (): number | undefined => {
      const began = performance.now()
      do {
        const t0 = performance.now()
        const [batch, next] = minibatch(rng, start.train, config.batch)
        const loss = session.step(batch)
        times.push(performance.now() - t0)
        if (!Number.isFinite(loss)) return step + 1
        rng = next
        step++
        intervalLoss += loss
        intervalSteps++
        if (step % logEvery === 0 || step === config.steps) {
          history.train.push([step, intervalLoss / intervalSteps])
          intervalLoss = 0
          intervalSteps = 0
        }
      } while (step < config.steps && step % logEvery !== 0 && step % config.evalEvery !== 0 && step % config.saveEvery !== 0 &&
        performance.now() - began < CHUNK_MS)
      trainMs += performance.now() - began
      return undefined
    }

    const loop = Effect.gen(function* () {
      while (step < config.steps) {
        const before = step
        const began = performance.now()
        const diverged = chunk()
        if (diverged !== undefined) {
          yield* report.done()
          const kept = saved === undefined ? 'no checkpoint was written' : `the last good checkpoint (${config.out}, step ${saved}) is untouched`
          return yield* Effect.fail(new DivergedError({ step: diverged, message: `loss is not finite at step ${diverged}: training stopped; ${kept}` }))
        }
        // Hands the event loop a turn (a macrotask: Effect's own yields are mostly microtasks,
        // which never let Node deliver a signal), so a Ctrl-C that arrived during the chunk is seen now.
        yield* Effect.async<void>((resume) => { setImmediate(() => resume(Effect.void)) })
        const latest = intervalSteps > 0 ? intervalLoss / intervalSteps : history.train[history.train.length - 1]?.[1] ?? Number.NaN
        yield* report.update(step, latest, (step - before) / Math.max((performance.now() - began) / 1000, 1e-9))
        if (step % config.evalEvery === 0 && step < config.steps) yield* validate
        if (step % config.saveEvery === 0 && step < config.steps) yield* save
      }
      yield* report.done()
    })

    // Interrupted anywhere from here on, the last completed step is saved (unless it already
    // is) and the user is told where.
    const onInterrupt = report.done().pipe(
      Effect.zipRight(Effect.suspend(() => (saved === step ? Effect.void : save))),
      Effect.tap(() => Effect.sync(() => process.stderr.write(`wavenet: interrupted after step ${step}; checkpoint saved to ${config.out}\n`))),
      Effect.catchAll((e) => Effect.sync(() => process.stderr.write(`wavenet: interrupted after step ${step}; ${e.message}\n`))),
    )
    const { model, trainLoss, valLoss, samples } = yield* Effect.gen(function* () {
      yield* loop
      yield* save
      const { model } = session.snapshot()
      const trainLoss = evaluate(backend.kernels, model, start.train, { perChunk: backend.scratch })
      const valLoss = evaluate(backend.kernels, model, start.val, { perChunk: backend.scratch })
      const sampled = backend.scratch(() => sampleWords(backend.kernels, model, start.vocab, seeded(config.seed), config.samples))
      return { model, trainLoss, valLoss, samples: E.isRight(sampled) ? sampled.right[0] : [] }
    }).pipe(Effect.onInterrupt(() => onInterrupt))
    return {
      steps: step,
      parameters: parameterCount(model),
      receptiveField: receptiveField(model),
      trainLoss,
      valLoss,
      msPerStep: median(times.length > WARMUP_STEPS ? times.slice(WARMUP_STEPS) : times),
      trainSeconds: trainMs / 1000,
      backend: backend.name,
      checkpoint: config.out,
      samples,
      history,
      model,
      vocab: start.vocab,
    }
  }).pipe(Effect.scoped)
