/**
 * FlattenConsecutive(n): (B, T, C) → (B, T/n, C·n), concatenating each run of
 * n neighbouring time steps; the time axis is dropped when it reaches 1, as in
 * the lecture. In row-major order the n neighbours' vectors are already
 * contiguous, so this is a reshape: no data moves, and the gradient is the
 * reverse reshape.
 *
 * In the sequence view (time as an axis of nodes, `sequence.ts`) the same
 * concatenation is a dilated causal convolution's gather: the node at time t
 * fuses the nodes below at t − (n−1)·d, …, t − d, t (d, the stride of its
 * input: the product of the group sizes below), oldest first, which the
 * packing lists as rows; its gradient scatters back, summing where a node
 * feeds several.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { MAX_RECEPTIVE_FIELD } from '../limits.js'
import { type IndexTensor, type Tensor, tensor } from '../tensor.js'
import type { LayerOps } from './layer.js'
import { descriptionFields, floatInput, shapeText, sizeField } from './layer.js'

export interface FlattenConsecutive {
  readonly kind: 'flatten'
  readonly n: number
}

export const flattenConsecutive = (n: number): FlattenConsecutive => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`flatten group must be a positive integer, got ${n}`)
  return { kind: 'flatten', n }
}

export interface FlattenDescription {
  readonly kind: 'flatten'
  readonly n: number
}

export interface FlattenTape {
  readonly inputShape: readonly number[]
}

export interface FlattenSequenceTape {
  /** Rows of the table of nodes read (training: the nodes below). */
  readonly rows: number
  readonly sources: IndexTensor
}

// (B, T, C) → (B, T/n, C·n), or (B, C·n) when T = n
const outputShape = (layer: FlattenConsecutive, input: readonly number[]): readonly number[] => {
  if (input.length !== 3) throw new RangeError(`flatten expects (B, T, C), got ${shapeText(input)}`)
  const [b, t, c] = input as [number, number, number]
  if (t % layer.n !== 0) throw new RangeError(`flatten(${layer.n}): time axis ${t} is not a multiple of ${layer.n}`)
  const steps = t / layer.n
  return steps === 1 ? [b, c * layer.n] : [b, steps, c * layer.n]
}

export const flattenOps: LayerOps<FlattenConsecutive, FlattenTape, FlattenDescription> = {
  forward(_k, layer, x) {
    const input: Tensor = floatInput(x, 'flatten')
    return { y: tensor(outputShape(layer, input.shape), input.data), tape: { inputShape: input.shape }, layer }
  },

  backward(_k, _layer, tape, dy) {
    return { dx: tensor(tape.inputShape, dy.data), grads: {} }
  },

  parameters: () => ({}),
  buffers: () => ({}),
  withTensors: (layer) => layer,
  outputShape,
  inputSteps: (layer, steps) => layer.n * steps,
  describe: (layer) => ({ kind: 'flatten', n: layer.n }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'flatten', ['n']),
      E.chain((fields) => sizeField('flatten', fields, 'n', MAX_RECEPTIVE_FIELD)),
      E.map((n) => ({ kind: 'flatten', n })),
    ),
  tensorShapes: () => ({}),
  build: ({ n }) => flattenConsecutive(n),
  sequence: {
    // (N, C) nodes → (M, n·C): row m is the table's rows sources[m·n … m·n + n − 1] end to end.
    forward(k, layer, x, stride, packing) {
      const input = floatInput(x, 'flatten')
      if (input.shape.length !== 2) throw new RangeError(`flatten in the sequence view expects (N, C) nodes, got ${shapeText(input.shape)}`)
      const c = input.shape[1]!
      const { nodes, sources } = packing.fusion(k, input, layer.n, stride)
      const count = sources.data.length
      const y = k.alloc(input.data, count * c)
      k.gather(nodes.data, sources.data, y, count, c)
      const tape: FlattenSequenceTape = { rows: nodes.shape[0]!, sources }
      return { y: tensor([count / layer.n, c * layer.n], y), tape, layer, stride: stride * layer.n }
    },
    backward(k, _layer, tape, dy) {
      const { rows, sources } = tape as FlattenSequenceTape
      const c = dy.data.length / sources.data.length
      const dx = k.alloc(dy.data, rows * c)
      k.scatterAdd(dy.data, sources.data, dx, sources.data.length, c, rows)
      return { dx: tensor([rows, c], dx), grads: {} }
    },
  },
}
