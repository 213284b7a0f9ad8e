/** Tanh, elementwise; its derivative is written with its output: 1 − y². */
import { tensor } from '../tensor.js'
import type { Tensor } from '../tensor.js'
import type { LayerOps } from './layer.js'
import { floatInput } from './layer.js'

export interface Tanh {
  readonly kind: 'tanh'
}

export const tanh = (): Tanh => ({ kind: 'tanh' })

export interface TanhTape {
  readonly y: Tensor
}

export const tanhOps: LayerOps<Tanh, TanhTape> = {
  forward(k, layer, input) {
    const x = floatInput(input, 'tanh')
    const y = k.alloc(x.data, x.data.length)
    k.tanhForward(x.data, y, x.data.length)
    const out = tensor(x.shape, y)
    return { y: out, tape: { y: out }, layer }
  },

  backward(k, _layer, tape, dy) {
    const dx = k.alloc(dy.data, dy.data.length)
    k.tanhBackward(tape.y.data, dy.data, dx, dy.data.length)
    return { dx: tensor(dy.shape, dx), grads: {} }
  },

  parameters: () => ({}),
  buffers: () => ({}),
  withTensors: (layer) => layer,
}
