/**
 * FlattenConsecutive(n): (B, T, C) → (B, T/n, C·n), concatenating each run of
 * n neighbouring time steps; the time axis is dropped when it reaches 1, as in
 * the lecture. In row-major order the n neighbours' vectors are already
 * contiguous, so this is a reshape: no data moves, and the gradient is the
 * reverse reshape.
 */
import { type Tensor, tensor } from '../tensor.js'
import type { LayerOps } from './layer.js'
import { floatInput } from './layer.js'

export interface FlattenConsecutive {
  readonly kind: 'flatten'
  readonly n: number
}

export const flattenConsecutive = (n: number): FlattenConsecutive => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`flatten group must be a positive integer, got ${n}`)
  return { kind: 'flatten', n }
}

export interface FlattenTape {
  readonly inputShape: readonly number[]
}

export const flattenOps: LayerOps<FlattenConsecutive, FlattenTape> = {
  forward(_k, layer, x) {
    const input: Tensor = floatInput(x, 'flatten')
    if (input.shape.length !== 3) throw new RangeError(`flatten expects (B, T, C), got [${input.shape.join(', ')}]`)
    const [b, t, c] = input.shape as [number, number, number]
    if (t % layer.n !== 0) throw new RangeError(`flatten(${layer.n}): time axis ${t} is not a multiple of ${layer.n}`)
    const steps = t / layer.n
    const shape = steps === 1 ? [b, c * layer.n] : [b, steps, c * layer.n]
    return { y: tensor(shape, input.data), tape: { inputShape: input.shape }, layer }
  },

  backward(_k, _layer, tape, dy) {
    return { dx: tensor(tape.inputShape, dy.data), grads: {} }
  },

  parameters: () => ({}),
  buffers: () => ({}),
  withTensors: (layer) => layer,
}
