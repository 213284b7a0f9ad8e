/** Embedding: token ids (B, T) → vectors (B, T, C), a row lookup in a (vocab, C) table. */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Kernels } from '../kernels/kernels.js'
import { MAX_PARAMETERS } from '../limits.js'
import { type IndexTensor, type Tensor, tensor } from '../tensor.js'
import { normals, type Rng } from '../random.js'
import type { Activation, LayerOps } from './layer.js'
import { descriptionFields, replaced, sizeField, tensorOfShape } from './layer.js'

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

export interface EmbeddingDescription {
  readonly kind: 'embedding'
  /** Rows of the table: token ids run from 0 to vocab − 1. */
  readonly vocab: number
  /** Width of a vector. */
  readonly dim: number
}

export interface EmbeddingTape {
  readonly ids: IndexTensor
}

const ids = (x: Activation): IndexTensor => {
  if (!(x.data instanceof Int32Array)) throw new TypeError('embedding expects token ids (Int32Array)')
  return x as IndexTensor
}

// (…) token ids → (…, C)
const outputShape = (layer: Embedding, input: readonly number[]): readonly number[] => [...input, layer.weight.shape[1]!]

export const embeddingOps: LayerOps<Embedding, EmbeddingTape, EmbeddingDescription> = {
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
    return { y: tensor(outputShape(layer, input.shape), y), tape: { ids: input }, layer }
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
  outputShape,
  inputSteps: (_layer, steps) => steps,
  describe: (layer) => ({ kind: 'embedding', vocab: layer.weight.shape[0]!, dim: layer.weight.shape[1]! }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'embedding', ['vocab', 'dim']),
      E.chain((fields) => pipe(
        E.Do,
        E.bind('vocab', () => sizeField('embedding', fields, 'vocab', MAX_PARAMETERS)),
        E.bind('dim', () => sizeField('embedding', fields, 'dim', MAX_PARAMETERS)),
      )),
      E.map(({ vocab, dim }) => ({ kind: 'embedding', vocab, dim })),
    ),
  tensorShapes: ({ vocab, dim }) => ({ weight: [vocab, dim] }),
  build: ({ vocab, dim }, tensors) => embedding(tensorOfShape(tensors, 'weight', [vocab, dim])),
}
