/**
 * Checkpoints: a model, its vocabulary and its training state in one
 * safetensors file, readable by PyTorch and any safetensors reader.
 *
 * Tensors (F32): the model's parameters and batchnorm running statistics by
 * their names (for `wavenet`: `embedding.weight`, `fuse.{l}.linear.weight`
 * [hidden, g·in], `fuse.{l}.norm.{weight,bias,running_mean,running_var}`,
 * `head.weight`, `head.bias`), and the optimizer's per-parameter state as
 * `optimizer.{slot}.{name}` (AdamW's `m` and `v`). Each batchnorm also gets
 * `{prefix}.num_batches_tracked`, a scalar holding the step count, so that
 * torch.nn.BatchNorm1d's state dict loads with `strict=True`; it is read
 * back only for its shape (files without it load too).
 *
 * `__metadata__` (string → string; structured values are JSON): `format`
 * (`wavenet`), `version`, `network` (the description of the model's layers:
 * kinds, sizes and names), `config` (the constructor's recipe, when the model
 * has one), `vocab` (symbols in index order, the boundary as ""), `step`,
 * `rng` (generator state), `history` (losses), `mode` (how the run trains, when
 * not on examples), `seed` (of the run, when
 * recorded), `optimizer` (its configuration) when the file can resume
 * training, and `training` (the run's batch, a digest of its words and its
 * backend) when recorded.
 *
 * Encoding and decoding are pure (bytes in, bytes out), so a web page can
 * load a model trained with the CLI. Decoding checks every field, validates
 * the network's description, checks every tensor's presence, dtype and shape
 * against it and its values (finite; running variances not negative), and
 * builds the layers from the file's tensors: nothing is allocated that the
 * file does not hold. Errors are typed.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { type Vocabulary, vocabularyFromSymbols } from './data.js'
import { isJsonObject, sameJson } from './json.js'
import type { Named, TensorShapes } from './layers/layer.js'
import { buildLayer, describeLayer, type LayerDescription, parseLayer, type SequentialDescription, tensorShapes } from './layers/sequential.js'
import { MAX_RECEPTIVE_FIELD } from './limits.js'
import { describeConfig, logitsWidth, type Model, type ModelConfig, parameters, receptiveField, trainableParameters } from './model.js'
import type { OptimizerConfig, OptimizerState } from './optim.js'
import { type Rng, restore } from './random.js'
import { decodeSafetensors, encodeSafetensors, type SafetensorsError } from './safetensors.js'
import type { Tensor } from './tensor.js'

/**
 * How a run trains: on (context, next character) examples of words, whole
 * words in the sequence view, or windows of running text in the sequence
 * view (`sequence.ts`). A model trained on text is evaluated and sampled as
 * running text.
 */
export const TRAINING_MODES = ['example', 'sequence', 'text'] as const
export type TrainingMode = (typeof TRAINING_MODES)[number]
const isTrainingMode = (value: string): value is TrainingMode => (TRAINING_MODES as readonly string[]).includes(value)

/**
 * The version this code writes. It reads it and version 1, whose files have
 * no `network` (their `config` says which of `wavenet` and `flatMlp` built
 * the model).
 */
export const CHECKPOINT_VERSION = 2

/** Losses recorded during training: (step, loss) pairs. */
export interface History {
  /** Mean minibatch loss over each logging interval, at the interval's last step. */
  readonly train: readonly (readonly [number, number])[]
  /** Validation loss at each evaluation. */
  readonly val: readonly (readonly [number, number])[]
}

/** What a run trained with beyond its recipe and optimizer, so that a resume can tell what it changes. */
export interface TrainingRecord {
  /** Examples a step, or target characters a step in sequence mode. */
  readonly batch: number
  /** A digest of the training and validation words. */
  readonly data: string
  /** The kernels the run computed with (results are bit-identical on the same kernels only). */
  readonly backend: string
  /** Target characters of a window, on running text. */
  readonly window?: number
}

export interface Checkpoint {
  readonly model: Model
  readonly vocab: Vocabulary
  /** Training steps taken. */
  readonly step: number
  /** The generator that draws the next minibatch. */
  readonly rng: Rng
  readonly history: History
  /** The seed of the run's initialisation and data split, when it was recorded. */
  readonly seed?: number
  /** How the run trains: on (context, next character) examples, or whole words in the sequence view. Absent: examples. */
  readonly mode?: TrainingMode
  /** Present when training can resume from the file. */
  readonly optimizer?: { readonly config: OptimizerConfig; readonly state: OptimizerState }
  /** The run's batch, data and backend, when recorded. */
  readonly training?: TrainingRecord
}

export type CheckpointError =
  | { readonly kind: 'container'; readonly cause: SafetensorsError; readonly message: string }
  | { readonly kind: 'not-wavenet'; readonly message: string }
  | { readonly kind: 'unsupported-version'; readonly message: string }
  | { readonly kind: 'bad-metadata'; readonly field: string; readonly message: string }
  | { readonly kind: 'missing-tensor'; readonly tensor: string; readonly message: string }
  | { readonly kind: 'wrong-shape'; readonly tensor: string; readonly message: string }
  | { readonly kind: 'unexpected-tensor'; readonly tensor: string; readonly message: string }
  | { readonly kind: 'bad-value'; readonly tensor: string; readonly message: string }

const OPTIMIZER_PREFIX = 'optimizer.'

/** PyTorch's count of batches a BatchNorm has trained on, a buffer of torch.nn.BatchNorm1d that the layer itself does not keep. */
const BATCHES_TRACKED = 'num_batches_tracked'

/** The name of every batchnorm's `num_batches_tracked`, from the network's description (its tensor prefixes, as `tensorShapes` forms them). */
const batchesTrackedNames = (description: LayerDescription, prefix = ''): string[] => {
  if (description.kind === 'batchnorm') return [`${prefix}${BATCHES_TRACKED}`]
  if (description.kind !== 'sequential') return []
  return description.layers.flatMap((child, i) => batchesTrackedNames(child, `${prefix}${description.names[i]!}.`))
}

/**
 * The safetensors bytes of a checkpoint. A RangeError when the model cannot
 * be loaded back as a model: its network must map contexts (B, T) to logits
 * (B, V), V being the vocabulary's size.
 */
export const encodeCheckpoint = (checkpoint: Checkpoint): Uint8Array => {
  const { model, vocab } = checkpoint
  const width = logitsWidth(model)
  if (width !== vocab.symbols.length) {
    throw new RangeError(`the network gives ${width} logits, but the vocabulary has ${vocab.symbols.length} symbols`)
  }
  const network = describeLayer(model.net)
  const tensors = Object.entries(parameters(model)).map(([name, tensor]) => ({ name, tensor }))
  const batches = { shape: [], data: Float32Array.of(checkpoint.step) }
  for (const name of batchesTrackedNames(network)) tensors.push({ name, tensor: batches })
  const slots = checkpoint.optimizer?.state.slots ?? {}
  for (const [slot, named] of Object.entries(slots)) {
    for (const [name, tensor] of Object.entries(named)) tensors.push({ name: `${OPTIMIZER_PREFIX}${slot}.${name}`, tensor })
  }
  const metadata: Record<string, string> = {
    format: 'wavenet',
    version: String(CHECKPOINT_VERSION),
    network: JSON.stringify(network),
    vocab: JSON.stringify(vocab.symbols),
    step: String(checkpoint.step),
    rng: JSON.stringify(checkpoint.rng.state),
    history: JSON.stringify(checkpoint.history),
  }
  // A recipe that no longer describes the net (a model spread with another net) is not recorded.
  if (model.config !== undefined && sameJson(describeConfig(model.config), network)) metadata['config'] = JSON.stringify(model.config)
  if (checkpoint.seed !== undefined) metadata['seed'] = String(checkpoint.seed)
  if (checkpoint.mode !== undefined) metadata['mode'] = checkpoint.mode
  if (checkpoint.training !== undefined) metadata['training'] = JSON.stringify(checkpoint.training)
  if (checkpoint.optimizer !== undefined) {
    metadata['optimizer'] = JSON.stringify({ ...checkpoint.optimizer.config, step: checkpoint.optimizer.state.step })
  }
  return encodeSafetensors(tensors, metadata)
}

type Decoded<A> = E.Either<CheckpointError, A>

const badMetadata = (field: string, why: string): CheckpointError =>
  ({ kind: 'bad-metadata', field, message: `checkpoint metadata "${field}" ${why}` })

const json = (metadata: Readonly<Record<string, string>>, field: string): Decoded<unknown> => {
  const text = metadata[field]
  if (text === undefined) return E.left(badMetadata(field, 'is missing'))
  try {
    return E.right(JSON.parse(text) as unknown)
  } catch {
    return E.left(badMetadata(field, 'is not valid JSON'))
  }
}

/** A metadata field that must be a non-negative whole number, written in decimal. */
const wholeNumber = (metadata: Readonly<Record<string, string>>, field: string): Decoded<number> => {
  const text = metadata[field]
  const value = Number(text)
  return text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(value)
    ? E.right(value)
    : E.left(badMetadata(field, 'is not a non-negative integer'))
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1
const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isFinitePositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0
const isFiniteNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0

/**
 * A constructor's recipe, its fields checked. A context beyond
 * MAX_RECEPTIVE_FIELD is refused here, so that the network it describes is
 * small enough to describe; the sizes of its layers are checked as any
 * network's are.
 */
const modelConfig = (value: unknown): Decoded<ModelConfig> => {
  const bad = (why: string) => E.left(badMetadata('config', why))
  if (!isJsonObject(value)) return bad('is not an object')
  const { vocab, embedding, hidden } = value
  if (!isPositiveInt(vocab) || !isPositiveInt(embedding) || !isPositiveInt(hidden)) {
    return bad('needs positive integer vocab, embedding and hidden')
  }
  if (value['kind'] === 'wavenet') {
    const { levels, groupSize } = value
    if (!isPositiveInt(levels) || !isPositiveInt(groupSize) || groupSize < 2) {
      return bad('needs positive integer levels and a groupSize of at least 2')
    }
    if (groupSize ** levels > MAX_RECEPTIVE_FIELD) return bad(`describes a context of more than ${MAX_RECEPTIVE_FIELD} characters`)
    const { residual, skip, dropout } = value
    if (![residual, skip].every((flag) => flag === undefined || typeof flag === 'boolean')) return bad('has a residual or skip that is not true or false')
    if (!(dropout === undefined || (isFinitePositive(dropout) && dropout < 1))) return bad('has a dropout that is not a number above 0 and below 1')
    return E.right({
      kind: 'wavenet', vocab, levels, groupSize, embedding, hidden,
      ...(residual === true ? { residual } : {}), ...(skip === true ? { skip } : {}), ...(dropout === undefined ? {} : { dropout }),
    })
  }
  if (value['kind'] === 'mlp') {
    const { context } = value
    if (!isPositiveInt(context)) return bad('needs a positive integer context')
    if (context > MAX_RECEPTIVE_FIELD) return bad(`describes a context of more than ${MAX_RECEPTIVE_FIELD} characters`)
    return E.right({ kind: 'mlp', vocab, context, embedding, hidden })
  }
  return bad('has an unknown model kind')
}

/** A network description from the metadata field `field`, validated; the whole network is a Sequential. */
const validNetwork = (field: string, value: unknown): Decoded<SequentialDescription> =>
  pipe(
    parseLayer(value),
    E.mapLeft((why) => badMetadata(field, `is not a valid network description: ${why}`)),
    E.chain((d) => (d.kind === 'sequential' ? E.right(d) : E.left(badMetadata(field, `describes a ${d.kind}, not a Sequential`)))),
  )

interface Described {
  readonly network: SequentialDescription
  readonly config: ModelConfig | undefined
}

/**
 * The network's description and the recipe, if any. Version 2 files carry
 * the description, and a `config` only alongside the network it describes;
 * in version 1 files the `config` is all there is, and the network is the
 * one its constructor builds — validated as any description, since the
 * recipe's numbers come from the file too.
 */
const networkOf = (metadata: Readonly<Record<string, string>>, version: number): Decoded<Described> => {
  const config = pipe(json(metadata, 'config'), E.chain(modelConfig))
  if (version === 1) {
    return pipe(config, E.chain((c) => pipe(validNetwork('config', describeConfig(c)), E.map((network) => ({ network, config: c })))))
  }
  return pipe(
    E.Do,
    E.bind('network', () => pipe(json(metadata, 'network'), E.chain((d) => validNetwork('network', d)))),
    E.bind('config', () => (metadata['config'] === undefined ? E.right(undefined) : config)),
    E.filterOrElse(
      ({ network, config: c }) => c === undefined || sameJson(describeConfig(c), network),
      () => badMetadata('config', 'does not describe the network'),
    ),
  )
}

/** The model built from its description and the file's tensors, checked to map contexts to logits over the vocabulary. */
const modelOf = (
  network: SequentialDescription, config: ModelConfig | undefined, vocab: Vocabulary, tensors: ReadonlyMap<string, Tensor<Float32Array>>,
): Decoded<Model> =>
  pipe(
    modelTensors(tensorShapes(network), tensors),
    E.chain((named) => {
      const model: Model = { net: buildLayer(network, named), ...(config === undefined ? {} : { config }) }
      const field = receptiveField(model)
      if (field > MAX_RECEPTIVE_FIELD) return E.left(badMetadata('network', `sees ${field} characters of context, more than ${MAX_RECEPTIVE_FIELD}`))
      try {
        const width = logitsWidth(model)
        return width === vocab.symbols.length
          ? E.right(model)
          : E.left(badMetadata('vocab', `has ${vocab.symbols.length} symbols but the network gives ${width} logits`))
      } catch (e) {
        if (!(e instanceof RangeError)) throw e
        return E.left(badMetadata('network', `is not a language model: ${e.message}`))
      }
    }),
  )

const pairs = (value: unknown): value is [number, number][] =>
  Array.isArray(value) && value.every((p) => Array.isArray(p) && p.length === 2 && isNonNegativeInt(p[0]) && typeof p[1] === 'number')

const history = (value: unknown): Decoded<History> =>
  isJsonObject(value) && pairs(value['train']) && pairs(value['val'])
    ? E.right({ train: value['train'], val: value['val'] })
    : E.left(badMetadata('history', 'is not {"train": [[step, loss], …], "val": [[step, loss], …]}'))

const optimizerConfig = (value: unknown): Decoded<OptimizerConfig & { readonly step: number }> => {
  const bad = () => E.left(badMetadata('optimizer', 'is not a valid optimizer configuration'))
  if (!isJsonObject(value)) return bad()
  const { lr, totalSteps, decayAt, decay, step, shape } = value
  if (!isFinitePositive(lr) || !isPositiveInt(totalSteps) || !isFiniteNonNegative(decayAt) || !isFiniteNonNegative(decay) || !isNonNegativeInt(step)) {
    return bad()
  }
  // Files written before schedules had a shape used the step decay.
  if (shape !== undefined && shape !== 'step' && shape !== 'cosine') return bad()
  const schedule = { lr, totalSteps, decayAt, decay, step, ...(shape === undefined ? {} : { shape: shape as 'step' | 'cosine' }) }
  if (value['kind'] === 'sgd') return E.right({ kind: 'sgd', ...schedule })
  if (value['kind'] === 'adamw') {
    const { betas, eps, weightDecay } = value
    if (!Array.isArray(betas) || betas.length !== 2 || !betas.every(isFiniteNonNegative) || !isFinitePositive(eps) || !isFiniteNonNegative(weightDecay)) {
      return bad()
    }
    return E.right({ kind: 'adamw', ...schedule, betas: [betas[0] as number, betas[1] as number], eps, weightDecay })
  }
  return bad()
}

/**
 * The first value of a tensor that no model can hold: one that is not
 * finite, or a negative running variance (whose square root batchnorm
 * takes). Weights like these sample nonsense and evaluate to NaN.
 */
const badValue = (name: string, tensor: Tensor<Float32Array>): CheckpointError | undefined => {
  const variance = name.endsWith('running_var')
  const at = tensor.data.findIndex((v) => !Number.isFinite(v) || (variance && v < 0))
  if (at < 0) return undefined
  const value = tensor.data[at]!
  const why = Number.isFinite(value) ? `a negative running variance (${value})` : `a value that is not finite (${value})`
  return { kind: 'bad-value', tensor: name, message: `checkpoint tensor "${name}" holds ${why} at index ${at}` }
}

/** The tensors of the given names from the file, each checked for presence, shape and values. */
const modelTensors = (shapes: TensorShapes, tensors: ReadonlyMap<string, Tensor<Float32Array>>): Decoded<Named> => {
  const out: Record<string, Tensor> = {}
  for (const [name, expected] of Object.entries(shapes)) {
    const found = tensors.get(name)
    if (found === undefined) return E.left({ kind: 'missing-tensor', tensor: name, message: `checkpoint lacks tensor "${name}"` })
    if (found.shape.length !== expected.length || found.shape.some((d, i) => d !== expected[i])) {
      return E.left({
        kind: 'wrong-shape', tensor: name,
        message: `checkpoint tensor "${name}" has shape [${found.shape.join(', ')}], expected [${expected.join(', ')}]`,
      })
    }
    const bad = badValue(name, found)
    if (bad !== undefined) return E.left(bad)
    out[name] = found
  }
  return E.right(out)
}

/** The optimizer's per-parameter state from the file: one tensor per slot and trainable parameter, shaped as the parameter. */
const optimizerSlots = (
  config: OptimizerConfig, model: Model, tensors: ReadonlyMap<string, Tensor<Float32Array>>,
): Decoded<OptimizerState['slots']> => {
  const slotNames = config.kind === 'adamw' ? ['m', 'v'] : []
  const trainable = Object.fromEntries(Object.entries(trainableParameters(model)).map(([name, t]) => [name, t.shape]))
  const slots: Record<string, Named> = {}
  for (const slot of slotNames) {
    const prefix = `${OPTIMIZER_PREFIX}${slot}.`
    const found = new Map([...tensors].filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t]))
    const checked = modelTensors(trainable, found)
    if (E.isLeft(checked)) {
      const e = checked.left
      return E.left('tensor' in e ? { ...e, tensor: `${prefix}${e.tensor}`, message: e.message.replace(`"${e.tensor}"`, `"${prefix}${e.tensor}"`) } : e)
    }
    slots[slot] = checked.right
  }
  return E.right(slots)
}

/** Reads a checkpoint, checking every metadata field and tensor; never throws. */
export const decodeCheckpoint = (bytes: Uint8Array): E.Either<CheckpointError, Checkpoint> =>
  pipe(
    decodeSafetensors(bytes),
    E.mapLeft((cause): CheckpointError => ({
      kind: 'container', cause,
      message: cause.kind === 'unsupported-dtype' ? `checkpoint ${cause.message}` : `not a valid safetensors file: ${cause.message}`,
    })),
    E.chain(({ tensors, metadata }) => {
      if (metadata['format'] !== 'wavenet') {
        return E.left<CheckpointError>({ kind: 'not-wavenet', message: 'not a wavenet checkpoint (metadata "format" is not "wavenet")' })
      }
      const version = [1, CHECKPOINT_VERSION].find((v) => metadata['version'] === String(v))
      if (version === undefined) {
        return E.left<CheckpointError>({
          kind: 'unsupported-version',
          message: `checkpoint format version ${JSON.stringify(metadata['version'] ?? null)} is not supported (this build reads versions 1 and ${CHECKPOINT_VERSION})`,
        })
      }
      return pipe(
        E.Do,
        E.bind('described', () => networkOf(metadata, version)),
        E.bind('vocab', () => pipe(
          json(metadata, 'vocab'),
          E.chain((v) => {
            const vocab = Array.isArray(v) ? vocabularyFromSymbols(v) : undefined
            return vocab === undefined ? E.left(badMetadata('vocab', 'is not a list of distinct characters after ""')) : E.right(vocab)
          }),
        )),
        E.bind('step', () => wholeNumber(metadata, 'step')),
        E.bind('seed', () => (metadata['seed'] === undefined ? E.right(undefined) : wholeNumber(metadata, 'seed'))),
        E.bind('mode', () => {
          const mode = metadata['mode']
          return mode === undefined || isTrainingMode(mode) ? E.right(mode) : E.left(badMetadata('mode', `is not one of ${TRAINING_MODES.join(', ')}`))
        }),
        E.bind('training', () => {
          if (metadata['training'] === undefined) return E.right(undefined)
          return pipe(json(metadata, 'training'), E.chain((v): Decoded<TrainingRecord> => {
            const shape = 'is not {"batch": N, "data": TEXT, "backend": TEXT} (and "window": N on running text)'
            if (!isJsonObject(v)) return E.left(badMetadata('training', shape))
            const { batch, data, backend, window } = v
            const keys = Object.keys(v).length === (window === undefined ? 3 : 4)
            return keys && isPositiveInt(batch) && typeof data === 'string' && typeof backend === 'string' && (window === undefined || isPositiveInt(window))
              ? E.right({ batch, data, backend, ...(window === undefined ? {} : { window }) })
              : E.left(badMetadata('training', shape))
          }))
        }),
        E.bind('rng', () => pipe(
          json(metadata, 'rng'),
          E.chain((v) => {
            const rng = Array.isArray(v) ? restore(v) : undefined
            return rng === undefined ? E.left(badMetadata('rng', 'is not a generator state of four 32-bit words')) : E.right(rng)
          }),
        )),
        E.bind('history', () => pipe(json(metadata, 'history'), E.chain(history))),
        E.bind('model', ({ described: { network, config }, vocab }) => modelOf(network, config, vocab, tensors)),
        E.bind('optimizer', ({ model }) => {
          if (metadata['optimizer'] === undefined) return E.right(undefined)
          return pipe(
            json(metadata, 'optimizer'),
            E.chain(optimizerConfig),
            E.chain(({ step, ...config }) => pipe(
              optimizerSlots(config, model, tensors),
              E.map((slots) => ({ config, state: { step, slots } })),
            )),
          )
        }),
        E.chain((c) => {
          const known = new Set(Object.keys(parameters(c.model)))
          for (const name of batchesTrackedNames(c.described.network)) {
            const found = tensors.get(name)
            if (found !== undefined && found.shape.length !== 0) {
              return E.left<CheckpointError>({
                kind: 'wrong-shape', tensor: name, message: `checkpoint tensor "${name}" has shape [${found.shape.join(', ')}], expected []`,
              })
            }
            known.add(name)
          }
          for (const [slot, named] of Object.entries(c.optimizer?.state.slots ?? {})) {
            for (const name of Object.keys(named)) known.add(`${OPTIMIZER_PREFIX}${slot}.${name}`)
          }
          const extra = [...tensors.keys()].find((name) => !known.has(name))
          if (extra !== undefined) {
            return E.left<CheckpointError>({ kind: 'unexpected-tensor', tensor: extra, message: `checkpoint has an unexpected tensor "${extra}"` })
          }
          const { model, vocab, step, rng, history: h, seed, mode, optimizer, training } = c
          return E.right<CheckpointError, Checkpoint>({
            model, vocab, step, rng, history: h, ...(seed === undefined ? {} : { seed }), ...(mode === undefined ? {} : { mode }),
            ...(optimizer === undefined ? {} : { optimizer }), ...(training === undefined ? {} : { training }),
          })
        }),
      )
    }),
  )
