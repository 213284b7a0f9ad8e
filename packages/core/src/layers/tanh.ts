/** Tanh, elementwise; its derivative is written with its output: 1 − y². */
import * as E from 'fp-ts/lib/Either.js'
import { tensor } from '../tensor.js'
import type { Tensor } from '../tensor.js'
import type { LayerOps } from './layer.js'
import { descriptionFields, elementwiseOps, floatInput } from './layer.js'

export interface Tanh {
  readonly kind: 'tanh'
}

export const tanh = (): Tanh => ({ kind: 'tanh' })

export interface TanhDescription {
  readonly kind: 'tanh'
}

export interface TanhTape {
  readonly y: Tensor
}

export const tanhOps: LayerOps<Tanh, TanhTape, TanhDescription> = {
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

  ...elementwiseOps<Tanh, TanhDescription>(),
  describe: () => ({ kind: 'tanh' }),
  parse: (json) => E.map(() => ({ kind: 'tanh' as const }))(descriptionFields(json, 'tanh', [])),
  build: () => tanh(),
}
