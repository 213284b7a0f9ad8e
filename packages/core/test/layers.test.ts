/**
 * Gradient properties of every layer kind and of random Sequential stacks
 * ending in the cross-entropy loss: backward agrees with float64 central
 * differences, ‖g − g_fd‖ / max(‖g‖, ‖g_fd‖, 1e-12) < 1e-6, for every
 * parameter tensor and the input.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  backward, batchNorm1d, dropout, embedding, flattenConsecutive, forward, linear, referenceKernels, residual, sequential, skip, tanh,
  withTensors, type Mode,
} from '../src/index.js'
import { randomTensor } from './support/gradcheck.js'
import { ids, stackCase } from './support/stacks.js'
import { crossEntropyObjective, expectGradientsAgree, projection } from './support/check.js'

const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 })
const dim = fc.integer({ min: 1, max: 5 })
const mode = fc.constantFrom<Mode>('train', 'eval')
const RUNS = { numRuns: 60 }


describe('gradients agree with central differences', () => {
  it('embedding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), dim, dim, dim, seed, (vocab, channels, b, t, s) => {
        const table = randomTensor(s, [vocab, channels])
        const x = ids(Array.from({ length: b * t }, (_, i) => (i * 7 + s) % vocab), [b, t])
        expectGradientsAgree(embedding(table), x, 'train', projection(randomTensor(s + 1, [b, t, channels])))
      }),
      RUNS,
    )
  })

  it('flatten consecutive', () => {
    fc.assert(
      fc.property(dim, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), dim, seed, (b, n, steps, c, s) => {
        const x = randomTensor(s, [b, n * steps, c])
        const yShape = steps === 1 ? [b, n * c] : [b, steps, n * c]
        expectGradientsAgree(flattenConsecutive(n), x, 'train', projection(randomTensor(s + 1, yShape)))
      }),
      RUNS,
    )
  })

  it('linear, with and without bias, on 2-D and 3-D inputs', () => {
    fc.assert(
      fc.property(dim, dim, dim, fc.integer({ min: 0, max: 3 }), fc.boolean(), seed, (fanIn, fanOut, b, t, withBias, s) => {
        const layer = linear(randomTensor(s, [fanOut, fanIn], 1 / Math.sqrt(fanIn)), withBias ? randomTensor(s + 1, [fanOut]) : null)
        const lead = t === 0 ? [b] : [b, t]
        const x = randomTensor(s + 2, [...lead, fanIn])
        expectGradientsAgree(layer, x, 'train', projection(randomTensor(s + 3, [...lead, fanOut])))
      }),
      RUNS,
    )
  })

  it('batchnorm in train and eval mode, on 2-D and 3-D inputs', () => {
    fc.assert(
      // At least 3 rows: with 2, a training-mode output is ±1 whatever the input, the
      // input gradient exists only through eps, and finite differences measure noise.
      fc.property(fc.integer({ min: 3, max: 6 }), fc.integer({ min: 0, max: 3 }), dim, mode, seed, (b, t, c, m, s) => {
        const layer = withTensors(batchNorm1d(c), {
          weight: randomTensor(s, [c]),
          bias: randomTensor(s + 1, [c]),
          running_mean: randomTensor(s + 2, [c]),
          running_var: { shape: [c], data: randomTensor(s + 3, [c]).data.map((v) => 0.5 + v * v) },
        })
        const shape = t === 0 ? [b, c] : [b, t, c]
        expectGradientsAgree(layer, randomTensor(s + 4, shape), m, projection(randomTensor(s + 5, shape)))
      }),
      RUNS,
    )
  })

  it('tanh, on inputs bounded away from saturation', () => {
    fc.assert(
      fc.property(dim, dim, seed, (b, c, s) => {
        expectGradientsAgree(tanh(), randomTensor(s, [b, c], 0.8), 'train', projection(randomTensor(s + 1, [b, c])))
      }),
      RUNS,
    )
  })

  it('dropout, with a fixed seed: the mask is a constant of the step', () => {
    fc.assert(
      fc.property(dim, dim, fc.constantFrom(0, 0.2, 0.5, 0.9), fc.nat(9), seed, (b, c, p, salt, s) => {
        const mode: Mode = { seed: ids([s], [1]) }
        expectGradientsAgree(dropout(p, salt), randomTensor(s, [b, 3, c]), mode, projection(randomTensor(s + 1, [b, 3, c])))
      }),
      RUNS,
    )
  })

  it('cross-entropy', () => {
    fc.assert(
      fc.property(dim, fc.integer({ min: 2, max: 8 }), seed, (b, classes, s) => {
        const targets = ids(Array.from({ length: b }, (_, i) => (s + 3 * i) % classes), [b])
        // The identity layer is an empty Sequential: the check then covers the loss alone.
        expectGradientsAgree(sequential([]), randomTensor(s, [b, classes], 3), 'train', crossEntropyObjective(targets))
      }),
      RUNS,
    )
  })
})

describe('residual and skip connections', () => {
  it('residual adds the input\'s last channels to its inner layer\'s output, and its gradients agree', () => {
    fc.assert(
      fc.property(dim, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), seed, (c, g, t, s) => {
        const inner = sequential([linear(randomTensor(s, [c, g * c], 0.5), randomTensor(s + 1, [c], 0.1)), tanh()])
        const lead = t === 0 ? [3] : [3, t]
        const x = randomTensor(s + 2, [...lead, g * c])
        const layer = residual(inner)
        const y = forward(referenceKernels, layer, x, 'eval').y.data
        const plain = forward(referenceKernels, inner, x, 'eval').y.data
        const rows = plain.length / c
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < c; j++) expect(y[r * c + j]).toBe(plain[r * c + j]! + x.data[r * g * c + (g - 1) * c + j]!)
        }
        expectGradientsAgree(layer, x, 'train', projection(randomTensor(s + 3, [...lead, c])))
      }),
      RUNS,
    )
  })

  it('skip sums every layer\'s output at the last time step, and its gradients agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), seed, (c, b, s) => {
        // (B, 4, C) → fuse pairs → (B, 2, C) → fuse the pair → (B, C).
        const level = (seedOf: number) =>
          sequential([flattenConsecutive(2), linear(randomTensor(seedOf, [c, 2 * c], 0.5), null), tanh()])
        const body = sequential([level(s), level(s + 1)])
        const x = randomTensor(s + 2, [b, 4, c])
        const layer = skip(body)
        const y = forward(referenceKernels, layer, x, 'eval').y.data
        const first = forward(referenceKernels, body.layers[0]!, x, 'eval').y
        const second = forward(referenceKernels, body.layers[1]!, first, 'eval').y.data
        for (let r = 0; r < b; r++) {
          for (let j = 0; j < c; j++) expect(y[r * c + j]).toBe(first.data[(r * 2 + 1) * c + j]! + second[r * c + j]!)
        }
        expectGradientsAgree(layer, x, 'train', projection(randomTensor(s + 3, [b, c])))
      }),
      RUNS,
    )
  })
})

describe('dropout', () => {
  it('passes its input through in eval mode, its gradient too', () => {
    const x = randomTensor(1, [4, 6])
    const out = forward(referenceKernels, dropout(0.5, 0), x, 'eval')
    expect(out.y).toBe(x)
    const dy = randomTensor(2, [4, 6])
    expect(backward(referenceKernels, out.layer, out.tape, dy).dx).toBe(dy)
  })

  it('in training keeps each value with probability 1 − p, scaled by 1/(1 − p), the same for the same seed, and its gradient the same mask', () => {
    const x = randomTensor(3, [200, 50])
    const pass = (seedValue: number, salt: number) => forward(referenceKernels, dropout(0.3, salt), x, { seed: ids([seedValue], [1]) })
    const out = pass(5, 0)
    const kept = out.y.data.filter((v) => v !== 0).length / x.data.length
    expect(Math.abs(kept - 0.7)).toBeLessThan(5 * Math.sqrt((0.3 * 0.7) / x.data.length))
    expect(out.y.data.every((v, i) => v === 0 || v === x.data[i]! * Math.fround(1 / 0.7))).toBe(true)
    expect(Array.from(pass(5, 0).y.data)).toEqual(Array.from(out.y.data))
    expect(Array.from(pass(6, 0).y.data)).not.toEqual(Array.from(out.y.data))
    expect(Array.from(pass(5, 1).y.data)).not.toEqual(Array.from(out.y.data))
    const ones = { shape: x.shape, data: new Float64Array(x.data.length).fill(1) }
    const dx = backward(referenceKernels, out.layer, out.tape, ones).dx!
    expect(dx.data.every((g, i) => (g === 0) === (out.y.data[i] === 0))).toBe(true)
  })

  it('refuses to train without the step\'s seed', () => {
    expect(() => forward(referenceKernels, dropout(0.5, 0), randomTensor(1, [2, 2]), 'train')).toThrow(/seed/)
  })
})

describe('random Sequential stacks ending in the loss', () => {
  it('backward agrees with central differences for every parameter and the input', () => {
    fc.assert(
      fc.property(stackCase, ({ stack, x, targets, mode }) => {
        expectGradientsAgree(stack, x, mode, crossEntropyObjective(targets))
      }),
      { numRuns: 80 },
    )
  })
})
