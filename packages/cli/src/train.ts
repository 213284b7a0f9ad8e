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
  buildVocabulary, type Checkpoint, describeConfig, type Examples, evaluate, flatMlp, type History, MAX_PARAMETERS, MAX_RECEPTIVE_FIELD,
  minibatch, type Model, type ModelConfig, type OptimizerConfig, type OptimizerState, optimizerFrom, parameterCount, receptiveField,
  type Rng, sampleWords, scalarCount, seeded, shuffleSplit, split, tensorShapes, trainableParameters, type Vocabulary, wavenet,
} from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { type Backend, BackendService } from './backend.js'
import { checkWritable, loadCheckpoint, saveCheckpoint } from './checkpoints.js'
import { BUILTIN, builtinWords, encodeExamples, readCorpus } from './dataset.js'
import { type CliError, DataError, DivergedError, UsageError } from './errors.js'
import { eventLoopTurn } from './event-loop.js'
import { progress } from './progress.js'

export interface TrainConfig {
  /** Training words, one per line; the built-in names when absent. */
  readonly data?: string
  /** Validation words; without it the data is split 80/10/10 with the seed. */
  readonly val?: string
  /**
   * Architecture: `wavenet` (the tree; default) with its `levels` and
   * `groupSize`, or `mlp` (the flat baseline) with its `context`; `embedding`
   * and `hidden` for both. Defaults: 3, 2, 8, 24, 128. On `resume`, when
   * given, each must match the checkpoint's recipe.
   */
  readonly arch?: 'wavenet' | 'mlp'
  readonly levels?: number
  readonly groupSize?: number
  readonly context?: number
  readonly embedding?: number
  readonly hidden?: number
  /** Total steps (on `resume`, counting the steps already taken). */
  readonly steps: number
  /** Examples per step, at least 2 (batchnorm needs more than one). */
  readonly batch: number
  /**
   * The optimizer and its schedule. Defaults: sgd; lr 0.1 for sgd, 3e-3 for
   * adamw; decay by 0.1 after 0.75 of the steps; weight decay 0.01 (adamw
   * only). On `resume` they come from the checkpoint and, when given, must
   * match it.
   */
  readonly optimizer?: 'sgd' | 'adamw'
  readonly lr?: number
  readonly lrDecayAt?: number
  readonly lrDecay?: number
  readonly weightDecay?: number
  /** Seed of the initialisation, the split and the minibatches: default 42, or on `resume` the checkpoint's. */
  readonly seed?: number
  readonly evalEvery: number
  readonly saveEvery: number
  /** The checkpoint to write: default `model.safetensors`, or on `resume` the file resumed from. */
  readonly out?: string
  /** Replace an existing `out` (never needed for the file being resumed). */
  readonly force?: boolean
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
  readonly seed: number
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
const loadWords = (config: TrainConfig, seed: number) =>
  Effect.gen(function* () {
    const source = config.data ?? BUILTIN
    const corpus = config.data === undefined ? { words: builtinWords(), lines: undefined } : yield* readCorpus(config.data)
    // The data's generator is split off the seed's, which initialises the model.
    const [data] = split(seeded(seed))
    if (config.val !== undefined) {
      const val = yield* readCorpus(config.val)
      return { source, all: corpus.words, train: corpus.words, trainLines: corpus.lines, val: val.words, valLines: val.lines, rng: data }
    }
    const [parts, rng] = shuffleSplit(data, corpus.words)
    if (parts.val.length === 0) {
      return yield* Effect.fail(new DataError({
        message: `${source} has ${corpus.words.length} words, too few for a validation split: give more words, or --val FILE`,
      }))
    }
    return { source, all: corpus.words, train: parts.train, trainLines: undefined, val: parts.val, valLines: undefined, rng }
  })

const optimizerConfig = (config: TrainConfig): Effect.Effect<OptimizerConfig, UsageError> => {
  const kind = config.optimizer ?? 'sgd'
  const schedule = { totalSteps: config.steps, decayAt: config.lrDecayAt ?? 0.75, decay: config.lrDecay ?? 0.1 }
  if (kind === 'sgd') {
    if (config.weightDecay !== undefined) return Effect.fail(new UsageError({ message: '--weight-decay applies to --optimizer adamw only' }))
    return Effect.succeed({ kind, lr: config.lr ?? 0.1, ...schedule })
  }
  return Effect.succeed({ kind, lr: config.lr ?? 3e-3, ...schedule, betas: [0.9, 0.999], eps: 1e-8, weightDecay: config.weightDecay ?? 0.01 })
}

/** A usage error when a flag of one architecture is given for the other. */
const misplacedFlag = (config: TrainConfig, arch: ModelConfig['kind']): UsageError | undefined => {
  const misplaced = arch === 'wavenet'
    ? config.context === undefined ? undefined : 'context'
    : config.levels !== undefined ? 'levels' : config.groupSize !== undefined ? 'group-size' : undefined
  const owner = arch === 'wavenet' ? 'mlp' : 'wavenet'
  return misplaced === undefined ? undefined : new UsageError({ message: `--${misplaced} applies to --arch ${owner} only, not to ${arch}` })
}

const fresh = (config: TrainConfig) =>
  Effect.gen(function* () {
    const seed = config.seed ?? 42
    const arch = config.arch ?? 'wavenet'
    const misplaced = misplacedFlag(config, arch)
    if (misplaced !== undefined) return yield* Effect.fail(misplaced)
    const levels = config.levels ?? 3
    const groupSize = config.groupSize ?? 2
    const context = config.context ?? 8
    const embedding = config.embedding ?? 24
    const hidden = config.hidden ?? 128
    const field = arch === 'wavenet' ? groupSize ** levels : context
    if (field > MAX_RECEPTIVE_FIELD) {
      const flags = arch === 'wavenet' ? `--group-size ${groupSize} and --levels ${levels} give` : `--context ${context} is`
      return yield* Effect.fail(new UsageError({ message: `${flags} a context of ${field} characters, more than ${MAX_RECEPTIVE_FIELD}` }))
    }
    const words = yield* loadWords(config, seed)
    const vocab = buildVocabulary([...words.all, ...words.val])
    const recipe: ModelConfig = arch === 'wavenet'
      ? { kind: arch, vocab: vocab.symbols.length, levels, groupSize, embedding, hidden }
      : { kind: arch, vocab: vocab.symbols.length, context, embedding, hidden }
    // Counted from the description, before a tensor is allocated.
    const scalars = scalarCount(tensorShapes(describeConfig(recipe)))
    if (scalars > MAX_PARAMETERS) {
      const flags = `--embedding ${embedding}, --hidden ${hidden} and ${arch === 'wavenet' ? `--levels ${levels}` : `--context ${context}`}`
      return yield* Effect.fail(new UsageError({ message: `${flags} give ${scalars} parameters and running statistics, more than ${MAX_PARAMETERS}` }))
    }
    const model = recipe.kind === 'wavenet' ? wavenet({ ...recipe, seed }) : flatMlp({ ...recipe, seed })
    const block = receptiveField(model)
    const start: Start = {
      model, vocab, seed, step: 0, rng: words.rng, history: { train: [], val: [] }, optimizer: yield* optimizerConfig(config), state: undefined,
      train: yield* encodeExamples(vocab, words.train, block, words.source, words.trainLines),
      val: yield* encodeExamples(vocab, words.val, block, config.val ?? words.source, words.valLines),
    }
    return start
  })

/** A flag given on resume that differs from what the checkpoint recorded. */
const differs = (flag: string, given: unknown, saved: unknown): UsageError | undefined =>
  given !== undefined && given !== saved ? new UsageError({ message: `--${flag} ${String(given)} differs from the checkpoint's ${String(saved)}` }) : undefined

/** A usage error when an architecture flag contradicts the checkpoint's recipe, or there is no recipe to check it against. */
const architectureMismatch = (config: TrainConfig, recipe: ModelConfig | undefined, path: string): UsageError | undefined => {
  if (recipe === undefined) {
    const flags = { arch: config.arch, levels: config.levels, 'group-size': config.groupSize, context: config.context, embedding: config.embedding, hidden: config.hidden }
    const given = Object.entries(flags).find(([, value]) => value !== undefined)
    return given === undefined ? undefined : new UsageError({ message: `--${given[0]} cannot be checked: ${path} records no architecture (its network was composed by hand)` })
  }
  return differs('arch', config.arch, recipe.kind) ?? misplacedFlag(config, recipe.kind) ?? [
    differs('levels', config.levels, recipe.kind === 'wavenet' ? recipe.levels : undefined),
    differs('group-size', config.groupSize, recipe.kind === 'wavenet' ? recipe.groupSize : undefined),
    differs('context', config.context, recipe.kind === 'mlp' ? recipe.context : undefined),
    differs('embedding', config.embedding, recipe.embedding),
    differs('hidden', config.hidden, recipe.hidden),
  ].find((e) => e !== undefined)
}

const resumed = (config: TrainConfig, path: string) =>
  Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(path)
    const saved = checkpoint.optimizer
    if (saved === undefined) {
      return yield* Effect.fail(new UsageError({ message: `${path} has no optimizer state, so training cannot resume from it` }))
    }
    const mismatch = [
      architectureMismatch(config, checkpoint.model.config, path),
      differs('optimizer', config.optimizer, saved.config.kind),
      differs('lr', config.lr, saved.config.lr),
      differs('lr-decay-at', config.lrDecayAt, saved.config.decayAt),
      differs('lr-decay', config.lrDecay, saved.config.decay),
      differs('weight-decay', config.weightDecay, saved.config.kind === 'adamw' ? saved.config.weightDecay : undefined),
      differs('seed', config.seed, checkpoint.seed),
    ].find((e) => e !== undefined)
    if (mismatch !== undefined) return yield* Effect.fail(mismatch)
    if (config.steps <= checkpoint.step) {
      return yield* Effect.fail(new UsageError({ message: `--steps ${config.steps} is not beyond the checkpoint's step ${checkpoint.step}` }))
    }
    const seed = config.seed ?? checkpoint.seed ?? 42
    const words = yield* loadWords(config, seed)
    const block = receptiveField(checkpoint.model)
    const start: Start = {
      model: checkpoint.model, vocab: checkpoint.vocab, seed, step: checkpoint.step, rng: checkpoint.rng, history: checkpoint.history,
      // The learning-rate schedule is that of the new total.
      optimizer: { ...saved.config, totalSteps: config.steps }, state: saved.state,
      train: yield* encodeExamples(checkpoint.vocab, words.train, block, words.source, words.trainLines),
      val: yield* encodeExamples(checkpoint.vocab, words.val, block, config.val ?? words.source, words.valLines),
    }
    return start
  })

/** Trains as configured; see the module comment. */
export const train = (config: TrainConfig): Effect.Effect<TrainSummary, CliError, FileSystem.FileSystem | Path.Path | BackendService> =>
  Effect.gen(function* () {
    const backend: Backend = yield* BackendService
    if (!(config.batch >= 2)) {
      return yield* Effect.fail(new UsageError({ message: `--batch must be at least 2 (batchnorm normalises over the batch), got ${config.batch}` }))
    }
    const out = config.out ?? config.resume ?? 'model.safetensors'
    const start = config.resume === undefined ? yield* fresh(config) : yield* resumed(config, config.resume)
    if (start.train.count === 0) return yield* Effect.fail(new DataError({ message: 'the training split has no examples' }))
    yield* checkWritable(out, { replace: config.force === true || out === config.resume })
    const optimizer = optimizerFrom(start.optimizer)
    const session = yield* Effect.try({
      try: () => backend.session(start.model, optimizer, start.state ?? optimizer.init(trainableParameters(start.model)), config.batch),
      catch: (e) => new UsageError({ message: `cannot train this model on --backend ${backend.name}: ${e instanceof Error ? e.message : String(e)}` }),
    })
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
      return { model, vocab: start.vocab, seed: start.seed, step, rng, history, optimizer: { config: start.optimizer, state } }
    }
    // Uninterruptible: a Ctrl-C during a write lets it finish, so the file is always whole.
    const save = Effect.suspend(() => saveCheckpoint(out, checkpoint())).pipe(
      Effect.tap(() => Effect.sync(() => { saved = step })),
      Effect.tap(() => Effect.logDebug('checkpoint saved').pipe(Effect.annotateLogs({ step, path: out }))),
      Effect.uninterruptible,
    )
    /** The validation loss now, recorded in the history (when finite: the history holds numbers only). */
    const validate = Effect.suspend(() => {
      const loss = evaluate(backend.kernels, session.snapshot().model, start.val)
      if (Number.isFinite(loss)) history.val.push([step, loss])
      return Effect.logInfo('validation').pipe(Effect.annotateLogs({ step, valLoss: Number(loss.toFixed(4)) }), Effect.as(loss))
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
          const kept = saved === undefined ? 'no checkpoint was written' : `the last good checkpoint (${out}, step ${saved}) is untouched`
          return yield* Effect.fail(new DivergedError({ step: diverged, message: `loss is not finite at step ${diverged}: training stopped; ${kept}` }))
        }
        yield* eventLoopTurn
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
      Effect.tap(() => Effect.sync(() => process.stderr.write(`wavenet: interrupted after step ${step}; checkpoint saved to ${out}\n`))),
      Effect.catchAll((e) => Effect.sync(() => process.stderr.write(`wavenet: interrupted after step ${step}; ${e.message}\n`))),
    )
    const { model, trainLoss, valLoss, samples } = yield* Effect.gen(function* () {
      yield* loop
      // The final validation loss goes into the history before the checkpoint is written.
      const valLoss = yield* validate
      yield* save
      const { model } = session.snapshot()
      const trainLoss = evaluate(backend.kernels, model, start.train)
      const sampled = sampleWords(backend.kernels, model, start.vocab, seeded(start.seed), config.samples)
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
      checkpoint: out,
      samples,
      history,
      model,
      vocab: start.vocab,
    }
  }).pipe(Effect.scoped)
