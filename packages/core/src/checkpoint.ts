/**
 * Checkpoints: a model, its vocabulary and its training state in one
 * safetensors file, readable by PyTorch and any safetensors reader.
 *
 * Tensors (F32): the model's parameters and batchnorm running statistics by
 * their names (`embedding.weight`, `fuse.{l}.linear.weight` [hidden, g·in],
 * `fuse.{l}.norm.{weight,bias,running_mean,running_var}`, `head.weight`,
 * `head.bias`), and the optimizer's per-parameter state as
 * `optimizer.{slot}.{name}` (AdamW's `m` and `v`).
 *
 * `__metadata__` (string → string; structured values are JSON): `format`
 * (`wavenet`), `version`, `config`, `vocab` (symbols in index order, the
 * boundary as ""), `step`, `rng` (generator state), `history` (losses),
 * `seed` (of the run, when recorded) and `optimizer` (its configuration) when
 * the file can resume training.
 *
 * Encoding and decoding are pure (bytes in, bytes out), so a web page can
 * load a model trained with the CLI. Decoding checks every field and every
 * tensor's presence, dtype and shape, and returns typed errors.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { type Vocabulary, vocabularyFromSymbols } from './data.js'
import { isJsonObject } from './json.js'
import type { Named } from './layers/layer.js'
import { flatMlp, type Model, type ModelConfig, parameters, wavenet, withParameters } from './model.js'
import type { OptimizerConfig, OptimizerState } from './optim.js'
import { type Rng, restore } from './random.js'
import { decodeSafetensors, encodeSafetensors, type SafetensorsError } from './safetensors.js'
import type { Tensor } from './tensor.js'

/** The version this code writes and the only one it reads. */
export const CHECKPOINT_VERSION = 1

/** Losses recorded during training: (step, loss) pairs. */
export interface History {
  /** Mean minibatch loss over each logging interval, at the interval's last step. */
  readonly train: readonly (readonly [number, number])[]
  /** Validation loss at each evaluation. */
  readonly val: readonly (readonly [number, number])[]
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
  /** Present when training can resume from the file. */
  readonly optimizer?: { readonly config: OptimizerConfig; readonly state: OptimizerState }
}

export type CheckpointError =
  | { readonly kind: 'container'; readonly cause: SafetensorsError; readonly message: string }
  | { readonly kind: 'not-wavenet'; readonly message: string }
  | { readonly kind: 'unsupported-version'; readonly message: string }
  | { readonly kind: 'bad-metadata'; readonly field: string; readonly message: string }
  | { readonly kind: 'missing-tensor'; readonly tensor: string; readonly message: string }
  | { readonly kind: 'wrong-shape'; readonly tensor: string; readonly message: string }
  | { readonly kind: 'unexpected-tensor'; readonly tensor: string; readonly message: string }

const OPTIMIZER_PREFIX = 'optimizer.'

/** The safetensors bytes of a checkpoint. */
export const encodeCheckpoint = (checkpoint: Checkpoint): Uint8Array => {
  const tensors = Object.entries(parameters(checkpoint.model)).map(([name, tensor]) => ({ name, tensor }))
  const slots = checkpoint.optimizer?.state.slots ?? {}
  for (const [slot, named] of Object.entries(slots)) {
    for (const [name, tensor] of Object.entries(named)) tensors.push({ name: `${OPTIMIZER_PREFIX}${slot}.${name}`, tensor })
  }
  const metadata: Record<string, string> = {
    format: 'wavenet',
    version: String(CHECKPOINT_VERSION),
    config: JSON.stringify(checkpoint.model.config),
    vocab: JSON.stringify(checkpoint.vocab.symbols),
    step: String(checkpoint.step),
    rng: JSON.stringify(checkpoint.rng.state),
    history: JSON.stringify(checkpoint.history),
  }
  if (checkpoint.seed !== undefined) metadata['seed'] = String(checkpoint.seed)
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

/** Model sizes beyond which a checkpoint is refused before anything is allocated. */
const MAX_PARAMETERS = 2 ** 28

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
    const fanIn = groupSize * Math.max(embedding, hidden)
    if (groupSize ** levels > 2 ** 20 || vocab * embedding + levels * hidden * (fanIn + 4) + hidden * vocab > MAX_PARAMETERS) {
      return bad('describes a model too large to load')
    }
    return E.right({ kind: 'wavenet', vocab, levels, groupSize, embedding, hidden })
  }
  if (value['kind'] === 'mlp') {
    const { context } = value
    if (!isPositiveInt(context)) return bad('needs a positive integer context')
    if (vocab * embedding + context * embedding * hidden + hidden * vocab > MAX_PARAMETERS) return bad('describes a model too large to load')
    return E.right({ kind: 'mlp', vocab, context, embedding, hidden })
  }
  return bad('has an unknown model kind')
}

const pairs = (value: unknown): value is [number, number][] =>
  Array.isArray(value) && value.every((p) => Array.isArray(p) && p.length === 2 && isNonNegativeInt(p[0]) && typeof p[1] === 'number')

const history = (value: unknown): Decoded<History> =>
  isJsonObject(value) && pairs(value['train']) && pairs(value['val'])
    ? E.right({ train: value['train'], val: value['val'] })
    : E.left(badMetadata('history', 'is not {"train": [[step, loss], …], "val": [[step, loss], …]}'))

const optimizerConfig = (value: unknown): Decoded<OptimizerConfig & { readonly step: number }> => {
  const bad = () => E.left(badMetadata('optimizer', 'is not a valid optimizer configuration'))
  if (!isJsonObject(value)) return bad()
  const { lr, totalSteps, decayAt, decay, step } = value
  if (!isFinitePositive(lr) || !isPositiveInt(totalSteps) || !isFiniteNonNegative(decayAt) || !isFiniteNonNegative(decay) || !isNonNegativeInt(step)) {
    return bad()
  }
  const schedule = { lr, totalSteps, decayAt, decay, step }
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

/** The model's tensors from the file, each checked for presence and shape against the skeleton. */
const modelTensors = (skeleton: Named, tensors: ReadonlyMap<string, Tensor<Float32Array>>): Decoded<Named> => {
  const out: Record<string, Tensor> = {}
  for (const [name, expected] of Object.entries(skeleton)) {
    const found = tensors.get(name)
    if (found === undefined) return E.left({ kind: 'missing-tensor', tensor: name, message: `checkpoint lacks tensor "${name}"` })
    if (found.shape.length !== expected.shape.length || found.shape.some((d, i) => d !== expected.shape[i])) {
      return E.left({
        kind: 'wrong-shape', tensor: name,
        message: `checkpoint tensor "${name}" has shape [${found.shape.join(', ')}], expected [${expected.shape.join(', ')}]`,
      })
    }
    out[name] = found
  }
  return E.right(out)
}

const optimizerSlots = (
  config: OptimizerConfig, skeleton: Named, tensors: ReadonlyMap<string, Tensor<Float32Array>>,
): Decoded<OptimizerState['slots']> => {
  const slotNames = config.kind === 'adamw' ? ['m', 'v'] : []
  const slots: Record<string, Named> = {}
  for (const slot of slotNames) {
    const prefix = `${OPTIMIZER_PREFIX}${slot}.`
    const trainable = Object.fromEntries(
      Object.entries(skeleton).filter(([name]) => !name.endsWith('running_mean') && !name.endsWith('running_var')),
    )
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
      if (metadata['version'] !== String(CHECKPOINT_VERSION)) {
        return E.left<CheckpointError>({
          kind: 'unsupported-version',
          message: `checkpoint format version ${JSON.stringify(metadata['version'] ?? null)} is not supported (this build reads version ${CHECKPOINT_VERSION})`,
        })
      }
      return pipe(
        E.Do,
        E.bind('config', () => pipe(json(metadata, 'config'), E.chain(modelConfig))),
        E.bind('vocab', ({ config }) => pipe(
          json(metadata, 'vocab'),
          E.chain((v) => {
            const vocab = Array.isArray(v) ? vocabularyFromSymbols(v) : undefined
            if (vocab === undefined) return E.left(badMetadata('vocab', 'is not a list of distinct characters after ""'))
            if (vocab.symbols.length !== config.vocab) {
              return E.left(badMetadata('vocab', `has ${vocab.symbols.length} symbols but the model has ${config.vocab}`))
            }
            return E.right(vocab)
          }),
        )),
        E.bind('step', () => wholeNumber(metadata, 'step')),
        E.bind('seed', () => (metadata['seed'] === undefined ? E.right(undefined) : wholeNumber(metadata, 'seed'))),
        E.bind('rng', () => pipe(
          json(metadata, 'rng'),
          E.chain((v) => {
            const rng = Array.isArray(v) ? restore(v) : undefined
            return rng === undefined ? E.left(badMetadata('rng', 'is not a generator state of four 32-bit words')) : E.right(rng)
          }),
        )),
        E.bind('history', () => pipe(json(metadata, 'history'), E.chain(history))),
        E.bind('model', ({ config }) => {
          const skeleton = config.kind === 'wavenet' ? wavenet({ ...config, seed: 0 }) : flatMlp({ ...config, seed: 0 })
          return pipe(modelTensors(parameters(skeleton), tensors), E.map((named) => withParameters(skeleton, named)))
        }),
        E.bind('optimizer', ({ model }) => {
          if (metadata['optimizer'] === undefined) return E.right(undefined)
          return pipe(
            json(metadata, 'optimizer'),
            E.chain(optimizerConfig),
            E.chain(({ step, ...config }) => pipe(
              optimizerSlots(config, parameters(model), tensors),
              E.map((slots) => ({ config, state: { step, slots } })),
            )),
          )
        }),
        E.chain((c) => {
          const known = new Set(Object.keys(parameters(c.model)))
          for (const [slot, named] of Object.entries(c.optimizer?.state.slots ?? {})) {
            for (const name of Object.keys(named)) known.add(`${OPTIMIZER_PREFIX}${slot}.${name}`)
          }
          const extra = [...tensors.keys()].find((name) => !known.has(name))
          if (extra !== undefined) {
            return E.left<CheckpointError>({ kind: 'unexpected-tensor', tensor: extra, message: `checkpoint has an unexpected tensor "${extra}"` })
          }
          const { model, vocab, step, rng, history: h, seed, optimizer } = c
          return E.right<CheckpointError, Checkpoint>({
            model, vocab, step, rng, history: h, ...(seed === undefined ? {} : { seed }), ...(optimizer === undefined ? {} : { optimizer }),
          })
        }),
      )
    }),
  )
