/**
 * The helpers every layer kind shares (`layers/layer.ts`): input and tensor
 * shape checks, and the field checks of descriptions read from untrusted
 * JSON, each with the message it gives.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { indices, tensor, zeros } from '../src/index.js'
import { descriptionFields, floatInput, numberField, replaced, shapeText, sizeField, tensorOfShape } from '../src/layers/layer.js'

const left = <A>(e: E.Either<string, A>): string => {
  if (E.isRight(e)) throw new Error(`expected a Left, got ${JSON.stringify(e.right)}`)
  return e.left
}

describe('layer input and tensor checks', () => {
  it('floatInput passes a float tensor through and refuses token ids, naming the layer', () => {
    const x = zeros([2, 3])
    expect(floatInput(x, 'linear')).toBe(x)
    expect(() => floatInput(indices([2], Int32Array.of(1, 2)), 'tanh')).toThrow(new TypeError('tanh expects a float tensor, got token ids'))
  })

  it('replaced keeps the current tensor when none is given, and takes only one of the same shape', () => {
    const current = zeros([2, 3])
    const same = tensor([2, 3], new Float32Array(6).fill(1))
    expect(replaced({}, 'w', current)).toBe(current)
    expect(replaced({ other: zeros([1]) }, 'w', current)).toBe(current)
    expect(replaced({ w: same }, 'w', current)).toBe(same)
    expect(() => replaced({ w: zeros([2, 3, 1]) }, 'w', current)).toThrow(new RangeError('w: shape [2, 3, 1] does not match [2, 3]'))
    expect(() => replaced({ w: zeros([2]) }, 'w', current)).toThrow('w: shape [2] does not match [2, 3]')
    expect(() => replaced({ w: zeros([2, 4]) }, 'w', current)).toThrow('w: shape [2, 4] does not match [2, 3]')
    expect(() => replaced({ w: zeros([3, 3]) }, 'w', current)).toThrow('w: shape [3, 3] does not match [2, 3]')
  })

  it('shapeText writes shapes as the messages show them', () => {
    expect(shapeText([2, 3])).toBe('[2, 3]')
    expect(shapeText(['B', 3])).toBe('[B, 3]')
    expect(shapeText([])).toBe('[]')
  })

  it('tensorOfShape takes a present tensor of exactly the shape, and names what is wrong otherwise', () => {
    const t = zeros([4, 2])
    expect(tensorOfShape({ weight: t }, 'weight', [4, 2])).toBe(t)
    expect(() => tensorOfShape({ bias: t }, 'weight', [4, 2])).toThrow(new RangeError('missing tensor "weight"'))
    expect(() => tensorOfShape({ weight: t }, 'weight', [4])).toThrow(new RangeError('tensor "weight" has shape [4, 2], expected [4]'))
    expect(() => tensorOfShape({ weight: t }, 'weight', [4, 2, 1])).toThrow('tensor "weight" has shape [4, 2], expected [4, 2, 1]')
    expect(() => tensorOfShape({ weight: t }, 'weight', [2, 4])).toThrow('tensor "weight" has shape [4, 2], expected [2, 4]')
    expect(() => tensorOfShape({ weight: t }, 'weight', [4, 3])).toThrow('tensor "weight" has shape [4, 2], expected [4, 3]')
  })
})

describe('description fields from untrusted JSON', () => {
  it('descriptionFields takes an object of the kind with exactly the fields', () => {
    const json = { kind: 'linear', in: 2, out: 3 }
    expect(descriptionFields(json, 'linear', ['in', 'out'])).toEqual(E.right(json))
    expect(descriptionFields({ out: 3, kind: 'linear', in: 2 }, 'linear', ['in', 'out'])).toEqual(E.right({ out: 3, kind: 'linear', in: 2 }))
    for (const bad of [null, [], 3, 'linear', undefined]) {
      expect(left(descriptionFields(bad, 'linear', ['in']))).toBe('a linear description must be an object')
    }
    expect(left(descriptionFields({ in: 2 }, 'linear', ['in']))).toBe('a linear description needs "kind": "linear"')
    expect(left(descriptionFields({ kind: 'tanh', in: 2 }, 'linear', ['in']))).toBe('a linear description needs "kind": "linear"')
    expect(left(descriptionFields({ kind: 'linear', in: 2, bias: true }, 'linear', ['in']))).toBe('linear: unknown field "bias"')
    expect(left(descriptionFields({ kind: 'linear', out: 2 }, 'linear', ['in', 'out']))).toBe('linear: missing field "in"')
    expect(left(descriptionFields({ kind: 'linear', in: 2 }, 'linear', ['in', 'out']))).toBe('linear: missing field "out"')
    // A field present with the value undefined is present.
    expect(E.isRight(descriptionFields({ kind: 'linear', in: undefined }, 'linear', ['in']))).toBe(true)
  })

  it('shows untrusted values short and on one line: at most 40 characters, then an ellipsis', () => {
    const forty = 'k'.repeat(38) // "kkk…k" with its quotes is 40 characters
    expect(left(descriptionFields({ kind: 'tanh', [forty]: 1 }, 'tanh', []))).toBe(`tanh: unknown field "${forty}"`)
    const longer = 'k'.repeat(39)
    expect(left(descriptionFields({ kind: 'tanh', [longer]: 1 }, 'tanh', []))).toBe(`tanh: unknown field "${longer.slice(0, 39)}…`)
    expect(left(descriptionFields({ kind: 'tanh', 'a\nb': 1 }, 'tanh', []))).toBe('tanh: unknown field "a\\nb"')
  })

  it('sizeField takes a whole number from 1 to the maximum', () => {
    const fields = { a: 1, b: 7, c: 8, d: 0, e: 2.5, f: '3', g: 2 ** 53, h: Number.NaN, i: -1 }
    expect(sizeField('linear', fields, 'a', 7)).toEqual(E.right(1))
    expect(sizeField('linear', fields, 'b', 7)).toEqual(E.right(7))
    expect(left(sizeField('linear', fields, 'c', 7))).toBe('linear: c must be a whole number from 1 to 7, got 8')
    expect(left(sizeField('linear', fields, 'd', 7))).toBe('linear: d must be a whole number from 1 to 7, got 0')
    expect(left(sizeField('linear', fields, 'e', 7))).toBe('linear: e must be a whole number from 1 to 7, got 2.5')
    expect(left(sizeField('linear', fields, 'f', 7))).toBe('linear: f must be a whole number from 1 to 7, got "3"')
    expect(left(sizeField('linear', fields, 'g', 2 ** 60))).toBe(`linear: g must be a whole number from 1 to ${2 ** 60}, got ${2 ** 53}`)
    expect(left(sizeField('linear', fields, 'h', 7))).toBe('linear: h must be a whole number from 1 to 7, got null')
    expect(left(sizeField('linear', fields, 'i', 7))).toBe('linear: i must be a whole number from 1 to 7, got -1')
    expect(left(sizeField('linear', fields, 'missing', 7))).toBe('linear: missing must be a whole number from 1 to 7, got undefined')
  })

  it('numberField takes a finite number that the check accepts', () => {
    const positive = (x: number) => x > 0
    const fields = { a: 0.5, b: 0, c: Number.POSITIVE_INFINITY, d: Number.NaN, e: '1', f: true }
    expect(numberField('batchnorm', fields, 'a', 'positive', positive)).toEqual(E.right(0.5))
    expect(left(numberField('batchnorm', fields, 'b', 'positive', positive))).toBe('batchnorm: b must be positive, got 0')
    expect(left(numberField('batchnorm', fields, 'c', 'positive', positive))).toBe('batchnorm: c must be positive, got null')
    expect(left(numberField('batchnorm', fields, 'd', 'positive', positive))).toBe('batchnorm: d must be positive, got null')
    expect(left(numberField('batchnorm', fields, 'e', 'positive', positive))).toBe('batchnorm: e must be positive, got "1"')
    expect(left(numberField('batchnorm', fields, 'f', 'positive', positive))).toBe('batchnorm: f must be positive, got true')
    expect(numberField('batchnorm', { x: Number.MAX_VALUE }, 'x', 'finite', () => true)).toEqual(E.right(Number.MAX_VALUE))
  })
})
