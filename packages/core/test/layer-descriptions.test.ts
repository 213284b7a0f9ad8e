/**
 * Each layer kind's description read from untrusted JSON, its constructor's
 * checks, and the shapes it accepts: exact results and the exact message for
 * each kind of mistake.
 */
import * as E from 'fp-ts/lib/Either.js'
import { jsonDepth } from '../src/json.js'
import { describe, expect, it } from 'vitest'
import {
  batchNorm1d, BATCHNORM_DEFAULTS, buildLayer, describeLayer, embedding, flattenConsecutive, initLinear, inputSteps, linear, MAX_DESCRIPTION_DEPTH, MAX_LAYERS,
  MAX_PARAMETERS, MAX_RECEPTIVE_FIELD, outputShape, parseLayer, residual, seeded, sequential, skip, tanh, tensor, tensorShapes, zeros,
} from '../src/index.js'

const left = (json: unknown): string => {
  const parsed = parseLayer(json)
  if (E.isRight(parsed)) throw new Error(`expected ${JSON.stringify(json)} to be refused`)
  return parsed.left
}
const right = (json: unknown): unknown => {
  const parsed = parseLayer(json)
  if (E.isLeft(parsed)) throw new Error(parsed.left)
  return parsed.right
}

describe('layer descriptions from untrusted JSON', () => {
  it('linear: whole in and out, and a bias that is true or false', () => {
    expect(right({ kind: 'linear', in: 3, out: 2, bias: false })).toEqual({ kind: 'linear', in: 3, out: 2, bias: false })
    expect(right({ bias: true, out: 2, in: 3, kind: 'linear' })).toEqual({ kind: 'linear', in: 3, out: 2, bias: true })
    expect(left({ kind: 'linear', in: 3, out: 2, bias: 'no' })).toBe('linear: bias must be true or false')
    expect(left({ kind: 'linear', in: 3, out: 2, bias: 0 })).toBe('linear: bias must be true or false')
    expect(left({ kind: 'linear', in: 0, out: 2, bias: true })).toBe(`linear: in must be a whole number from 1 to ${MAX_PARAMETERS}, got 0`)
    expect(left({ kind: 'linear', in: 3, out: 2.5, bias: true })).toBe(`linear: out must be a whole number from 1 to ${MAX_PARAMETERS}, got 2.5`)
    expect(left({ kind: 'linear', in: 3, out: 2 })).toBe('linear: missing field "bias"')
    expect(left({ kind: 'linear', in: 2 ** 14, out: 2 ** 14 + 1, bias: false })).toBe(`linear: its tensors would hold ${2 ** 14 * (2 ** 14 + 1)} scalars, more than ${MAX_PARAMETERS}`)
    // At the limit exactly: allowed.
    expect(right({ kind: 'linear', in: 2 ** 14, out: 2 ** 14, bias: false })).toEqual({ kind: 'linear', in: 2 ** 14, out: 2 ** 14, bias: false })
    expect(left({ kind: 'linear', in: 2 ** 14, out: 2 ** 14, bias: true })).toBe(`linear: its tensors would hold ${2 ** 28 + 2 ** 14} scalars, more than ${MAX_PARAMETERS}`)
  })

  it('batchnorm: whole dim, positive eps, momentum from 0 to 1', () => {
    expect(right({ kind: 'batchnorm', dim: 4, eps: 1e-5, momentum: 0.1 })).toEqual({ kind: 'batchnorm', dim: 4, eps: 1e-5, momentum: 0.1 })
    expect(right({ kind: 'batchnorm', dim: 4, eps: 1, momentum: 0 })).toEqual({ kind: 'batchnorm', dim: 4, eps: 1, momentum: 0 })
    expect(right({ kind: 'batchnorm', dim: 4, eps: 1, momentum: 1 })).toEqual({ kind: 'batchnorm', dim: 4, eps: 1, momentum: 1 })
    expect(left({ kind: 'batchnorm', dim: 4, eps: 0, momentum: 0.1 })).toBe('batchnorm: eps must be positive, got 0')
    expect(left({ kind: 'batchnorm', dim: 4, eps: -1, momentum: 0.1 })).toBe('batchnorm: eps must be positive, got -1')
    expect(left({ kind: 'batchnorm', dim: 4, eps: 1e-5, momentum: 1.5 })).toBe('batchnorm: momentum must be from 0 to 1, got 1.5')
    expect(left({ kind: 'batchnorm', dim: 4, eps: 1e-5, momentum: -0.1 })).toBe('batchnorm: momentum must be from 0 to 1, got -0.1')
    expect(left({ kind: 'batchnorm', dim: 0, eps: 1e-5, momentum: 0.1 })).toBe(`batchnorm: dim must be a whole number from 1 to ${MAX_PARAMETERS}, got 0`)
    expect(left({ kind: 'batchnorm', dim: 2 ** 26 + 1, eps: 1e-5, momentum: 0.1 })).toBe(`batchnorm: its tensors would hold ${4 * (2 ** 26 + 1)} scalars, more than ${MAX_PARAMETERS}`)
    expect(tensorShapes({ kind: 'batchnorm', dim: 3, eps: 1, momentum: 0 })).toEqual({ weight: [3], bias: [3], running_mean: [3], running_var: [3] })
  })

  it('embedding, tanh and flatten', () => {
    expect(right({ kind: 'embedding', vocab: 5, dim: 2 })).toEqual({ kind: 'embedding', vocab: 5, dim: 2 })
    expect(left({ kind: 'embedding', vocab: 5, dim: -2 })).toBe(`embedding: dim must be a whole number from 1 to ${MAX_PARAMETERS}, got -2`)
    expect(left({ kind: 'embedding', vocab: '5', dim: 2 })).toBe(`embedding: vocab must be a whole number from 1 to ${MAX_PARAMETERS}, got "5"`)
    expect(tensorShapes({ kind: 'embedding', vocab: 5, dim: 2 })).toEqual({ weight: [5, 2] })
    expect(right({ kind: 'tanh' })).toEqual({ kind: 'tanh' })
    expect(left({ kind: 'tanh', n: 1 })).toBe('tanh: unknown field "n"')
    expect(tensorShapes({ kind: 'tanh' })).toEqual({})
    expect(right({ kind: 'flatten', n: 2 })).toEqual({ kind: 'flatten', n: 2 })
    expect(right({ kind: 'flatten', n: MAX_RECEPTIVE_FIELD })).toEqual({ kind: 'flatten', n: MAX_RECEPTIVE_FIELD })
    expect(left({ kind: 'flatten', n: MAX_RECEPTIVE_FIELD + 1 })).toBe(`flatten: n must be a whole number from 1 to ${MAX_RECEPTIVE_FIELD}, got ${MAX_RECEPTIVE_FIELD + 1}`)
    expect(tensorShapes({ kind: 'flatten', n: 2 })).toEqual({})
  })

  it('residual and skip: an inner layer, and a body that is a Sequential', () => {
    const inner = { kind: 'linear', in: 3, out: 3, bias: true }
    expect(right({ kind: 'residual', inner })).toEqual({ kind: 'residual', inner })
    expect(left({ kind: 'residual', inner: { kind: 'linear', in: 3, out: 3 } })).toBe('linear: missing field "bias"')
    expect(left({ kind: 'residual' })).toBe('residual: missing field "inner"')
    expect(tensorShapes({ kind: 'residual', inner } as never)).toEqual({ weight: [3, 3], bias: [3] })
    const body = { kind: 'sequential', names: ['a'], layers: [inner] }
    expect(right({ kind: 'skip', body })).toEqual({ kind: 'skip', body })
    expect(left({ kind: 'skip', body: inner })).toBe('skip: body must be a sequential')
    expect(left({ kind: 'skip', body: { kind: 'tanh', x: 1 } })).toBe('tanh: unknown field "x"')
  })

  it('sequential: a list of layers with one distinct name each', () => {
    const t = { kind: 'tanh' }
    expect(right({ kind: 'sequential', names: ['a', 'b'], layers: [t, t] })).toEqual({ kind: 'sequential', names: ['a', 'b'], layers: [t, t] })
    expect(left({ kind: 'sequential', names: ['a'], layers: {} })).toBe(`sequential: layers must be a list of at most ${MAX_LAYERS} descriptions`)
    expect(left({ kind: 'sequential', names: [], layers: new Array(MAX_LAYERS + 1).fill(t) })).toBe(`sequential: layers must be a list of at most ${MAX_LAYERS} descriptions`)
    const many = new Array(MAX_LAYERS).fill(t)
    expect(right({ kind: 'sequential', names: many.map((_, i) => `${i}`), layers: many })).toHaveProperty('kind', 'sequential')
    expect(left({ kind: 'sequential', names: 'a', layers: [t] })).toBe('sequential: names must be a list of strings')
    expect(left({ kind: 'sequential', names: [1], layers: [t] })).toBe('sequential: names must be a list of strings')
    expect(left({ kind: 'sequential', names: ['a', 1], layers: [t, t] })).toBe('sequential: names must be a list of strings')
    expect(left({ kind: 'sequential', names: ['a'], layers: [t, t] })).toBe('sequential needs one name per layer')
    expect(left({ kind: 'sequential', names: ['a', ''], layers: [t, t] })).toBe('sequential layer names must not be empty')
    expect(left({ kind: 'sequential', names: ['a', 'a'], layers: [t, t] })).toBe('sequential layer names must be distinct')
    expect(left({ kind: 'sequential', names: ['a.b', 'a'], layers: [t, t] })).toBe('sequential layer name "a" followed by a dot begins another layer\'s name')
    expect(left({ kind: 'sequential', names: ['x', 'y'], layers: [t, { kind: 'flatten', n: 0 }] }))
      .toBe(`layer "y": flatten: n must be a whole number from 1 to ${MAX_RECEPTIVE_FIELD}, got 0`)
    expect(tensorShapes({ kind: 'sequential', names: ['e', 'n'], layers: [{ kind: 'embedding', vocab: 3, dim: 2 }, { kind: 'batchnorm', dim: 2, eps: 1, momentum: 0 }] } as never))
      .toEqual({ 'e.weight': [3, 2], 'n.weight': [2], 'n.bias': [2], 'n.running_mean': [2], 'n.running_var': [2] })
  })

  it('nests at most MAX_DESCRIPTION_DEPTH levels deep, that depth included', () => {
    /** A Sequential holding one layer: an empty Sequential inside residuals, `depth` levels deep in all. */
    const nested = (depth: number): unknown => {
      let inner: unknown = { kind: 'sequential', names: [], layers: [] }
      while (jsonDepth(inner) < depth - 2) inner = { kind: 'residual', inner }
      return { kind: 'sequential', names: ['z'], layers: [inner] }
    }
    expect(jsonDepth(nested(MAX_DESCRIPTION_DEPTH))).toBe(MAX_DESCRIPTION_DEPTH)
    expect(E.isRight(parseLayer(nested(MAX_DESCRIPTION_DEPTH)))).toBe(true)
    expect(jsonDepth(nested(MAX_DESCRIPTION_DEPTH + 1))).toBe(MAX_DESCRIPTION_DEPTH + 1)
    expect(left(nested(MAX_DESCRIPTION_DEPTH + 1))).toBe(`sequential: the description nests deeper than ${MAX_DESCRIPTION_DEPTH} levels`)
  })

  it('an unknown or missing kind names the kinds there are', () => {
    const known = 'embedding, flatten, linear, batchnorm, tanh, dropout, sequential, residual, skip'
    expect(left({ kind: 'conv' })).toBe(`unknown layer kind "conv" (known: ${known})`)
    // A kind that only converts to a known one is not it.
    expect(left({ kind: ['tanh'] })).toBe(`unknown layer kind ["tanh"] (known: ${known})`)
    expect(left({})).toMatch(/^unknown layer kind null \(known: /)
    expect(left(null)).toMatch(/^unknown layer kind null \(known: /)
    expect(left({ kind: 'toString' })).toMatch(/^unknown layer kind "toString" \(known: /)
    expect(left({ kind: 'x'.repeat(100) })).toMatch(new RegExp(`^unknown layer kind "${'x'.repeat(39)} \\(known: `))
  })
})

describe('layer constructors and shapes', () => {
  it('linear checks its weight and bias, and takes inputs whose last axis is its fan-in', () => {
    expect(() => linear(zeros([6]), null)).toThrow(new RangeError('linear weight must be (out, in)'))
    expect(() => linear(zeros([2, 3]), zeros([3]))).toThrow(new RangeError('linear bias must be (out)'))
    expect(() => linear(zeros([2, 3]), zeros([2, 1]))).toThrow(new RangeError('linear bias must be (out)'))
    const layer = linear(zeros([2, 3]), zeros([2]))
    expect(outputShape(layer, [5, 4, 3])).toEqual([5, 4, 2])
    expect(() => outputShape(layer, [5, 2])).toThrow(new RangeError('linear(3 → 2) got input [5, 2]'))
    expect(describeLayer(layer)).toEqual({ kind: 'linear', in: 3, out: 2, bias: true })
    expect(describeLayer(linear(zeros([2, 3]), null))).toEqual({ kind: 'linear', in: 3, out: 2, bias: false })
    expect(inputSteps(layer, 7)).toBe(7)
  })

  it('initLinear: N(0, 1)/sqrt(fan-in) times the gain, a zero bias unless told none', () => {
    const [layer] = initLinear(seeded(1), 64, 32)
    expect(layer.weight.shape).toEqual([32, 64])
    expect(Array.from(layer.bias!.data)).toEqual(new Array(32).fill(0))
    const std = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((a, b) => a + b * b, 0) / xs.length)
    expect(std(layer.weight.data)).toBeCloseTo(1 / 8, 2)
    const [scaled] = initLinear(seeded(1), 64, 32, { gain: 3, bias: false })
    expect(scaled.bias).toBeNull()
    scaled.weight.data.forEach((w, i) => expect(w).toBeCloseTo(3 * layer.weight.data[i]!, 6))
    expect(initLinear(seeded(1), 64, 32, { bias: true })[0].bias?.shape).toEqual([32])
  })

  it('batchNorm1d starts at γ = 1, β = 0, running mean 0 and variance 1, with torch\'s eps and momentum', () => {
    const norm = batchNorm1d(3)
    expect(BATCHNORM_DEFAULTS).toEqual({ eps: 1e-5, momentum: 0.1 })
    expect(describeLayer(norm)).toEqual({ kind: 'batchnorm', dim: 3, eps: 1e-5, momentum: 0.1 })
    expect(Array.from(norm.weight.data)).toEqual([1, 1, 1])
    expect(Array.from(norm.bias.data)).toEqual([0, 0, 0])
    expect(Array.from(norm.runningMean.data)).toEqual([0, 0, 0])
    expect(Array.from(norm.runningVar.data)).toEqual([1, 1, 1])
    expect(describeLayer(batchNorm1d(2, { eps: 0.5, momentum: 0.3 }))).toEqual({ kind: 'batchnorm', dim: 2, eps: 0.5, momentum: 0.3 })
    expect(outputShape(norm, [4, 2, 3])).toEqual([4, 2, 3])
    expect(() => outputShape(norm, [4, 2])).toThrow(new RangeError('batchnorm(3) got input [4, 2]'))
  })

  it('embedding, flatten, residual and skip check what they are given', () => {
    expect(() => embedding(zeros([6]))).toThrow(new RangeError('embedding weight must be (vocab, dim)'))
    expect(outputShape(embedding(zeros([5, 2])), [4, 3])).toEqual([4, 3, 2])
    expect(describeLayer(embedding(zeros([5, 2])))).toEqual({ kind: 'embedding', vocab: 5, dim: 2 })
    for (const n of [0, 1.5, -2]) expect(() => flattenConsecutive(n)).toThrow(new RangeError(`flatten group must be a positive integer, got ${n}`))
    const flat = flattenConsecutive(2)
    expect(outputShape(flat, [4, 6, 3])).toEqual([4, 3, 6])
    expect(outputShape(flat, [4, 2, 3])).toEqual([4, 6])
    expect(() => outputShape(flat, [4, 6])).toThrow(new RangeError('flatten expects (B, T, C), got [4, 6]'))
    expect(() => outputShape(flat, [4, 5, 3])).toThrow(new RangeError('flatten(2): time axis 5 is not a multiple of 2'))
    expect(inputSteps(flat, 3)).toBe(6)
    const res = residual(linear(zeros([2, 3]), null))
    expect(outputShape(res, [4, 3])).toEqual([4, 2])
    expect(() => outputShape(residual(linear(zeros([4, 3]), null)), [4, 3]))
      .toThrow(new RangeError('residual: the inner output [4, 4] cannot be added to the last channels of the input [4, 3]'))
    expect(() => outputShape(residual(flattenConsecutive(1)), [4, 1, 3]))
      .toThrow(new RangeError('residual: the inner output [4, 3] cannot be added to the last channels of the input [4, 1, 3]'))
    expect(inputSteps(residual(flattenConsecutive(3)), 2)).toBe(6)
    expect(() => skip(sequential([]))).toThrow(new RangeError('skip needs at least one layer'))
  })

  it('a built layer is the one described, over the given tensors', () => {
    const weight = tensor([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6))
    const built = buildLayer({ kind: 'linear', in: 3, out: 2, bias: false }, { weight })
    expect(built).toEqual({ kind: 'linear', weight, bias: null })
    expect(() => buildLayer({ kind: 'linear', in: 3, out: 2, bias: true }, { weight })).toThrow(new RangeError('missing tensor "bias"'))
    const norm = buildLayer({ kind: 'batchnorm', dim: 2, eps: 0.5, momentum: 0.25 }, {
      weight: zeros([2]), bias: zeros([2]), running_mean: zeros([2]), running_var: tensor([2], Float32Array.of(3, 4)),
    })
    expect(norm.eps).toBe(0.5)
    expect(norm.momentum).toBe(0.25)
    expect(Array.from(norm.runningVar.data)).toEqual([3, 4])
  })
})
