/**
 * Where a run starts: a fresh model built from the options, or the state a
 * checkpoint saved. Either way the data is loaded and encoded for the model,
 * and every option given is checked first: against the model-size limits of
 * `@wavenet/core` for a fresh run, against the checkpoint's recipe, optimizer
 * and seed on resume.
 */
import { createHash } from 'node:crypto'
import type { FileSystem } from '@effect/platform'
import {
  buildVocabulary, dataDigest, dataGenerator, describeConfig, digestText, documentWindows, type Examples, flatMlp, type History, MAX_PARAMETERS,
  MAX_RECEPTIVE_FIELD, type Model, type ModelConfig, type OptimizerConfig, optimizerConfig as configure, type OptimizerState, parameters,
  receptiveField, type Rng, scalarCount, splitDocuments, splitRunWords, tensorShapes, textStream, type TrainingMode, type TrainingRecord,
  type Vocabulary, wavenet, windowAt, type WindowBatch,
} from '@wavenet/core'
import { Effect } from 'effect'
import { loadCheckpoint } from './checkpoints.js'
import {
  BUILTIN, BUILTIN_TEXT, builtinTextFolder, builtinWords, type Documents, encodeDocuments, encodeExamples, encodeWords, readCorpus, readDocuments,
} from './dataset.js'
import { type CliError, DataError, UsageError } from './errors.js'
import { checkContexts, checkTrainingMemory } from './footprint.js'
import type { Decoded } from './options.js'
import { formatOf, inMode, type RunSettings, type TrainSettings } from './train-config.js'

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
  /** Running text: the training stream, the validation documents and a fixed sample of training windows. */
  readonly text: TextData | undefined
  /** A digest of both splits' words, recorded in checkpoints so that a resume on other data is noticed. */
  readonly data: string
}

type Config = Decoded<TrainSettings>

/** What a run on running text trains and evaluates on. */
export interface TextData {
  /** The training documents end to end, each after R boundary tokens (`textStream`): where windows are drawn. */
  readonly stream: Int32Array
  /** The validation documents, evaluated every character once. */
  readonly val: readonly Int32Array[]
  /** Windows of at least `TRAIN_SAMPLE_CHARS` training characters at fixed places (or every training character): the train loss. */
  readonly trainSample: readonly WindowBatch[]
}

/** Characters of the training split the train loss of a run on running text is measured on, at least (or all of them). */
export const TRAIN_SAMPLE_CHARS = 100_000

/** Targets of a window of the train loss's sample. */
const SAMPLE_WINDOW = 1024

/** The train loss's sample: every training character when there are few, else windows of `SAMPLE_WINDOW` spread evenly over the stream. */
const trainSample = (documents: readonly Int32Array[], stream: Int32Array, field: number): readonly WindowBatch[] => {
  const chars = documents.reduce((n, d) => n + d.length, 0)
  if (chars <= TRAIN_SAMPLE_CHARS + SAMPLE_WINDOW) return [...documentWindows(documents, field, SAMPLE_WINDOW)]
  const count = Math.ceil(TRAIN_SAMPLE_CHARS / SAMPLE_WINDOW)
  const span = stream.length - field - SAMPLE_WINDOW
  return Array.from({ length: count }, (_, i) => windowAt(stream, field, field + Math.floor((i * span) / (count - 1)), SAMPLE_WINDOW))
}

/** Documents of running text for training and validation (split by `splitDocuments` unless --val names them), and a digest of both. */
const loadDocuments = (options: RunSettings, seed: number) =>
  Effect.gen(function* () {
    const source = options.data ?? BUILTIN_TEXT
    const all = options.data === undefined ? yield* readDocuments(builtinTextFolder(), true) : yield* readDocuments(options.data)
    // The windows' generator is the data generator of the seed, as for words.
    const rng = dataGenerator(seed)
    const named = (texts: readonly string[], name: string): Documents => ({ names: texts.map(() => name), texts })
    if (options.val !== undefined) {
      const val = yield* readDocuments(options.val)
      return { kind: 'text' as const, source, text: [...all.texts, ...val.texts], train: all, val, rng, digest: digest(all.texts, val.texts) }
    }
    const parts = splitDocuments(all.texts)
    if (parts.val.length === 0) {
      return yield* Effect.fail(new DataError({ message: `${source} is too short for a validation split: give more text, or --val FILE` }))
    }
    return {
      kind: 'text' as const, source, text: all.texts, train: named(parts.train, source), val: named(parts.val, source), rng, digest: digest(parts.train, parts.val),
    }
  })

/** The encoded documents of a run on running text, for a model that sees `field` characters; refused when a window does not fit in the training text. */
const encodeText = (settings: RunSettings, vocab: Vocabulary, field: number, documents: Effect.Effect.Success<ReturnType<typeof loadDocuments>>) =>
  Effect.gen(function* () {
    const train = yield* encodeDocuments(vocab, documents.train)
    const val = yield* encodeDocuments(vocab, documents.val)
    const stream = textStream(train, field)
    if (stream.length <= field - 1 + settings.window) {
      return yield* Effect.fail(new UsageError({
        message: `--window ${settings.window} with a context of ${field} characters needs more than ${field - 1 + settings.window} tokens of training text; ${documents.source} gives ${stream.length}`,
      }))
    }
    const text: TextData = { stream, val, trainSample: trainSample(train, stream, field) }
    return { trainWords: [], valWords: [], train: undefined, text }
  })

/** A digest of a run's training and validation words: 16 hexadecimal digits of their SHA-256. */
const digest = (train: readonly string[], val: readonly string[]): string =>
  dataDigest(createHash('sha256').update(digestText(train, val)).digest())

/**
 * Words for training and validation, the generator after any split, and each
 * list's line numbers when it is a file in its own order (not shuffled).
 */
const loadWords = (options: RunSettings, seed: number) =>
  Effect.gen(function* () {
    const source = options.data ?? BUILTIN
    const corpus = options.data === undefined ? { words: builtinWords(), lines: undefined } : yield* readCorpus(options.data)
    if (options.val !== undefined) {
      const val = yield* readCorpus(options.val)
      return {
        kind: 'words' as const, source, text: [...corpus.words, ...val.words], train: corpus.words, trainLines: corpus.lines, val: val.words, valLines: val.lines,
        rng: dataGenerator(seed), digest: digest(corpus.words, val.words),
      }
    }
    const [parts, rng] = splitRunWords(seed, corpus.words)
    if (parts.val.length === 0) {
      return yield* Effect.fail(new DataError({
        message: `${source} has ${corpus.words.length} words, too few for a validation split: give more words, or --val FILE`,
      }))
    }
    return {
      kind: 'words' as const, source, text: corpus.words, train: parts.train, trainLines: undefined, val: parts.val, valLines: undefined, rng,
      digest: digest(parts.train, parts.val),
    }
  })

/**
 * The words of both splits as token ids, and in example mode the training
 * split's examples for a model that sees `block` characters (refused before
 * they are allocated when they would not fit; `context` says what sets the
 * context, for the error). In sequence mode a batch of `batch` outputs must
 * hold the longest training word.
 */
const encodeSplits = (
  settings: RunSettings, vocab: Vocabulary, block: number, context: string, words: Effect.Effect.Success<ReturnType<typeof loadWords>>,
) =>
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
      return { trainWords, valWords, train: undefined, text: undefined }
    }
    const tooLong = checkContexts(trainWords.reduce((n, w) => n + w.length + 1, 0), block, context)
    if (tooLong !== undefined) return yield* Effect.fail(tooLong)
    return { trainWords, valWords, train: yield* encodeExamples(vocab, words.train, block, words.source, words.trainLines), text: undefined }
  })

/** The run's data encoded for its model: words (and examples), or running text. */
const encodeData = (
  settings: RunSettings, vocab: Vocabulary, field: number, context: string,
  data: Effect.Effect.Success<ReturnType<typeof loadWords>> | Effect.Effect.Success<ReturnType<typeof loadDocuments>>,
) => (data.kind === 'text' ? encodeText(settings, vocab, field, data) : encodeSplits(settings, vocab, field, context, data))

const optimizerConfig = (settings: RunSettings, given: Partial<TrainSettings>): Effect.Effect<OptimizerConfig, UsageError> => {
  if (settings.optimizer === 'sgd' && given.weightDecay !== undefined) {
    return Effect.fail(new UsageError({ message: '--weight-decay applies to --optimizer adamw only' }))
  }
  return Effect.succeed(configure(settings))
}

/** A usage error when a flag of one architecture is given for the other. */
const misplacedFlag = (given: Partial<TrainSettings>, arch: ModelConfig['kind']): UsageError | undefined => {
  const misplaced = arch === 'wavenet'
    ? given.context === undefined ? undefined : 'context'
    : given.levels !== undefined ? 'levels' : given.groupSize !== undefined ? 'group-size'
    : given.residual === true ? 'residual' : given.skip === true ? 'skip' : (given.dropout ?? 0) > 0 ? 'dropout' : undefined
  const owner = arch === 'wavenet' ? 'mlp' : 'wavenet'
  return misplaced === undefined ? undefined : new UsageError({ message: `--${misplaced} applies to --arch ${owner} only, not to ${arch}` })
}

/** A fresh model as the options describe it, refused before anything is allocated when it is beyond core's limits. */
const fresh = (config: Config) =>
  Effect.gen(function* () {
    const format = formatOf(config.value)
    if (format === 'text' && config.given.mode === 'example') {
      return yield* Effect.fail(new UsageError({ message: '--format text trains on windows in the sequence view: --mode example does not apply' }))
    }
    if (format === 'words' && config.value.data === undefined && config.value.dataset === 'sotu') {
      return yield* Effect.fail(new UsageError({ message: '--dataset sotu is running text: --format words does not apply' }))
    }
    const settings = inMode(config.value, format === 'text' ? 'text' : config.value.mode)
    const { arch, levels, groupSize, context, embedding, hidden, residual, skip, dropout, seed } = settings
    const misplaced = misplacedFlag(config.given, arch)
    if (misplaced !== undefined) return yield* Effect.fail(misplaced)
    const field = arch === 'wavenet' ? groupSize ** levels : context
    const contextFlags = arch === 'wavenet' ? `--group-size ${groupSize} and --levels ${levels} give` : `--context ${context} gives`
    if (field > MAX_RECEPTIVE_FIELD) {
      return yield* Effect.fail(new UsageError({ message: `${contextFlags} a context of ${field} characters, more than ${MAX_RECEPTIVE_FIELD}` }))
    }
    const optimizer = yield* optimizerConfig(settings, config.given)
    const data = settings.mode === 'text' ? yield* loadDocuments(settings, seed) : yield* loadWords(settings, seed)
    const vocab = buildVocabulary(data.text)
    const recipe: ModelConfig = arch === 'wavenet'
      ? {
        kind: arch, vocab: vocab.symbols.length, levels, groupSize, embedding, hidden,
        ...(residual ? { residual } : {}), ...(skip ? { skip } : {}), ...(dropout > 0 ? { dropout } : {}),
      }
      : { kind: arch, vocab: vocab.symbols.length, context, embedding, hidden }
    // Counted from the description, before a tensor is allocated.
    const scalars = scalarCount(tensorShapes(describeConfig(recipe)))
    if (scalars > MAX_PARAMETERS) {
      const flags = `--embedding ${embedding}, --hidden ${hidden} and ${arch === 'wavenet' ? `--levels ${levels}` : `--context ${context}`}`
      return yield* Effect.fail(new UsageError({ message: `${flags} give ${scalars} parameters and running statistics, more than ${MAX_PARAMETERS}` }))
    }
    const tooLarge = checkTrainingMemory(scalars, optimizer.kind === 'adamw' ? 2 : 0, recipe, settings.mode, settings.batch, settings.window)
    if (tooLarge !== undefined) return yield* Effect.fail(tooLarge)
    const model = recipe.kind === 'wavenet' ? wavenet({ ...recipe, seed }) : flatMlp({ ...recipe, seed })
    const start: Start = {
      model, vocab, seed, step: 0, rng: data.rng, history: { train: [], val: [] }, optimizer, state: undefined, settings, data: data.digest,
      ...yield* encodeData(settings, vocab, receptiveField(model), contextFlags, data),
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
    differs('residual', given.residual, recipe.kind === 'wavenet' ? recipe.residual === true : undefined),
    differs('skip', given.skip, recipe.kind === 'wavenet' ? recipe.skip === true : undefined),
    differs('dropout', given.dropout, recipe.kind === 'wavenet' ? recipe.dropout ?? 0 : undefined),
    differs('context', given.context, recipe.kind === 'mlp' ? recipe.context : undefined),
    differs('embedding', given.embedding, recipe.embedding),
    differs('hidden', given.hidden, recipe.hidden),
  ].find((e) => e !== undefined)
}

/**
 * What a resume changes that an uninterrupted run would not have: another
 * batch, other words, another backend (each computes other bits), as
 * recorded in the checkpoint (older files record none of them).
 */
const changes = (record: TrainingRecord | undefined, batch: number, data: string, source: string, backend: string): readonly string[] =>
  record === undefined ? [] : [
    batch === record.batch ? undefined : `--batch ${batch} differs from the checkpoint's ${record.batch}`,
    data === record.data ? undefined : `the words of ${source} differ from those the checkpoint trained on`,
    backend === record.backend ? undefined : `--backend ${backend} differs from the checkpoint's ${record.backend}`,
  ].filter((change) => change !== undefined)

/**
 * The run a checkpoint saved, continued to `--steps` in total on `backend`:
 * options given must agree with it. Another batch, other data or another
 * backend would make it differ from an uninterrupted run: refused unless
 * `--force`, and said either way.
 */
const resumed = ({ value, given }: Config, path: string, backend: string) =>
  Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(path)
    const saved = checkpoint.optimizer
    if (saved === undefined) {
      return yield* Effect.fail(new UsageError({ message: `${path} has no optimizer state, so training cannot resume from it` }))
    }
    const mode: TrainingMode = checkpoint.mode ?? 'example'
    const record = checkpoint.training
    // The batch and the window, when not given, are the checkpoint's.
    const recorded = { ...value, ...(given.batch === undefined && record !== undefined ? { batch: record.batch } : {}),
      ...(given.window === undefined && record?.window !== undefined ? { window: record.window } : {}) }
    const settings = inMode(recorded, mode)
    const mismatch = [
      differs('format', given.format, mode === 'text' ? 'text' : 'words'),
      mode === 'text' ? differs('mode', given.mode, 'sequence') : differs('mode', given.mode, mode),
      differs('window', given.window, record?.window),
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
    const scalars = Object.values(parameters(checkpoint.model)).reduce((n, t) => n + t.data.length, 0)
    const tooLarge = checkTrainingMemory(scalars, saved.config.kind === 'adamw' ? 2 : 0, checkpoint.model.config, mode, settings.batch, settings.window)
    if (tooLarge !== undefined) return yield* Effect.fail(tooLarge)
    const data = mode === 'text' ? yield* loadDocuments(settings, seed) : yield* loadWords(settings, seed)
    const changed = changes(record, settings.batch, data.digest, data.source, backend)
    if (changed.length > 0) {
      const what = changed.join('; ')
      if (!value.force) {
        return yield* Effect.fail(new UsageError({ message: `${what}: the resumed run would not match an uninterrupted one; pass --force to resume anyway` }))
      }
      yield* Effect.logWarning(`${what}: resuming anyway (--force), not bit-identical to an uninterrupted run`)
    }
    const start: Start = {
      model: checkpoint.model, vocab: checkpoint.vocab, seed, step: checkpoint.step, rng: checkpoint.rng, history: checkpoint.history,
      // The learning-rate schedule is that of the new total.
      optimizer: { ...saved.config, totalSteps: settings.steps }, state: saved.state, settings, data: data.digest,
      ...yield* encodeData(settings, checkpoint.vocab, receptiveField(checkpoint.model), `${path}'s model has`, data),
    }
    return start
  })

/** The start of a run on a backend (by name): `--resume`'s checkpoint, or a fresh model. */
export const startRun = (config: Config, backend: string): Effect.Effect<Start, CliError, FileSystem.FileSystem> =>
  config.value.resume === undefined ? fresh(config) : resumed(config, config.value.resume, backend)
