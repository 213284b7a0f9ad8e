/**
 * Models: a Sequential of layers that maps contexts of token ids (B, T) to
 * logits (B, V), T being its receptive field. Everything about a model —
 * receptive field, shapes, tensor names — follows from its layers, so a
 * hand-built network is as much a model as the two constructors' are: the
 * hierarchical WaveNet-style model and the lecture's flat MLP baseline,
 * whose layer names are the checkpoint's tensor names.
 *
 * wavenet: Embedding(vocab, E), then for each level l = 0 … levels−1
 *   [FlattenConsecutive(g), Linear(g·in, H, no bias), BatchNorm1d(H), Tanh] (then
 *   Dropout(p) with the `dropout` option),
 * then Linear(H, vocab). Level l+1 fuses g neighbouring nodes of level l, so
 * the top node sees g^levels characters: each added level multiplies the
 * context by g.
 */
import { isJsonObject } from './json.js'
import type { Kernels } from './kernels/kernels.js'
import { BATCHNORM_DEFAULTS, batchNorm1d } from './layers/batchnorm.js'
import { dropout } from './layers/dropout.js'
import { initEmbedding } from './layers/embedding.js'
import { flattenConsecutive } from './layers/flatten.js'
import { type Forward, type Mode, type Named, shapeText } from './layers/layer.js'
import { initLinear } from './layers/linear.js'
import {
  describeLayer, forward, inputSteps, type LayerDescription, layerBuffers, layerParameters, type Layer, outputShape, type Sequential,
  type SequentialDescription, sequential, withTensors,
} from './layers/sequential.js'
import { residual } from './layers/residual.js'
import { skip } from './layers/skip.js'
import { tanh } from './layers/tanh.js'
import { type Rng, seeded } from './random.js'
import { type IndexTensor, size } from './tensor.js'

export interface WavenetConfig {
  readonly kind: 'wavenet'
  readonly vocab: number
  readonly levels: number
  readonly groupSize: number
  readonly embedding: number
  readonly hidden: number
  /** WaveNet's residual connections: each level above the first adds its newest input. */
  readonly residual?: boolean
  /** WaveNet's skip connections: the head reads the sum of every level's fusion output at the newest step. */
  readonly skip?: boolean
  /** Dropout after each level's tanh, with this probability (absent: none). */
  readonly dropout?: number
}

/** How to make each piece of the tree: layers (`wavenet`) or their descriptions (`describeConfig`). */
interface Makers<T> {
  flatten(group: number): T
  /** The fusion's linear of a level (called level after level: initialisation draws in that order). */
  linear(fanIn: number): T
  norm(): T
  tanh(): T
  /** Level l's dropout layer (salted with l). */
  dropout(p: number, level: number): T
  sequential(named: readonly (readonly [string, T])[]): T
  residual(inner: T): T
  skip(body: T): T
}

/**
 * The tree's hidden layers, named: per level [flatten, linear, norm, tanh]
 * (`fuse.{l}.…`), and dropout after the tanh when the config has it; with
 * residual connections, each level above the first (as WaveNet's) has its
 * linear, norm and tanh (and dropout) in one residual block
 * (`fuse.{l}.block.…`); with skip connections, the levels inside one skip
 * layer named `fuse` (so the tensors keep their names).
 *
 * With residual connections too, skip connections add no layer: WaveNet's
 * skip sum is the sum of every level's fusion output h_l at the newest step
 * t, and with a residual connection above every level but the first the top
 * level's output at t is already that sum (x_l(t) = h_l(t) + x_{l−1}(t),
 * x_0 = h_0). The anchor script's `--residual --skip` computes the same.
 */
const treeLayers = <T>(config: WavenetConfig, make: Makers<T>): (readonly [string, T])[] => {
  const levels = Array.from({ length: config.levels }, (_, l): (readonly [string, T])[] => {
    const width = l === 0 ? config.embedding : config.hidden
    const fusion: (readonly [string, T])[] = [
      ['linear', make.linear(config.groupSize * width)], ['norm', make.norm()], ['tanh', make.tanh()],
      ...(config.dropout === undefined ? [] : [['dropout', make.dropout(config.dropout, l)] as const]),
    ]
    const body: (readonly [string, T])[] = config.residual === true && l > 0 ? [['block', make.residual(make.sequential(fusion))]] : fusion
    return [['flatten', make.flatten(config.groupSize)], ...body]
  })
  if (config.skip === true && config.residual !== true) {
    return [['fuse', make.skip(make.sequential(levels.map((level, l) => [`${l}`, make.sequential(level)] as const)))]]
  }
  return levels.flatMap((level, l) => level.map(([name, item]) => [`fuse.${l}.${name}`, item] as const))
}

export interface FlatMlpConfig {
  readonly kind: 'mlp'
  readonly vocab: number
  readonly context: number
  readonly embedding: number
  readonly hidden: number
}

export type ModelConfig = WavenetConfig | FlatMlpConfig

/**
 * A model: its layers, mapping token ids (B, receptiveField) to logits
 * (B, V). Plain data, never mutated; a hand-built `{ net }` is a model.
 */
export interface Model {
  readonly net: Sequential
  /**
   * The recipe `wavenet()` or `flatMlp()` built the net from, kept for
   * display and for checking a resumed run's flags. Nothing computed from
   * the model depends on it; a checkpoint records it only while it still
   * describes the net.
   */
  readonly config?: ModelConfig
}

/** The lecture's scaling of the output layer's initial weights: a less confident start. */
const HEAD_GAIN = 0.1

const positive = (name: string, value: number): void => {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`)
}

/** Embedding, then the given hidden blocks, then the head, initialised from `seed` in that order. */
const build = (
  config: ModelConfig, seed: number,
  blocks: (rng: Rng) => [readonly { readonly name: string; readonly layer: Layer }[], Rng],
): Model => {
  const [embedding, afterEmbedding] = initEmbedding(seeded(seed), config.vocab, config.embedding)
  const [hidden, afterHidden] = blocks(afterEmbedding)
  const [head] = initLinear(afterHidden, config.hidden, config.vocab, { gain: HEAD_GAIN })
  const named = [{ name: 'embedding', layer: embedding }, ...hidden, { name: 'head', layer: head }]
  return { config, net: sequential(named.map((n) => n.layer), named.map((n) => n.name)) }
}

/** One fusion block: concatenate `group` neighbours, Linear (no bias), BatchNorm, Tanh. */
const fuse = (rng: Rng, prefix: string, group: number, fanIn: number, hidden: number): [{ name: string; layer: Layer }[], Rng] => {
  const [linear, next] = initLinear(rng, fanIn, hidden, { bias: false })
  return [[
    { name: `${prefix}.flatten`, layer: flattenConsecutive(group) },
    { name: `${prefix}.linear`, layer: linear },
    { name: `${prefix}.norm`, layer: batchNorm1d(hidden) },
    { name: `${prefix}.tanh`, layer: tanh() },
  ], next]
}

/** The hierarchical model (see the module comment), initialised as in the lecture from `seed`. */
export const wavenet = (options: {
  readonly vocab: number
  readonly levels: number
  readonly groupSize?: number
  readonly embedding: number
  readonly hidden: number
  readonly residual?: boolean
  readonly skip?: boolean
  /** Dropout after each level's tanh with this probability, in [0, 1); 0 or absent: no dropout layers. */
  readonly dropout?: number
  readonly seed: number
}): Model => {
  const config: WavenetConfig = {
    kind: 'wavenet', vocab: options.vocab, levels: options.levels, groupSize: options.groupSize ?? 2,
    embedding: options.embedding, hidden: options.hidden,
    ...(options.residual === true ? { residual: true } : {}), ...(options.skip === true ? { skip: true } : {}),
    ...(options.dropout === undefined || options.dropout === 0 ? {} : { dropout: options.dropout }),
  }
  positive('vocab', config.vocab)
  positive('levels', config.levels)
  positive('embedding', config.embedding)
  positive('hidden', config.hidden)
  if (!Number.isInteger(config.groupSize) || config.groupSize < 2) {
    throw new RangeError(`groupSize must be an integer of at least 2, got ${config.groupSize}`)
  }
  return build(config, options.seed, (rng) => {
    let current = rng
    const layers = treeLayers<Layer>(config, {
      flatten: flattenConsecutive,
      linear(fanIn) {
        const [layer, next] = initLinear(current, fanIn, config.hidden, { bias: false })
        current = next
        return layer
      },
      norm: () => batchNorm1d(config.hidden),
      tanh,
      dropout,
      sequential: (named) => sequential(named.map(([, layer]) => layer), named.map(([name]) => name)),
      residual,
      skip,
    })
    return [layers.map(([name, layer]) => ({ name, layer })), current]
  })
}

/**
 * The lecture's flat baseline: all `context` embeddings concatenated and
 * crushed through one hidden layer [Linear (no bias), BatchNorm1d, Tanh].
 */
export const flatMlp = (options: {
  readonly vocab: number
  readonly context: number
  readonly embedding: number
  readonly hidden: number
  readonly seed: number
}): Model => {
  const config: FlatMlpConfig = {
    kind: 'mlp', vocab: options.vocab, context: options.context, embedding: options.embedding, hidden: options.hidden,
  }
  positive('vocab', config.vocab)
  positive('context', config.context)
  positive('embedding', config.embedding)
  positive('hidden', config.hidden)
  return build(config, options.seed, (rng) => fuse(rng, 'hidden', config.context, config.context * config.embedding, config.hidden))
}

/**
 * The network `wavenet(config)` or `flatMlp(config)` builds, as a
 * description: the same layers, names and sizes, computed without
 * allocating or initialising a tensor.
 */
export const describeConfig = (config: ModelConfig): SequentialDescription => {
  const fusion = (group: number, fanIn: number): [string, LayerDescription][] => [
    ['flatten', { kind: 'flatten', n: group }],
    ['linear', { kind: 'linear', in: fanIn, out: config.hidden, bias: false }],
    ['norm', { kind: 'batchnorm', dim: config.hidden, ...BATCHNORM_DEFAULTS }],
    ['tanh', { kind: 'tanh' }],
  ]
  const hidden: (readonly [string, LayerDescription])[] = config.kind === 'wavenet'
    ? treeLayers<LayerDescription>(config, {
      flatten: (n) => ({ kind: 'flatten', n }),
      linear: (fanIn) => ({ kind: 'linear', in: fanIn, out: config.hidden, bias: false }),
      norm: () => ({ kind: 'batchnorm', dim: config.hidden, ...BATCHNORM_DEFAULTS }),
      tanh: () => ({ kind: 'tanh' }),
      dropout: (p, salt) => ({ kind: 'dropout', p, salt }),
      sequential: (named) => ({ kind: 'sequential', names: named.map(([name]) => name), layers: named.map(([, layer]) => layer) }),
      residual: (inner) => ({ kind: 'residual', inner }),
      skip: (body) => ({ kind: 'skip', body: body as SequentialDescription }),
    })
    : fusion(config.context, config.context * config.embedding).map(([name, layer]) => [`hidden.${name}`, layer] as const)
  const named: (readonly [string, LayerDescription])[] = [
    ['embedding', { kind: 'embedding', vocab: config.vocab, dim: config.embedding }],
    ...hidden,
    ['head', { kind: 'linear', in: config.hidden, out: config.vocab, bias: true }],
  ]
  return { kind: 'sequential', names: named.map(([name]) => name), layers: named.map(([, layer]) => layer) }
}

/**
 * How many characters of context the model sees: the time steps its network
 * needs for one output (groupSize^levels for `wavenet`, the context for
 * `flatMlp`).
 */
export const receptiveField = (model: Model): number => inputSteps(model.net, 1)

/**
 * V, the width of the logits (B, V) the model gives for contexts
 * (B, receptiveField); a RangeError when its network cannot take such
 * contexts or gives another shape.
 */
export const logitsWidth = (model: Model): number => {
  const field = receptiveField(model)
  // A batch of one: no layer kind changes the batch axis.
  const shape = outputShape(model.net, [1, field])
  if (shape.length !== 2) {
    throw new RangeError(`the network maps contexts [B, ${field}] to ${shapeText(['B', ...shape.slice(1)])}, not to logits [B, V]`)
  }
  return shape[1]!
}

/** The trainable tensors by checkpoint name (`embedding.weight`, `fuse.0.linear.weight`, …, `head.bias`). */
export const trainableParameters = (model: Model): Named => layerParameters(model.net)

/**
 * Every tensor of the model by checkpoint name, in layer order: the trainable
 * parameters and the batchnorm running statistics (`fuse.{l}.norm.running_mean`, …).
 */
export const parameters = (model: Model): Named => {
  const trainable = trainableParameters(model)
  const running = layerBuffers(model.net)
  // Layer order: each layer's parameters, then its buffers.
  return Object.fromEntries(
    model.net.layers.flatMap((layer, i) => {
      const prefix = `${model.net.names[i]}.`
      return [...Object.keys(layerParameters(layer)), ...Object.keys(layerBuffers(layer))]
        .map((name) => [`${prefix}${name}`, trainable[`${prefix}${name}`] ?? running[`${prefix}${name}`]!])
    }),
  )
}

/** Whether a described layer holds a dropout layer, at any depth. */
const describesDropout = (json: unknown): boolean =>
  Array.isArray(json) ? json.some(describesDropout) : isJsonObject(json) && (json['kind'] === 'dropout' || Object.values(json).some(describesDropout))

/** Whether the model has dropout layers: its training steps then take a seed (see `withStepSeed`). */
export const hasDropout = (model: Model): boolean => describesDropout(describeLayer(model.net))

/** Number of trainable scalars (the lecture's count: 76,579 for its configuration). */
export const parameterCount = (model: Model): number =>
  Object.values(trainableParameters(model)).reduce((n, t) => n + size(t.shape), 0)

/** The model with some tensors replaced by checkpoint name. */
export const withParameters = (model: Model, tensors: Named): Model => ({ ...model, net: withTensors(model.net, tensors) })

/** Logits (B, vocab) for contexts (B, receptiveField); in train mode also the model with updated running statistics. */
export const modelForward = (kernels: Kernels, model: Model, contexts: IndexTensor, mode: Mode): Forward<Model, unknown> => {
  const field = receptiveField(model)
  if (contexts.shape.length !== 2 || contexts.shape[1] !== field) {
    throw new RangeError(`contexts must be (B, ${field}), got [${contexts.shape.join(', ')}]`)
  }
  const out = forward(kernels, model.net, contexts, mode)
  return { y: out.y, tape: out.tape, layer: out.layer === model.net ? model : { ...model, net: out.layer } }
}
