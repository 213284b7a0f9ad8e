/**
 * Models: the hierarchical WaveNet-style model and the lecture's flat MLP
 * baseline, as a configuration and a Sequential of layers whose names are the
 * checkpoint's tensor names.
 *
 * wavenet: Embedding(vocab, E), then for each level l = 0 … levels−1
 *   [FlattenConsecutive(g), Linear(g·in, H, no bias), BatchNorm1d(H), Tanh],
 * then Linear(H, vocab). Level l+1 fuses g neighbouring nodes of level l, so
 * the top node sees g^levels characters: each added level multiplies the
 * context by g.
 */
import type { Kernels } from './kernels/kernels.js'
import { batchNorm1d } from './layers/batchnorm.js'
import { initEmbedding } from './layers/embedding.js'
import { flattenConsecutive } from './layers/flatten.js'
import type { Forward, Mode, Named } from './layers/layer.js'
import { initLinear } from './layers/linear.js'
import { forward, layerBuffers, layerParameters, type Layer, type Sequential, sequential, withTensors } from './layers/sequential.js'
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
}

export interface FlatMlpConfig {
  readonly kind: 'mlp'
  readonly vocab: number
  readonly context: number
  readonly embedding: number
  readonly hidden: number
}

export type ModelConfig = WavenetConfig | FlatMlpConfig

/** A model: its configuration and its layers. Plain data, never mutated. */
export interface Model {
  readonly config: ModelConfig
  readonly net: Sequential
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
  readonly seed: number
}): Model => {
  const config: WavenetConfig = {
    kind: 'wavenet', vocab: options.vocab, levels: options.levels, groupSize: options.groupSize ?? 2,
    embedding: options.embedding, hidden: options.hidden,
  }
  positive('vocab', config.vocab)
  positive('levels', config.levels)
  positive('embedding', config.embedding)
  positive('hidden', config.hidden)
  if (!Number.isInteger(config.groupSize) || config.groupSize < 2) {
    throw new RangeError(`groupSize must be an integer of at least 2, got ${config.groupSize}`)
  }
  return build(config, options.seed, (rng) => {
    const layers: { name: string; layer: Layer }[] = []
    let current = rng
    for (let l = 0; l < config.levels; l++) {
      const fanIn = config.groupSize * (l === 0 ? config.embedding : config.hidden)
      const [block, next] = fuse(current, `fuse.${l}`, config.groupSize, fanIn, config.hidden)
      layers.push(...block)
      current = next
    }
    return [layers, current]
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

/** How many characters of context the model sees: groupSize^levels, or the flat model's context. */
export const receptiveField = (model: Model): number =>
  model.config.kind === 'wavenet' ? model.config.groupSize ** model.config.levels : model.config.context

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
