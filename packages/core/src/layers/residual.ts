/**
 * Residual: y = inner(x) + the last C channels of x, C being the width of
 * inner's output — WaveNet's residual connection. After a fusion of g
 * neighbours (x = g·C channels, the newest neighbour last) those are the
 * newest neighbour's own channels: a level's output plus its input at the
 * same time step, in the tree and in the sequence view alike. The gradient
 * of x is inner's plus dy on those channels.
 *
 * The layer adds no tensors and no name: its tensors are inner's, as named
 * there.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Kernels } from '../kernels/kernels.js'
import { type Tensor, tensor } from '../tensor.js'
import type { Activation, Backward, LayerOps, Mode, Packing } from './layer.js'
import { descriptionFields, floatInput, shapeText } from './layer.js'
import type { Dispatch, Layer, LayerDescription } from './sequential.js'

export interface Residual {
  readonly kind: 'residual'
  readonly inner: Layer
}

export interface ResidualDescription {
  readonly kind: 'residual'
  readonly inner: LayerDescription
}

/** inner(x) plus x's last channels (see the module comment). */
export const residual = (inner: Layer): Residual => ({ kind: 'residual', inner })

interface ResidualTape {
  readonly inner: unknown
  /** Shape of x. */
  readonly input: readonly number[]
}

/** y (rows × C) = out + x[:, W − C:], x rows × W. */
const addInput = (k: Kernels, x: Tensor, out: Tensor): Tensor => {
  const c = out.shape[out.shape.length - 1]!
  const w = x.shape[x.shape.length - 1]!
  const rows = out.data.length / c
  const y = k.alloc(out.data, out.data.length)
  k.addStrided(out.data, c, 0, y, c, 0, rows, c, false)
  k.addStrided(x.data, w, w - c, y, c, 0, rows, c, true)
  return tensor(out.shape, y)
}

/** dx = inner's dx plus dy on the last C channels, in inner's (fresh) dx. */
const addGradient = (k: Kernels, tape: ResidualTape, inner: Backward, dy: Tensor): Backward => {
  if (inner.dx === null) throw new RangeError('residual: no gradient flows into the input')
  const c = dy.shape[dy.shape.length - 1]!
  const w = tape.input[tape.input.length - 1]!
  k.addStrided(dy.data, c, 0, inner.dx.data, w, w - c, dy.data.length / c, c, true)
  return inner
}

/** The layer's ops, over the dispatch of its inner layer. */
export const residualOps = (d: Dispatch): LayerOps<Residual, ResidualTape, ResidualDescription> => ({
  forward(k, layer, input, mode) {
    const x = floatInput(input, 'residual')
    const out = d.forward(k, layer.inner, x, mode)
    const after = out.layer === layer.inner ? layer : residual(out.layer)
    return { y: addInput(k, x, out.y), tape: { inner: out.tape, input: x.shape }, layer: after }
  },
  backward: (k, layer, tape, dy) => addGradient(k, tape, d.backward(k, layer.inner, tape.inner, dy), dy),
  sequence: {
    forward(k: Kernels, layer: Residual, input: Activation, stride: number, packing: Packing, mode: Mode) {
      const x = floatInput(input, 'residual')
      const out = d.sequenceForward(k, layer.inner, x, stride, packing, mode)
      const after = out.layer === layer.inner ? layer : residual(out.layer)
      return { y: addInput(k, x, out.y), tape: { inner: out.tape, input: x.shape }, layer: after, stride: out.stride }
    },
    backward: (k, layer, tape, dy) => {
      const t = tape as ResidualTape
      return addGradient(k, t, d.sequenceBackward(k, layer.inner, t.inner, dy), dy)
    },
  },
  parameters: (layer) => d.layerParameters(layer.inner),
  buffers: (layer) => d.layerBuffers(layer.inner),
  withTensors: (layer, tensors) => residual(d.withTensors(layer.inner, tensors)),
  outputShape(layer, input) {
    const out = d.outputShape(layer.inner, input)
    const [c, w] = [out[out.length - 1]!, input[input.length - 1]!]
    if (c > w || out.length !== input.length) {
      throw new RangeError(`residual: the inner output ${shapeText(out)} cannot be added to the last channels of the input ${shapeText(input)}`)
    }
    return out
  },
  inputSteps: (layer, steps) => d.inputSteps(layer.inner, steps),
  describe: (layer) => ({ kind: 'residual', inner: d.describeLayer(layer.inner) }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'residual', ['inner']),
      E.chain(({ inner }) => d.parseLayer(inner)),
      E.map((inner) => ({ kind: 'residual' as const, inner })),
    ),
  tensorShapes: (description) => d.tensorShapes(description.inner),
  build: (description, tensors) => residual(d.buildLayer(description.inner, tensors)),
})
