/**
 * Sampling's options and its edge cases: refused settings, ties and a k
 * beyond the vocabulary, the default maximum length, and words generated in
 * chunks of rows for deep models that are the words generated at once.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  buildVocabulary, decode, minibatch, nextDistribution, receptiveField, referenceKernels as k, sampleWords, seeded,
  trainableParameters, wavenet, withParameters, wordBatch, type Model,
} from '../src/index.js'

const vocab = buildVocabulary(['abcdef'])
const V = vocab.symbols.length
const model = (seed: number, levels = 2): Model => wavenet({ vocab: V, levels, embedding: 3, hidden: 4, seed })
const words = (m: Model, count: number, options: Parameters<typeof sampleWords>[5] = {}, seed = 1): string[] => {
  const result = sampleWords(k, m, vocab, seeded(seed), count, options)
  if (E.isLeft(result)) throw new Error(JSON.stringify(result.left))
  return result.right[0]
}

describe('sampling options', () => {
  it('refuses a temperature that is not positive and a top-k that is not a positive whole number', () => {
    const m = model(1)
    for (const temperature of [0, -1, Number.NaN]) {
      expect(() => sampleWords(k, m, vocab, seeded(1), 1, { temperature })).toThrow(new RangeError(`temperature must be positive, got ${temperature}`))
    }
    for (const topK of [0, 1.5, -3]) {
      expect(() => sampleWords(k, m, vocab, seeded(1), 1, { topK })).toThrow(new RangeError(`top-k must be a positive integer, got ${topK}`))
    }
    expect(words(m, 2, { temperature: 1e-3, topK: 1 })).toHaveLength(2)
  })

  it('keeps the k largest logits, ties to the lower index, and at least one; a k beyond the vocabulary keeps all', () => {
    expect(Array.from(nextDistribution([1, 3, 3, 0], 1, 1))).toEqual([0, 1, 0, 0])
    expect(Array.from(nextDistribution([1, 3, 3, 0], 1, 2))).toEqual([0, 0.5, 0.5, 0])
    expect(Array.from(nextDistribution([5, 3, 9], 1, 0))).toEqual([0, 0, 1])
    const all = nextDistribution([0, Math.log(2), Math.log(5)], 1, 10)
    ;[1 / 8, 2 / 8, 5 / 8].forEach((p, i) => expect(all[i]).toBeCloseTo(p, 14))
    // Temperature divides the logits: at T = 0.5 the odds are squared, at T = 2 their square roots.
    const cold = nextDistribution([0, Math.log(2)], 0.5, 2)
    ;[1 / 5, 4 / 5].forEach((p, i) => expect(cold[i]).toBeCloseTo(p, 14))
    const warm = nextDistribution([0, Math.log(4)], 2, 2)
    ;[1 / 3, 2 / 3].forEach((p, i) => expect(warm[i]).toBeCloseTo(p, 14))
  })

  it('stops a word that never ends at 64 characters unless told otherwise', () => {
    // A head that never gives the boundary: every word runs to the maximum length.
    const m = model(2)
    const bias = trainableParameters(m)['head.bias']!
    const endless = withParameters(m, { 'head.bias': { shape: bias.shape, data: Float32Array.from(bias.data, (b, i) => (i === 0 ? -1e4 : b)) } })
    expect(words(endless, 3).map((w) => w.length)).toEqual([64, 64, 64])
    expect(words(endless, 2, { maxLength: 5 }).map((w) => w.length)).toEqual([5, 5])
    expect(words(endless, 2, { maxLength: 5, prefix: 'ab' }).every((w) => w.length === 5 && w.startsWith('ab'))).toBe(true)
    // A prefix as long as the maximum is the whole word.
    expect(words(endless, 2, { maxLength: 2, prefix: 'ab' })).toEqual(['ab', 'ab'])
  })

  it('generates a deep model\'s words in chunks of rows, the same words as when they all fit in one', () => {
    // Receptive field 2^10: 2^16 / 2^10 = 64 rows at a time.
    const deep = model(3, 10)
    expect(receptiveField(deep)).toBe(1024)
    const many = words(deep, 130, { maxLength: 3 })
    expect(many).toHaveLength(130)
    expect(many.slice(0, 64)).toEqual(words(deep, 64, { maxLength: 3 }))
    for (const w of many) expect(w.length).toBeLessThanOrEqual(3)
  })
})

describe('data edge cases', () => {
  it('shows the boundary as "." and an id outside the vocabulary as the replacement character', () => {
    expect(decode(vocab, [0, 1, V - 1, V, -1, 0])).toBe(`.a${vocab.symbols[V - 1]}\u{fffd}\u{fffd}.`)
  })

  it('refuses to draw from nothing', () => {
    expect(() => minibatch(seeded(1), { contexts: new Int32Array(0), targets: new Int32Array(0), count: 0, blockSize: 3 }, 4))
      .toThrow(new RangeError('no examples to draw a batch from'))
    expect(() => wordBatch(seeded(1), [], 10)).toThrow(new RangeError('no words to draw a batch from'))
    expect(() => wordBatch(seeded(1), [Int32Array.of(1, 2, 3)], 3)).toThrow(new RangeError('a word of 3 characters does not fit in a batch of 3 outputs'))
    expect(wordBatch(seeded(1), [Int32Array.of(1, 2, 3)], 4)[0].words).toEqual([Int32Array.of(1, 2, 3)])
  })
})
