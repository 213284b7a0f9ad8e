/**
 * Dropout, elementwise: in training each value is kept with probability
 * 1 − p and scaled by 1/(1 − p), or set to 0; in eval mode the input passes
 * through. The mask is no draw of its own: it is a hash of the step's seed
 * (the mode's, drawn once per step from the run's generator), the layer's
 * salt and each value's index (row·C + c), computed inside the `dropout`
 * kernel, so every backend, the pure step and the compiled one keep the same
 * values, and a resumed run draws the same masks. The gradient is the same
 * mask applied to dy, recomputed from the seed. In the sequence view a node
 * is one row, computed once, so every position that shares a node (the
 * boundary node) shares its mask.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { SEED_BOUND } from '../kernels/kernels.js'
import { type IndexTensor, tensor } from '../tensor.js'
import type { LayerOps } from './layer.js'
import { descriptionFields, elementwiseOps, floatInput, numberField } from './layer.js'

export interface Dropout {
  readonly kind: 'dropout'
  /** The probability of dropping a value, in [0, 1). */
  readonly p: number
  /** Set apart from the other dropout layers' masks of the same step: a whole number in [0, 2^31). */
  readonly salt: number
}

export interface DropoutDescription {
  readonly kind: 'dropout'
  readonly p: number
  readonly salt: number
}

const validP = (p: number): boolean => p >= 0 && p < 1
const validSalt = (salt: number): boolean => Number.isInteger(salt) && salt >= 0 && salt < SEED_BOUND

/** Dropout with probability `p` (0 ≤ p < 1) and `salt`, which sets its masks apart from other dropout layers' of the same step. */
export const dropout = (p: number, salt: number): Dropout => {
  if (!validP(p)) throw new RangeError(`dropout p must be in [0, 1), got ${p}`)
  if (!validSalt(salt)) throw new RangeError(`dropout salt must be a whole number in [0, 2^31), got ${salt}`)
  return { kind: 'dropout', p, salt }
}

/** The step's seed, when the pass dropped values (training); undefined in eval mode. */
interface DropoutTape {
  readonly seed: IndexTensor | undefined
}

export const dropoutOps: LayerOps<Dropout, DropoutTape, DropoutDescription> = {
  forward(k, layer, input, mode) {
    const x = floatInput(input, 'dropout')
    if (mode === 'eval') return { y: x, tape: { seed: undefined }, layer }
    if (mode === 'train') throw new RangeError('dropout: training needs the step\'s seed (a batch\'s `seed`, see `withStepSeed`)')
    const y = k.alloc(x.data, x.data.length)
    k.dropout(x.data, mode.seed.data, y, x.data.length, layer.salt, layer.p)
    return { y: tensor(x.shape, y), tape: { seed: mode.seed }, layer }
  },

  backward(k, layer, tape, dy) {
    if (tape.seed === undefined) return { dx: dy, grads: {} }
    const dx = k.alloc(dy.data, dy.data.length)
    k.dropout(dy.data, tape.seed.data, dx, dy.data.length, layer.salt, layer.p)
    return { dx: tensor(dy.shape, dx), grads: {} }
  },

  ...elementwiseOps<Dropout, DropoutDescription>(),
  describe: (layer) => ({ kind: 'dropout', p: layer.p, salt: layer.salt }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'dropout', ['p', 'salt']),
      E.chain((fields) => pipe(
        numberField('dropout', fields, 'p', 'a number from 0 up to (not including) 1', validP),
        E.chain((p) => E.map((salt: number) => ({ kind: 'dropout' as const, p, salt }))(
          numberField('dropout', fields, 'salt', 'a whole number from 0 to 2^31 − 1', validSalt),
        )),
      )),
    ),
  build: (description) => dropout(description.p, description.salt),
}
