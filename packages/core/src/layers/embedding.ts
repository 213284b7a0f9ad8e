/** Embedding: token ids (B, T) → vectors (B, T, C), a row lookup in a (vocab, C) table. */
import type { Kernels } from '../kernels/kernels.js'
import { type IndexTensor, type Tensor, tensor } from '../tensor.js'
import { normals, type Rng } from '../random.js'
import type { Activation, LayerOps } from './layer.js'
import { replaced } from './layer.js'

export interface Embedding {
  readonly kind: 'embedding'
  /** (vocab, C) */
  readonly weight: Tensor
}

/** An embedding over a given table. */
export const embedding = (weight: Tensor): Embedding => {
  if (weight.shape.length !== 2) throw new RangeError('embedding weight must be (vocab, dim)')
  return { kind: 'embedding', weight }
}

/** The lecture's initialisation: every entry N(0, 1). */
export const initEmbedding = (rng: Rng, vocab: number, dim: number): [Embedding, Rng] => {
  const [values, next] = normals(rng, vocab * dim)
  return [embedding(tensor([vocab, dim], Float32Array.from(values))), next]
}

export interface EmbeddingTape {
  readonly ids: IndexTensor
}

const ids = (x: Activation): IndexTensor => {
  if (!(x.data instanceof Int32Array)) throw new TypeError('embedding expects token ids (Int32Array)')
  return x as IndexTensor
}

export const embeddingOps: LayerOps<Embedding, EmbeddingTape> = {
  forward(k: Kernels, layer, x) {
    const input = ids(x)
    const [vocab, dim] = layer.weight.shape as [number, number]
    const count = input.data.length
    for (const id of input.data) {
      if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} outside the vocabulary of ${vocab}`)
    }
    // (B, T) → (B, T, C)
    const y = k.alloc(layer.weight.data, count * dim)
    k.gather(layer.weight.data, input.data, y, count, dim)
    return { y: tensor([...input.shape, dim], y), tape: { ids: input }, layer }
  },

  backward(k, layer, tape, dy) {
    const [vocab, dim] = layer.weight.shape as [number, number]
    const dWeight = k.alloc(layer.weight.data, vocab * dim)
    k.scatterAdd(dy.data, tape.ids.data, dWeight, tape.ids.data.length, dim, vocab)
    return { dx: null, grads: { weight: tensor(layer.weight.shape, dWeight) } }
  },

  parameters: (layer) => ({ weight: layer.weight }),
  buffers: () => ({}),
  withTensors: (layer, tensors) => embedding(replaced(tensors, 'weight', layer.weight)),
}
