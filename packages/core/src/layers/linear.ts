/**
 * Linear: y = x · Wᵀ + b over the last axis, (…, in) → (…, out).
 * W is stored (out, in), the torch.nn.Linear layout, so checkpoints need no
 * transposes.
 */
import type { Kernels } from '../kernels/kernels.js'
import { normals, type Rng } from '../random.js'
import { type Tensor, tensor } from '../tensor.js'
import type { Backward, LayerOps, Named } from './layer.js'
import { floatInput, replaced } from './layer.js'

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

export interface LinearTape {
  readonly x: Tensor
}

const dims = (layer: Linear, x: Tensor): { rows: number; fanIn: number; fanOut: number } => {
  const [fanOut, fanIn] = layer.weight.shape as [number, number]
  if (x.shape[x.shape.length - 1] !== fanIn) {
    throw new RangeError(`linear(${fanIn} → ${fanOut}) got input [${x.shape.join(', ')}]`)
  }
  return { rows: x.data.length / fanIn, fanIn, fanOut }
}

export const linearOps: LayerOps<Linear, LinearTape> = {
  forward(k: Kernels, layer, input) {
    const x = floatInput(input, 'linear')
    const { rows, fanIn, fanOut } = dims(layer, x)
    const y = k.alloc(x.data, rows * fanOut)
    if (layer.bias !== null) k.broadcastRows(layer.bias.data, y, rows, fanOut)
    // y (rows, out) = x (rows, in) · Wᵀ (in, out)
    k.matmul(rows, fanOut, fanIn, x.data, false, layer.weight.data, true, y, layer.bias !== null)
    return { y: tensor([...x.shape.slice(0, -1), fanOut], y), tape: { x }, layer }
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
}
