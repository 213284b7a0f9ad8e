/**
 * Linear: y = x · Wᵀ + b over the last axis, (…, in) → (…, out).
 * W is stored (out, in), the torch.nn.Linear layout, so checkpoints need no
 * transposes.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Kernels } from '../kernels/kernels.js'
import { MAX_PARAMETERS } from '../limits.js'
import { normals, type Rng } from '../random.js'
import { type Tensor, tensor } from '../tensor.js'
import type { Backward, LayerOps, Named, TensorShapes } from './layer.js'
import { descriptionFields, floatInput, replaced, shapeText, sizeField, tensorOfShape } from './layer.js'

export interface Linear {
  readonly kind: 'linear'
  /** (out, in) */
  readonly weight: Tensor
  /** (out), or null for a layer without bias */
  readonly bias: Tensor | null
}

export const linear = (weight: Tensor, bias: Tensor | null): Linear => {
  if (weight.shape.length !== 2) throw new RangeError('linear weight must be (out, in)')
  if (bias !== null && (bias.shape.length !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new RangeError('linear bias must be (out)')
  }
  return { kind: 'linear', weight, bias }
}

/**
 * The lecture's initialisation: W ~ N(0, 1)/sqrt(in) times `gain`, zero bias.
 */
export const initLinear = (
  rng: Rng, fanIn: number, fanOut: number, options: { readonly bias?: boolean; readonly gain?: number } = {},
): [Linear, Rng] => {
  const [values, next] = normals(rng, fanOut * fanIn)
  const scale = (options.gain ?? 1) / Math.sqrt(fanIn)
  const weight = tensor([fanOut, fanIn], Float32Array.from(values, (v) => v * scale))
  const bias = options.bias ?? true ? tensor([fanOut], new Float32Array(fanOut)) : null
  return [linear(weight, bias), next]
}

export interface LinearDescription {
  readonly kind: 'linear'
  readonly in: number
  readonly out: number
  readonly bias: boolean
}

export interface LinearTape {
  readonly x: Tensor
}

// (…, in) → (…, out)
const outputShape = (layer: Linear, input: readonly number[]): readonly number[] => {
  const [fanOut, fanIn] = layer.weight.shape as [number, number]
  if (input[input.length - 1] !== fanIn) throw new RangeError(`linear(${fanIn} → ${fanOut}) got input ${shapeText(input)}`)
  return [...input.slice(0, -1), fanOut]
}

const dims = (layer: Linear, x: Tensor): { rows: number; fanIn: number; fanOut: number } => {
  const [fanOut, fanIn] = layer.weight.shape as [number, number]
  return { rows: x.data.length / fanIn, fanIn, fanOut }
}

export const linearOps: LayerOps<Linear, LinearTape, LinearDescription> = {
  forward(k: Kernels, layer, input) {
    const x = floatInput(input, 'linear')
    const shape = outputShape(layer, x.shape)
    const { rows, fanIn, fanOut } = dims(layer, x)
    const y = k.alloc(x.data, rows * fanOut)
    if (layer.bias !== null) k.broadcastRows(layer.bias.data, y, rows, fanOut)
    // y (rows, out) = x (rows, in) · Wᵀ (in, out)
    k.matmul(rows, fanOut, fanIn, x.data, false, layer.weight.data, true, y, layer.bias !== null)
    return { y: tensor(shape, y), tape: { x }, layer }
  },

  backward(k, layer, { x }, dy): Backward {
    const { rows, fanIn, fanOut } = dims(layer, x)
    // dx (rows, in) = dy (rows, out) · W (out, in)
    const dx = k.alloc(dy.data, rows * fanIn)
    k.matmul(rows, fanIn, fanOut, dy.data, false, layer.weight.data, false, dx, false)
    // dW (out, in) = dyᵀ (out, rows) · x (rows, in)
    const dWeight = k.alloc(dy.data, fanOut * fanIn)
    k.matmul(fanOut, fanIn, rows, dy.data, true, x.data, false, dWeight, false)
    const weight = tensor(layer.weight.shape, dWeight)
    if (layer.bias === null) return { dx: tensor(x.shape, dx), grads: { weight } }
    // db (out) = Σ over rows of dy
    const dBias = k.alloc(dy.data, fanOut)
    k.sumRows(dy.data, dBias, rows, fanOut)
    return { dx: tensor(x.shape, dx), grads: { weight, bias: tensor([fanOut], dBias) } }
  },

  parameters: (layer): Named => (layer.bias === null ? { weight: layer.weight } : { weight: layer.weight, bias: layer.bias }),
  buffers: () => ({}),
  withTensors: (layer, tensors) =>
    linear(
      replaced(tensors, 'weight', layer.weight),
      layer.bias === null ? null : replaced(tensors, 'bias', layer.bias),
    ),
  outputShape,
  inputSteps: (_layer, steps) => steps,
  describe: (layer) => ({ kind: 'linear', in: layer.weight.shape[1]!, out: layer.weight.shape[0]!, bias: layer.bias !== null }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'linear', ['in', 'out', 'bias']),
      E.chain((fields) => pipe(
        E.Do,
        E.bind('in', () => sizeField('linear', fields, 'in', MAX_PARAMETERS)),
        E.bind('out', () => sizeField('linear', fields, 'out', MAX_PARAMETERS)),
        E.bind('bias', () => (typeof fields['bias'] === 'boolean' ? E.right(fields['bias']) : E.left('linear: bias must be true or false'))),
      )),
      E.map((d) => ({ kind: 'linear', ...d })),
    ),
  tensorShapes: (d): TensorShapes => (d.bias ? { weight: [d.out, d.in], bias: [d.out] } : { weight: [d.out, d.in] }),
  build: (d, tensors) => linear(tensorOfShape(tensors, 'weight', [d.out, d.in]), d.bias ? tensorOfShape(tensors, 'bias', [d.out]) : null),
}
