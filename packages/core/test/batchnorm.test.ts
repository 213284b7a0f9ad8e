/** BatchNorm1d: batch statistics in training mode, the running statistics' update, eval mode. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { batchNorm1d, forward, referenceKernels as k, withTensors, type Tensor } from '../src/index.js'
import { randomTensor } from './support/gradcheck.js'
import { toFloat64Layer } from './support/layers.js'

const shapes = fc.record({
  b: fc.integer({ min: 2, max: 8 }),
  t: fc.integer({ min: 0, max: 3 }),
  c: fc.integer({ min: 1, max: 6 }),
  eps: fc.double({ min: 1e-6, max: 1e-1, noNaN: true }),
  momentum: fc.double({ min: 0.01, max: 0.9, noNaN: true }),
  s: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
})

/** Per-channel mean and biased variance of a (…, C) tensor, in float64. */
const moments = (x: Tensor, c: number): { mean: number[]; variance: number[] } => {
  const rows = x.data.length / c
  const mean = Array.from({ length: c }, (_, j) => {
    let s = 0
    for (let i = 0; i < rows; i++) s += x.data[i * c + j]!
    return s / rows
  })
  const variance = mean.map((m, j) => {
    let s = 0
    for (let i = 0; i < rows; i++) s += (x.data[i * c + j]! - m) ** 2
    return s / rows
  })
  return { mean, variance }
}

describe('batchnorm', () => {
  it('training mode: each channel of the normalised output has mean 0 and variance var/(var + eps)', () => {
    fc.assert(
      fc.property(shapes, ({ b, t, c, eps, s }) => {
        const shape = t === 0 ? [b, c] : [b, t, c]
        // Channels on different scales and offsets: the statistics must be per channel.
        const x = randomTensor(s, shape)
        const scaled = { shape, data: x.data.map((v, i) => v * (1 + (i % c)) + 3 * (i % c)) }
        const out = forward(k, toFloat64Layer(batchNorm1d(c, { eps })), scaled, 'train')
        const before = moments(scaled, c)
        const after = moments(out.y, c)
        for (let j = 0; j < c; j++) {
          expect(Math.abs(after.mean[j]!)).toBeLessThan(1e-12)
          const v = before.variance[j]!
          expect(after.variance[j]!).toBeCloseTo(v / (v + eps), 12)
        }
      }),
      { numRuns: 100 },
    )
  })

  it('training mode: the running statistics follow the momentum formula, with the unbiased variance', () => {
    fc.assert(
      fc.property(shapes, ({ b, t, c, eps, momentum, s }) => {
        const shape = t === 0 ? [b, c] : [b, t, c]
        const x = randomTensor(s, shape)
        const layer = toFloat64Layer(withTensors(batchNorm1d(c, { eps, momentum }), {
          running_mean: randomTensor(s + 1, [c]),
          running_var: { shape: [c], data: randomTensor(s + 2, [c]).data.map((v) => 1 + v * v) },
        }))
        const next = forward(k, layer, x, 'train').layer
        const n = x.data.length / c
        const { mean, variance } = moments(x, c)
        for (let j = 0; j < c; j++) {
          expect(next.runningMean.data[j]).toBeCloseTo((1 - momentum) * layer.runningMean.data[j]! + momentum * mean[j]!, 12)
          expect(next.runningVar.data[j]).toBeCloseTo(
            (1 - momentum) * layer.runningVar.data[j]! + momentum * variance[j]! * (n / (n - 1)), 12,
          )
        }
        // γ and β are parameters: a forward pass leaves them as they were.
        expect(next.weight).toBe(layer.weight)
        expect(next.bias).toBe(layer.bias)
      }),
      { numRuns: 100 },
    )
  })

  it('eval mode normalises with the running statistics and leaves the layer unchanged', () => {
    fc.assert(
      fc.property(shapes, ({ b, t, c, eps, s }) => {
        const shape = t === 0 ? [b, c] : [b, t, c]
        const x = randomTensor(s, shape)
        const layer = toFloat64Layer(withTensors(batchNorm1d(c, { eps }), {
          weight: randomTensor(s + 1, [c]),
          bias: randomTensor(s + 2, [c]),
          running_mean: randomTensor(s + 3, [c]),
          running_var: { shape: [c], data: randomTensor(s + 4, [c]).data.map((v) => 0.1 + v * v) },
        }))
        const out = forward(k, layer, x, 'eval')
        expect(out.layer).toBe(layer)
        out.y.data.forEach((y, i) => {
          const j = i % c
          const expected = layer.weight.data[j]! * (x.data[i]! - layer.runningMean.data[j]!) /
            Math.sqrt(layer.runningVar.data[j]! + eps) + layer.bias.data[j]!
          expect(y).toBeCloseTo(expected, 12)
        })
      }),
      { numRuns: 100 },
    )
  })

  it('refuses training on a single row, as torch does', () => {
    expect(() => forward(k, batchNorm1d(3), randomTensor(1, [1, 3]), 'train')).toThrow(/more than one value/)
  })
})
