/** Shared arbitraries and comparisons of the sequence-view tests: random trees, float64 copies, the largest difference. */
import fc from 'fast-check'
import type { Model } from '../../src/index.js'
import { toFloat64Layer } from './layers.js'

/** Tree configurations of 1 to `levels` levels, group size 2–3, with and without WaveNet's residual and skip connections (which must mean the same in both views). */
export const treeConfig = (levels: number) => fc.record({
  levels: fc.integer({ min: 1, max: levels }),
  groupSize: fc.integer({ min: 2, max: 3 }),
  vocab: fc.integer({ min: 3, max: 8 }),
  embedding: fc.integer({ min: 1, max: 4 }),
  hidden: fc.integer({ min: 1, max: 6 }),
  residual: fc.boolean(),
  skip: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
})

/** The largest absolute difference between two arrays of the same length. */
export const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
  return worst
}

/** The model with every tensor in float64. */
export const inFloat64 = (model: Model): Model => ({ net: toFloat64Layer(model.net) })
