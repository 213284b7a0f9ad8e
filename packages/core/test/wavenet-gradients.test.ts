/** Whole-model gradients: random small wavenet models with their loss pass the float64 finite-difference check. */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { indices, receptiveField, wavenet } from '../src/index.js'
import { crossEntropyObjective, expectGradientsAgree } from './support/check.js'
import { toFloat64Layer } from './support/layers.js'

describe('wavenet gradients', () => {
  it('agree with central differences for every tensor of random small models', () => {
    fc.assert(
      fc.property(
        fc.record({
          levels: fc.integer({ min: 1, max: 3 }),
          groupSize: fc.integer({ min: 2, max: 3 }),
          vocab: fc.integer({ min: 5, max: 7 }),
          embedding: fc.integer({ min: 1, max: 3 }),
          hidden: fc.integer({ min: 2, max: 4 }),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        }),
        // Batches of 3 to 5 rows, at most the vocabulary: see the stacks' comment on tiny batches.
        fc.integer({ min: 3, max: 5 }),
        fc.constantFrom('train' as const, 'eval' as const),
        (c, batch, mode) => {
          const model = wavenet(c)
          const field = receptiveField(model)
          // Token (i, p) = seed + i + 2p mod vocab: distinct across the batch at every position,
          // so no batchnorm channel sees a constant.
          const contexts = Int32Array.from({ length: batch * field }, (_, j) => (c.seed + Math.floor(j / field) + 2 * (j % field)) % c.vocab)
          const targets = Int32Array.from({ length: batch }, (_, i) => (c.seed + 3 * i) % c.vocab)
          expectGradientsAgree(
            toFloat64Layer(model.net), indices([batch, field], contexts), mode, crossEntropyObjective(indices([batch], targets)),
          )
        },
      ),
      { numRuns: 40 },
    )
  })
})
