/**
 * Receptive-field doubling: each level multiplies the context by the group
 * size, and node j of level l depends on exactly the context positions
 * j·g^l … (j+1)·g^l − 1.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { forward, indices, receptiveField, referenceKernels as k, sequential, wavenet, type Model } from '../src/index.js'
import { toFloat64Layer } from './support/layers.js'

const config = fc.record({
  levels: fc.integer({ min: 1, max: 6 }),
  groupSize: fc.integer({ min: 2, max: 3 }),
  vocab: fc.integer({ min: 3, max: 8 }),
  embedding: fc.integer({ min: 1, max: 3 }),
  hidden: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
})

/** Layers per fusion level: flatten, linear, batchnorm, tanh. */
const PER_LEVEL = 4

/**
 * The outputs of level l (1-based) for one context, in eval mode: one row of
 * `hidden` values per node. In float64: with one hidden unit, float32 can round
 * a change that passes through several small weights away entirely, which
 * would say nothing about which positions a node depends on.
 */
const levelOutput = (model: Model, level: number, context: Int32Array): Float64Array => {
  const prefix = toFloat64Layer(sequential(model.net.layers.slice(0, 1 + PER_LEVEL * level)))
  return forward(k, prefix, indices([1, context.length], context), 'eval').y.data as Float64Array
}

const sameBits = (a: Float64Array, b: Float64Array): boolean => a.every((v, i) => Object.is(v, b[i]))

describe('receptive field', () => {
  it('is groupSize^levels, and each added level multiplies it by groupSize', () => {
    fc.assert(
      fc.property(config, (c) => {
        const field = receptiveField(wavenet(c))
        expect(field).toBe(c.groupSize ** c.levels)
        expect(receptiveField(wavenet({ ...c, levels: c.levels + 1 }))).toBe(field * c.groupSize)
      }),
    )
  })

  it('node j of level l changes when a character inside j·g^l … (j+1)·g^l − 1 changes, and only then', () => {
    fc.assert(
      fc.property(config, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 7 }), (c, contextSeed, at, shift) => {
        const model = wavenet(c)
        const field = receptiveField(model)
        const context = Int32Array.from({ length: field }, (_, i) => (contextSeed + i * 7) % c.vocab)
        const position = at % field
        const changed = context.slice()
        changed[position] = (context[position]! + 1 + (shift % (c.vocab - 1))) % c.vocab
        for (let level = 1; level <= c.levels; level++) {
          const before = levelOutput(model, level, context)
          const after = levelOutput(model, level, changed)
          const span = c.groupSize ** level
          const nodes = field / span
          expect(before.length).toBe(nodes * c.hidden)
          for (let j = 0; j < nodes; j++) {
            const node = (v: Float64Array): Float64Array => v.subarray(j * c.hidden, (j + 1) * c.hidden)
            const inside = position >= j * span && position < (j + 1) * span
            expect(sameBits(node(before), node(after)), `level ${level}, node ${j}, position ${position}`).toBe(!inside)
          }
        }
      }),
      { numRuns: 100 },
    )
  })

  it('the top node depends on every position of the context', () => {
    fc.assert(
      fc.property(config.filter((c) => c.groupSize ** c.levels <= 81), (c) => {
        const model = wavenet(c)
        const field = receptiveField(model)
        const context = Int32Array.from({ length: field }, (_, i) => i % c.vocab)
        const top = levelOutput(model, c.levels, context)
        for (let p = 0; p < field; p++) {
          const changed = context.slice()
          changed[p] = (context[p]! + 1) % c.vocab
          expect(sameBits(top, levelOutput(model, c.levels, changed)), `position ${p}`).toBe(false)
        }
      }),
      { numRuns: 30 },
    )
  })
})
