/**
 * Sequential: layers applied in order. Forward folds over the layers, backward
 * folds over them in reverse. Every layer kind is dispatched through one typed
 * record, `layerOps`: adding a kind is one file and one entry here.
 *
 * Parameter names are the child's name, a dot, and the child's own name for
 * the tensor (`fuse.0.linear.weight`).
 */
import type { Kernels } from '../kernels/kernels.js'
import type { Tensor } from '../tensor.js'
import { type BatchNorm1d, batchNormOps } from './batchnorm.js'
import { type Embedding, embeddingOps } from './embedding.js'
import { type FlattenConsecutive, flattenOps } from './flatten.js'
import type { Activation, Backward, Forward, LayerOps, Mode, Named } from './layer.js'
import { type Linear, linearOps } from './linear.js'
import { type Tanh, tanhOps } from './tanh.js'

export interface Sequential {
  readonly kind: 'sequential'
  readonly layers: readonly Layer[]
  /** One name per layer: the prefix of its tensors' names. */
  readonly names: readonly string[]
}

/** Every layer kind. */
export type Layer = Embedding | FlattenConsecutive | Linear | BatchNorm1d | Tanh | Sequential

/** Layers in order, named by `names` (default: their positions). */
export const sequential = (layers: readonly Layer[], names: readonly string[] = layers.map((_, i) => `${i}`)): Sequential => {
  if (names.length !== layers.length) throw new RangeError('sequential needs one name per layer')
  if (new Set(names).size !== names.length) throw new RangeError('sequential layer names must be distinct')
  return { kind: 'sequential', layers: [...layers], names: [...names] }
}

export type SequentialTape = readonly unknown[]

type OpsRecord = { readonly [K in Layer['kind']]: LayerOps<Extract<Layer, { kind: K }>, unknown> }

const prefixed = (prefix: string, named: Named): Named =>
  Object.fromEntries(Object.entries(named).map(([name, t]) => [`${prefix}.${name}`, t]))

const childTensors = (prefix: string, named: Named): Named =>
  Object.fromEntries(
    Object.entries(named)
      .filter(([name]) => name.startsWith(`${prefix}.`))
      .map(([name, t]) => [name.slice(prefix.length + 1), t]),
  )

const collect = (layer: Sequential, pick: (child: Layer) => Named): Named =>
  Object.assign({}, ...layer.layers.map((child, i) => prefixed(layer.names[i]!, pick(child))))

const sequentialOps: LayerOps<Sequential, SequentialTape> = {
  forward(k, layer, x, mode) {
    const tapes: unknown[] = []
    const layers: Layer[] = []
    let y: Activation = x
    for (const child of layer.layers) {
      const out = forward(k, child, y, mode)
      tapes.push(out.tape)
      layers.push(out.layer)
      y = out.y
    }
    const after = layers.every((l, i) => l === layer.layers[i]) ? layer : { ...layer, layers }
    return { y: y as Tensor, tape: tapes, layer: after }
  },

  backward(k, layer, tape, dy) {
    const grads: Named[] = []
    let d: Tensor | null = dy
    for (let i = layer.layers.length - 1; i >= 0; i--) {
      if (d === null) throw new RangeError(`no gradient flows into layer ${layer.names[i]}: token ids feed only the first layer`)
      const out: Backward = backward(k, layer.layers[i]!, tape[i], d)
      grads.push(prefixed(layer.names[i]!, out.grads))
      d = out.dx
    }
    return { dx: d, grads: Object.assign({}, ...grads) }
  },

  parameters: (layer) => collect(layer, layerParameters),
  buffers: (layer) => collect(layer, layerBuffers),
  withTensors: (layer, tensors) => ({
    ...layer,
    layers: layer.layers.map((child, i) => withTensors(child, childTensors(layer.names[i]!, tensors))),
  }),
}

/** The operations of every layer kind, by `kind`. */
export const layerOps: OpsRecord = {
  embedding: embeddingOps,
  flatten: flattenOps,
  linear: linearOps,
  batchnorm: batchNormOps,
  tanh: tanhOps,
  sequential: sequentialOps,
}

const opsOf = <L extends Layer>(layer: L): LayerOps<L, unknown> => layerOps[layer.kind] as unknown as LayerOps<L, unknown>

/** Runs any layer forward: the output, the tape for backward, and the layer after the pass. */
export const forward = <L extends Layer>(kernels: Kernels, layer: L, x: Activation, mode: Mode): Forward<L, unknown> =>
  opsOf(layer).forward(kernels, layer, x, mode)

/** Runs any layer backward from the tape of its forward pass and the gradient of its output. */
export const backward = <L extends Layer>(kernels: Kernels, layer: L, tape: unknown, dy: Tensor): Backward =>
  opsOf(layer).backward(kernels, layer, tape, dy)

/** The trainable tensors of any layer, by name. */
export const layerParameters = (layer: Layer): Named => opsOf(layer).parameters(layer)

/** The running statistics of any layer, by name. */
export const layerBuffers = (layer: Layer): Named => opsOf(layer).buffers(layer)

/** Any layer with some of its parameters and buffers replaced, by name. */
export const withTensors = <L extends Layer>(layer: L, tensors: Named): L => opsOf(layer).withTensors(layer, tensors)
