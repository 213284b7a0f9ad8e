/**
 * The `wavenet` command: train, sample, eval and inspect, as @effect/cli
 * commands over Effect programs. Stdout carries only each command's output;
 * logs and progress go to stderr; every failure is one line on stderr and a
 * non-zero exit code.
 */
import { Command, HelpDoc, Options, ValidationError } from '@effect/cli'
import type { FileSystem, Path } from '@effect/platform'
import {
  BOUNDARY_DISPLAY, evaluate, layerParameters, type Model, outputShape, parameterCount, receptiveField, sampleWords, seeded, size,
} from '@wavenet/core'
import asciichart from 'asciichart'
import { Console, Effect, Logger, LogLevel, Option } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { backendLayer, BackendService, type BackendName } from './backend.js'
import { loadCheckpoint } from './checkpoints.js'
import { encodeExamples, readCorpus } from './dataset.js'
import { eventLoopTurn } from './event-loop.js'
import { type CliError, oneLine, UsageError } from './errors.js'
import * as O from './options.js'
import { train, type TrainSummary } from './train.js'

/** Writes one line of a command's output to stdout. */
const out = (line: string) => Effect.sync(() => { process.stdout.write(`${line}\n`) })

const levels: Record<O.LogLevelName, LogLevel.LogLevel> = {
  debug: LogLevel.Debug, info: LogLevel.Info, warning: LogLevel.Warning, error: LogLevel.Error, none: LogLevel.None,
}

/** Logs as logfmt lines on stderr. */
const logging = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

/** Runs a command's program on its backend, logging at the chosen level and above. */
const withShell = <A>(
  effect: Effect.Effect<A, CliError, BackendService | FileSystem.FileSystem | Path.Path>, backend: BackendName, level: O.LogLevelName,
) => effect.pipe(Effect.provide(backendLayer(backend)), Logger.withMinimumLogLevel(levels[level]))

/** The training-loss history as a terminal chart, averaged into at most 72 columns. */
const plot = (history: TrainSummary['history']): string => {
  const points = history.train.map(([, loss]) => loss)
  const bin = Math.max(1, Math.ceil(points.length / 72))
  const series = Array.from({ length: Math.ceil(points.length / bin) }, (_, i) => {
    const slice = points.slice(i * bin, (i + 1) * bin)
    return slice.reduce((a, b) => a + b, 0) / slice.length
  })
  return series.length < 2 ? '' : asciichart.plot(series, { height: 12, format: (x: number) => x.toFixed(3).padStart(7) })
}

const train$ = Command.make(
  'train',
  {
    data: O.file('data', 'training words, one per line (UTF-8); default: the built-in English first names').pipe(Options.optional),
    val: O.file('val', 'validation words; default: split the data 80/10/10 with --seed').pipe(Options.optional),
    arch: Options.choice('arch', ['wavenet', 'mlp'] as const).pipe(
      Options.withDescription('architecture: wavenet, the tree of fusions, or mlp, the flat baseline (default wavenet)'), Options.optional,
    ),
    levels: O.count('levels', 'fusion levels of --arch wavenet; the model sees group-size^levels characters (default 3)').pipe(Options.optional),
    groupSize: O.count('group-size', 'neighbours fused per level of --arch wavenet, at least 2 (default 2)').pipe(Options.optional),
    context: O.count('context', 'characters of context of --arch mlp (default 8)').pipe(Options.optional),
    embedding: O.count('embedding', 'width of a character vector (default 24)').pipe(Options.optional),
    hidden: O.count('hidden', 'width of a fused vector (default 128)').pipe(Options.optional),
    steps: O.count('steps', 'total training steps, counting those of --resume (default 200000)').pipe(Options.withDefault(200_000)),
    batch: O.count('batch', 'examples per step, at least 2 (default 32)').pipe(Options.withDefault(32)),
    optimizer: Options.choice('optimizer', ['sgd', 'adamw'] as const).pipe(Options.withDescription('optimizer (default sgd)'), Options.optional),
    lr: O.positiveNumber('lr', 'learning rate (default 0.1 for sgd, 3e-3 for adamw)').pipe(Options.optional),
    lrDecayAt: O.fractionNumber('lr-decay-at', 'fraction of the steps after which the learning rate decays (default 0.75)').pipe(Options.optional),
    lrDecay: O.nonNegativeNumber('lr-decay', 'factor applied to the learning rate at --lr-decay-at (default 0.1)').pipe(Options.optional),
    weightDecay: O.nonNegativeNumber('weight-decay', 'AdamW weight decay (default 0.01)').pipe(Options.optional),
    seed: O.seed('seed of the initialisation, the split and the minibatches (default 42; on --resume, the checkpoint\'s)').pipe(Options.optional),
    evalEvery: O.count('eval-every', 'steps between validation losses (default: a tenth of the steps)').pipe(Options.optional),
    saveEvery: O.count('save-every', 'steps between checkpoints, and one at the end (default 10000)').pipe(Options.withDefault(10_000)),
    out: O.file('out', 'checkpoint to write (default model.safetensors; on --resume, the file resumed from)').pipe(Options.optional),
    force: Options.boolean('force').pipe(Options.withDescription('replace an existing --out')),
    resume: O.file('resume', 'continue the run saved in this checkpoint, up to --steps in total (same data flags)').pipe(Options.optional),
    backend: O.backend,
    logLevel: O.logLevel,
    json: O.json,
  },
  (o) => {
    const config = {
      ...Option.isSome(o.data) ? { data: o.data.value } : {},
      ...Option.isSome(o.val) ? { val: o.val.value } : {},
      ...Option.isSome(o.arch) ? { arch: o.arch.value } : {},
      ...Option.isSome(o.levels) ? { levels: o.levels.value } : {},
      ...Option.isSome(o.context) ? { context: o.context.value } : {},
      ...Option.isSome(o.groupSize) ? { groupSize: o.groupSize.value } : {},
      ...Option.isSome(o.embedding) ? { embedding: o.embedding.value } : {},
      ...Option.isSome(o.hidden) ? { hidden: o.hidden.value } : {},
      ...Option.isSome(o.optimizer) ? { optimizer: o.optimizer.value } : {},
      ...Option.isSome(o.lr) ? { lr: o.lr.value } : {},
      ...Option.isSome(o.weightDecay) ? { weightDecay: o.weightDecay.value } : {},
      ...Option.isSome(o.resume) ? { resume: o.resume.value } : {},
      ...Option.isSome(o.lrDecayAt) ? { lrDecayAt: o.lrDecayAt.value } : {},
      ...Option.isSome(o.lrDecay) ? { lrDecay: o.lrDecay.value } : {},
      ...Option.isSome(o.seed) ? { seed: o.seed.value } : {},
      ...Option.isSome(o.out) ? { out: o.out.value } : {},
      steps: o.steps, batch: o.batch, force: o.force,
      evalEvery: Option.getOrElse(o.evalEvery, () => Math.max(1, Math.ceil(o.steps / 10))), saveEvery: o.saveEvery,
      samples: 10,
    }
    const program = Effect.gen(function* () {
      if (Option.isSome(o.groupSize) && o.groupSize.value < 2) return yield* Effect.fail(new UsageError({ message: '--group-size must be at least 2' }))
      const summary = yield* train(config)
      if (o.json) {
        const { history: _history, model: _model, vocab: _vocab, ...fields } = summary
        return yield* out(JSON.stringify(fields))
      }
      const chart = plot(summary.history)
      if (chart !== '') yield* out(`training loss\n${chart}\n`)
      yield* out(`steps ${summary.steps}   parameters ${summary.parameters}   receptive field ${summary.receptiveField}   backend ${summary.backend}`)
      yield* out(`train loss ${summary.trainLoss.toFixed(4)}   val loss ${summary.valLoss.toFixed(4)}`)
      yield* out(`${summary.msPerStep.toFixed(3)} ms/step   ${summary.trainSeconds.toFixed(1)} s training   checkpoint ${summary.checkpoint}\n`)
      yield* out('samples:')
      for (const word of summary.samples) yield* out(`  ${word}`)
    })
    return withShell(program, o.backend, o.logLevel)
  },
).pipe(Command.withDescription('train a model on a file of words (or the built-in names) and save a checkpoint'))

/** Words sampled per batch of `sample`. */
const SAMPLE_CHUNK = 1024

const sample$ = Command.make(
  'sample',
  {
    model: O.file('model', 'checkpoint to sample from'),
    count: O.count('n', 'number of words (default 20)').pipe(Options.withDefault(20)),
    temperature: O.positiveNumber('temperature', 'below 1 sharpens the distribution, above 1 flattens it (default 1)').pipe(Options.withDefault(1)),
    topK: O.count('top-k', 'draw only among the K most likely characters').pipe(Options.optional),
    seed: O.seed('seed of the draws (default: a new one each run)').pipe(Options.optional),
    prefix: Options.text('prefix').pipe(Options.withDescription('every word starts with this text'), Options.withDefault('')),
    maxLength: O.count('max-length', 'longest word, prefix included (default 64)').pipe(Options.withDefault(64)),
    backend: O.backend,
    logLevel: O.logLevel,
    json: O.json,
  },
  (o) =>
    withShell(Effect.gen(function* () {
      if ([...o.prefix].length > o.maxLength) {
        return yield* Effect.fail(new UsageError({ message: `--prefix is longer than --max-length ${o.maxLength}` }))
      }
      const checkpoint = yield* loadCheckpoint(o.model)
      const { kernels } = yield* BackendService
      const seed = Option.getOrElse(o.seed, () => Math.floor(Math.random() * 2 ** 31))
      const options = { temperature: o.temperature, prefix: o.prefix, maxLength: o.maxLength, ...Option.isSome(o.topK) ? { topK: o.topK.value } : {} }
      // In chunks, printed as they come: memory stays bounded and Ctrl-C is seen between chunks.
      let rng = seeded(seed)
      const all: string[] = []
      for (let done = 0; done < o.count; done += SAMPLE_CHUNK) {
        const sampled = sampleWords(kernels, checkpoint.model, checkpoint.vocab, rng, Math.min(SAMPLE_CHUNK, o.count - done), options)
        if (E.isLeft(sampled)) {
          return yield* Effect.fail(new UsageError({ message: `--prefix: character ${JSON.stringify(sampled.left.character)} is not in the model's vocabulary` }))
        }
        const [words, next] = sampled.right
        rng = next
        if (o.json) all.push(...words)
        else for (const word of words) yield* out(word)
        yield* eventLoopTurn
      }
      if (o.json) yield* out(JSON.stringify({ words: all, seed }))
    }), o.backend, o.logLevel),
).pipe(Command.withDescription('print words sampled from a model, one per line'))

const eval$ = Command.make(
  'eval',
  {
    model: O.file('model', 'checkpoint to evaluate'),
    data: O.file('data', 'words to evaluate on, one per line'),
    backend: O.backend,
    logLevel: O.logLevel,
    json: O.json,
  },
  (o) =>
    withShell(Effect.gen(function* () {
      const checkpoint = yield* loadCheckpoint(o.model)
      const corpus = yield* readCorpus(o.data)
      const encoded = yield* encodeExamples(checkpoint.vocab, corpus.words, receptiveField(checkpoint.model), o.data, corpus.lines)
      const { kernels } = yield* BackendService
      const loss = evaluate(kernels, checkpoint.model, encoded)
      if (o.json) return yield* out(JSON.stringify({ loss, examples: encoded.count }))
      yield* out(`loss ${loss.toFixed(4)} over ${encoded.count} examples`)
    }), o.backend, o.logLevel),
).pipe(Command.withDescription('mean cross-entropy of a model over every (context, next character) example of a file'))

/**
 * The layer table of a model: each top-level layer's name, kind, output
 * shape and parameter count. Shapes follow from the layers' own shape rules
 * for a batch of one, shown as B (no layer kind changes the batch axis).
 */
const layerTable = (model: Model) => {
  let shape: readonly number[] = [1, receptiveField(model)]
  return model.net.layers.map((layer, i) => {
    shape = outputShape(layer, shape)
    const parameters = Object.values(layerParameters(layer)).reduce((n, t) => n + size(t.shape), 0)
    return { name: model.net.names[i]!, kind: layer.kind, output: ['B', ...shape.slice(1)].join('×'), parameters }
  })
}

const inspect$ = Command.make(
  'inspect',
  { model: O.file('model', 'checkpoint to describe'), json: O.json },
  (o) =>
    Effect.gen(function* () {
      const checkpoint = yield* loadCheckpoint(o.model)
      const config = checkpoint.model.config
      const layers = layerTable(checkpoint.model)
      const summary = {
        parameters: parameterCount(checkpoint.model),
        receptiveField: receptiveField(checkpoint.model),
        // The recipe, when a constructor built the model; null for a network composed by hand.
        arch: config?.kind ?? null,
        levels: config === undefined ? null : config.kind === 'wavenet' ? config.levels : 1,
        // The flat model fuses its whole context in one level.
        groupSize: config === undefined ? null : config.kind === 'wavenet' ? config.groupSize : config.context,
        vocab: checkpoint.vocab.symbols.map((s) => (s === '' ? BOUNDARY_DISPLAY : s)).join(''),
        step: checkpoint.step,
        layers,
        history: checkpoint.history,
        optimizer: checkpoint.optimizer?.config.kind ?? null,
      }
      if (o.json) return yield* out(JSON.stringify(summary))
      yield* out(`${'layer'.padEnd(16)}${'kind'.padEnd(11)}${'output'.padEnd(14)}parameters`)
      for (const l of summary.layers) yield* out(`${l.name.padEnd(16)}${l.kind.padEnd(11)}${l.output.padEnd(14)}${l.parameters}`)
      yield* out('')
      const recipe = config === undefined ? 'composed by hand' : `${summary.arch}   levels ${summary.levels}   group size ${summary.groupSize}`
      yield* out(`parameters ${summary.parameters}   ${recipe}   receptive field ${summary.receptiveField}`)
      yield* out(`vocabulary (${checkpoint.vocab.symbols.length}) ${summary.vocab}`)
      yield* out(`step ${summary.step}   optimizer ${summary.optimizer ?? 'none'}`)
      const lastTrain = checkpoint.history.train[checkpoint.history.train.length - 1]
      const lastVal = checkpoint.history.val[checkpoint.history.val.length - 1]
      if (lastTrain !== undefined) yield* out(`last train loss ${lastTrain[1].toFixed(4)} (step ${lastTrain[0]})`)
      if (lastVal !== undefined) yield* out(`last val loss ${lastVal[1].toFixed(4)} (step ${lastVal[0]})`)
    }),
).pipe(Command.withDescription('describe a checkpoint: layers, sizes, vocabulary, step and recorded losses'))

const wavenet$ = Command.make('wavenet').pipe(
  Command.withDescription('hierarchical (WaveNet-style) character-level language models'),
  Command.withSubcommands([train$, sample$, eval$, inspect$]),
)

const cli = Command.run(wavenet$, { name: 'wavenet', version: '0.1.0' })

/**
 * The whole program for some arguments (as in `process.argv`). @effect/cli's
 * own multi-line reports are silenced; every failure is returned as one line.
 */
export const run = (argv: readonly string[]) =>
  Console.consoleWith((console) =>
    cli(argv).pipe(
      Effect.provide(logging),
      Effect.withConsole({ ...console, error: () => Effect.void }),
      Effect.catchAll((e) => {
        const message = ValidationError.isValidationError(e) ? validationMessage(e) : e.message
        return Effect.sync(() => process.stderr.write(`wavenet: ${message}\n`)).pipe(Effect.zipRight(Effect.fail(e)))
      }),
      // A bug, not bad input: still one line, and still a failure.
      Effect.catchAllDefect((defect) => {
        const message = defect instanceof Error ? defect.message : String(defect)
        return Effect.sync(() => process.stderr.write(`wavenet: internal error: ${oneLine(message)}\n`)).pipe(Effect.zipRight(Effect.die(defect)))
      }),
    ),
  )

/** @effect/cli's report of a bad command line, as one plain line. */
const validationMessage = (e: ValidationError.ValidationError): string =>
  // eslint-disable-next-line no-control-regex
  'error' in e ? oneLine(HelpDoc.toAnsiText(e.error).replace(/\x1b\[[0-9;]*m/g, '')) : 'invalid command line'
