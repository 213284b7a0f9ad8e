/**
 * Where a run starts: a fresh model built from the options, or the state a
 * checkpoint saved. Either way the data is loaded and encoded for the model,
 * and every option given is checked first: against the model-size limits of
 * `@wavenet/core` for a fresh run, against the checkpoint's recipe, optimizer
 * and seed on resume.
 */
import type { FileSystem } from '@effect/platform'
import {
  ADAMW_DEFAULTS, buildVocabulary, describeConfig, type Examples, flatMlp, type History, MAX_PARAMETERS, MAX_RECEPTIVE_FIELD, type Model,
  type ModelConfig, type OptimizerConfig, type OptimizerState, receptiveField, type Rng, scalarCount, seeded, shuffleSplit, split, tensorShapes,
  type TrainingMode, type Vocabulary, wavenet,
} from '@wavenet/core'
import { Effect } from 'effect'
import { loadCheckpoint } from './checkpoints.js'
import { BUILTIN, builtinWords, encodeExamples, encodeWords, readCorpus } from './dataset.js'
import { type CliError, DataError, UsageError } from './errors.js'
import type { Decoded } from './options.js'
import { inMode, LEARNING_RATES, type RunSettings, type TrainSettings } from './train-config.js'

/** Everything a run starts from. */
export interface Start {
  readonly model: Model
  readonly vocab: Vocabulary
  readonly seed: number
  readonly step: number
  readonly rng: Rng
  readonly history: History
  readonly optimizer: OptimizerConfig
  /** The optimizer state to continue from; `undefined` for a fresh run. */
  readonly state: OptimizerState | undefined
  /** The options, each absent one the run's mode's recipe. */
  readonly settings: RunSettings
  /** Each split's words as token ids: what evaluation and sequence-mode training read. */
  readonly trainWords: readonly Int32Array[]
  readonly valWords: readonly Int32Array[]
  /** The training split's (context, next character) examples, in example mode. */
  readonly train: Examples | undefined
}

type Config = Decoded<TrainSettings>

/**
 * Words for training and validation, the generator after any split, and each
 * list's line numbers when it is a file in its own order (not shuffled).
 */
const loadWords = (options: TrainSettings, seed: number) =>
  Effect.gen(function* () {
    const source = options.data ?? BUILTIN
    const corpus = options.data === undefined ? { words: builtinWords(), lines: undefined } : yield* readCorpus(options.data)
    // The data's generator is split off the seed's, which initialises the model.
    const [data] = split(seeded(seed))
    if (options.val !== undefined) {
      const val = yield* readCorpus(options.val)
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

/**
 * The words of both splits as token ids, and in example mode the training
 * split's examples for a model that sees `block` characters. In sequence
 * mode a batch of `batch` outputs must hold the longest training word.
 */
const encodeSplits = (settings: RunSettings, vocab: Vocabulary, block: number, words: Effect.Effect.Success<ReturnType<typeof loadWords>>) =>
  Effect.gen(function* () {
    const trainWords = yield* encodeWords(vocab, words.train, words.source, words.trainLines)
    const valWords = yield* encodeWords(vocab, words.val, settings.val ?? words.source, words.valLines)
    if (settings.mode === 'sequence') {
      const longest = trainWords.reduce((n, w) => Math.max(n, w.length), 0)
      if (longest + 1 > settings.batch) {
        return yield* Effect.fail(new UsageError({
          message: `--batch ${settings.batch} cannot hold the longest training word (${longest} characters, ${longest + 1} outputs) in sequence mode`,
        }))
      }
      return { trainWords, valWords, train: undefined }
    }
    return { trainWords, valWords, train: yield* encodeExamples(vocab, words.train, block, words.source, words.trainLines) }
  })

const optimizerConfig = (settings: RunSettings, given: Partial<TrainSettings>): Effect.Effect<OptimizerConfig, UsageError> => {
  const schedule = { totalSteps: settings.steps, decayAt: settings.lrDecayAt, decay: settings.lrDecay, shape: settings.lrSchedule }
  const lr = settings.lr ?? LEARNING_RATES[settings.optimizer]
  if (settings.optimizer === 'sgd') {
    if (given.weightDecay !== undefined) return Effect.fail(new UsageError({ message: '--weight-decay applies to --optimizer adamw only' }))
    return Effect.succeed({ kind: 'sgd', lr, ...schedule })
  }
  return Effect.succeed({ kind: 'adamw', lr, ...schedule, betas: ADAMW_DEFAULTS.betas, eps: ADAMW_DEFAULTS.eps, weightDecay: settings.weightDecay })
}

/** A usage error when a flag of one architecture is given for the other. */
const misplacedFlag = (given: Partial<TrainSettings>, arch: ModelConfig['kind']): UsageError | undefined => {
  const misplaced = arch === 'wavenet'
    ? given.context === undefined ? undefined : 'context'
    : given.levels !== undefined ? 'levels' : given.groupSize !== undefined ? 'group-size' : undefined
  const owner = arch === 'wavenet' ? 'mlp' : 'wavenet'
  return misplaced === undefined ? undefined : new UsageError({ message: `--${misplaced} applies to --arch ${owner} only, not to ${arch}` })
}

/** A fresh model as the options describe it, refused before anything is allocated when it is beyond core's limits. */
const fresh = (config: Config) =>
  Effect.gen(function* () {
    const settings = inMode(config.value, config.value.mode)
    const { arch, levels, groupSize, context, embedding, hidden, seed } = settings
    const misplaced = misplacedFlag(config.given, arch)
    if (misplaced !== undefined) return yield* Effect.fail(misplaced)
    const field = arch === 'wavenet' ? groupSize ** levels : context
    if (field > MAX_RECEPTIVE_FIELD) {
      const flags = arch === 'wavenet' ? `--group-size ${groupSize} and --levels ${levels} give` : `--context ${context} is`
      return yield* Effect.fail(new UsageError({ message: `${flags} a context of ${field} characters, more than ${MAX_RECEPTIVE_FIELD}` }))
    }
    const optimizer = yield* optimizerConfig(settings, config.given)
    const words = yield* loadWords(settings, seed)
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
    const start: Start = {
      model, vocab, seed, step: 0, rng: words.rng, history: { train: [], val: [] }, optimizer, state: undefined, settings,
      ...yield* encodeSplits(settings, vocab, receptiveField(model), words),
    }
    return start
  })

/** A flag given on resume that differs from what the checkpoint recorded. */
const differs = (flag: string, given: unknown, saved: unknown): UsageError | undefined =>
  given !== undefined && given !== saved ? new UsageError({ message: `--${flag} ${String(given)} differs from the checkpoint's ${String(saved)}` }) : undefined

/** A usage error when an architecture flag contradicts the checkpoint's recipe, or there is no recipe to check it against. */
const architectureMismatch = (given: Partial<TrainSettings>, recipe: ModelConfig | undefined, path: string): UsageError | undefined => {
  if (recipe === undefined) {
    const flags = { arch: given.arch, levels: given.levels, 'group-size': given.groupSize, context: given.context, embedding: given.embedding, hidden: given.hidden }
    const named = Object.entries(flags).find(([, value]) => value !== undefined)
    return named === undefined ? undefined : new UsageError({ message: `--${named[0]} cannot be checked: ${path} records no architecture (its network was composed by hand)` })
  }
  return differs('arch', given.arch, recipe.kind) ?? misplacedFlag(given, recipe.kind) ?? [
    differs('levels', given.levels, recipe.kind === 'wavenet' ? recipe.levels : undefined),
    differs('group-size', given.groupSize, recipe.kind === 'wavenet' ? recipe.groupSize : undefined),
    differs('context', given.context, recipe.kind === 'mlp' ? recipe.context : undefined),
    differs('embedding', given.embedding, recipe.embedding),
    differs('hidden', given.hidden, recipe.hidden),
  ].find((e) => e !== undefined)
}

/** The run a checkpoint saved, continued to `--steps` in total: options given must agree with it. */
const resumed = ({ value, given }: Config, path: string) =>
  Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(path)
    const saved = checkpoint.optimizer
    if (saved === undefined) {
      return yield* Effect.fail(new UsageError({ message: `${path} has no optimizer state, so training cannot resume from it` }))
    }
    const mode: TrainingMode = checkpoint.mode ?? 'example'
    const settings = inMode(value, mode)
    const mismatch = [
      differs('mode', given.mode, mode),
      architectureMismatch(given, checkpoint.model.config, path),
      differs('optimizer', given.optimizer, saved.config.kind),
      differs('lr-schedule', given.lrSchedule, saved.config.shape ?? 'step'),
      differs('lr', given.lr, saved.config.lr),
      differs('lr-decay-at', given.lrDecayAt, saved.config.decayAt),
      differs('lr-decay', given.lrDecay, saved.config.decay),
      differs('weight-decay', given.weightDecay, saved.config.kind === 'adamw' ? saved.config.weightDecay : undefined),
      differs('seed', given.seed, checkpoint.seed),
    ].find((e) => e !== undefined)
    if (mismatch !== undefined) return yield* Effect.fail(mismatch)
    if (settings.steps <= checkpoint.step) {
      return yield* Effect.fail(new UsageError({ message: `--steps ${settings.steps} is not beyond the checkpoint's step ${checkpoint.step}` }))
    }
    // A checkpoint from before seeds were recorded resumes with the default seed, as it was trained.
    const seed = checkpoint.seed ?? value.seed
    const words = yield* loadWords(settings, seed)
    const start: Start = {
      model: checkpoint.model, vocab: checkpoint.vocab, seed, step: checkpoint.step, rng: checkpoint.rng, history: checkpoint.history,
      // The learning-rate schedule is that of the new total.
      optimizer: { ...saved.config, totalSteps: settings.steps }, state: saved.state, settings,
      ...yield* encodeSplits(settings, checkpoint.vocab, receptiveField(checkpoint.model), words),
    }
    return start
  })

/** The start of a run: `--resume`'s checkpoint, or a fresh model. */
export const startRun = (config: Config): Effect.Effect<Start, CliError, FileSystem.FileSystem> =>
  config.value.resume === undefined ? fresh(config) : resumed(config, config.value.resume)
