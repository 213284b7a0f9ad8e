/** Sampling: top-k = 1 is greedy; lower temperature gives likelier words; prefix and maximum length. */
import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  buildVocabulary, encode, examples, modelForward, nextDistribution, receptiveField, referenceKernels as k,
  sampleWords, seeded, trainableParameters, wavenet, withParameters, indices, crossEntropy, type Model, type Vocabulary,
} from '../src/index.js'

const vocab: Vocabulary = buildVocabulary(['abcdefgh'])
const V = vocab.symbols.length

/** A random model with a sharpened head, so its distributions are far from uniform. */
const peaked = (seed: number): Model => {
  const model = wavenet({ vocab: V, levels: 2, embedding: 4, hidden: 8, seed })
  const head = trainableParameters(model)['head.weight']!
  return withParameters(model, { 'head.weight': { shape: head.shape, data: head.data.map((v) => v * 40) } })
}

const unwrap = <A>(e: E.Either<unknown, A>): A => E.getOrElseW((l) => { throw new Error(JSON.stringify(l)) })(e)

/** Mean log-probability per character (the closing boundary included) of a word under the model at temperature 1. */
const meanLogProb = (model: Model, word: string): number => {
  const ex = unwrap(examples(vocab, [word], receptiveField(model)))
  const logits = modelForward(k, model, indices([ex.count, ex.blockSize], ex.contexts), 'eval').y
  return -crossEntropy(k, logits, indices([ex.count], ex.targets)).loss
}

describe('sampling', () => {
  it('with top-k = 1 always picks the most likely character', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (modelSeed, seed) => {
        const model = peaked(modelSeed)
        const [words] = unwrap(sampleWords(k, model, vocab, seeded(seed), 3, { topK: 1, maxLength: 12 }))
        for (const word of words) {
          const ids = [...unwrap(encode(vocab, word))]
          const field = receptiveField(model)
          const context = new Int32Array(field)
          // Every character, and the end (a boundary, unless the maximum length cut the word), is the argmax.
          const steps = ids.length < 12 ? [...ids, 0] : ids
          for (const id of steps) {
            const logits = Array.from(modelForward(k, model, indices([1, field], context), 'eval').y.data)
            const best = logits.indexOf(Math.max(...logits))
            expect(id).toBe(best)
            context.copyWithin(0, 1)
            context[field - 1] = id
          }
        }
      }),
      { numRuns: 25 },
    )
  })

  it('gives samples of higher mean log-probability at a lower temperature', () => {
    // A fixed seed: the claim is statistical, over 200 words at each temperature.
    const model = peaked(11)
    const mean = (temperature: number): number => {
      const [words] = unwrap(sampleWords(k, model, vocab, seeded(5), 200, { temperature, maxLength: 20 }))
      return words.reduce((s, w) => s + meanLogProb(model, w), 0) / words.length
    }
    const cold = mean(0.5)
    const warm = mean(1)
    const hot = mean(2)
    expect(cold).toBeGreaterThan(warm)
    expect(warm).toBeGreaterThan(hot)
  })

  it('starts every word with the prefix and stops at the maximum length', () => {
    // A head biased hard against the boundary: the model never ends a word.
    const model = peaked(3)
    const bias = trainableParameters(model)['head.bias']!
    const endless = withParameters(model, { 'head.bias': { shape: bias.shape, data: bias.data.map((_, i) => (i === 0 ? -1e4 : 0)) } })
    const [words] = unwrap(sampleWords(k, endless, vocab, seeded(1), 4, { prefix: 'ab', maxLength: 7 }))
    expect(words.every((w) => w.startsWith('ab') && [...w].length === 7)).toBe(true)
  })

  it('names a prefix character outside the vocabulary', () => {
    expect(sampleWords(k, peaked(1), vocab, seeded(1), 1, { prefix: 'az' })).toEqual(
      E.left({ kind: 'unknown-character', character: 'z', word: 0, position: 1 }),
    )
  })

  it('continues from the prefix: the prefix is in the context of the first character drawn', () => {
    const field = receptiveField(peaked(3))
    // With top-k = 1, the character after the prefix is the argmax of the logits at the context ending with it.
    const next = (model: Model, prefix: string): number => {
      const context = new Int32Array(field)
      const ids = [...unwrap(encode(vocab, prefix))]
      context.set(ids.slice(-field), field - Math.min(field, ids.length))
      const logits = modelForward(k, model, indices([1, field], context), 'eval').y.data
      return logits.indexOf(Math.max(...logits))
    }
    let differs = 0
    for (const seed of [3, 4, 5]) {
      const model = peaked(seed)
      for (const prefix of ['a', 'h', 'ba', 'gfe', 'abcdefgh']) {
        for (const naive of [false, true]) {
          const [[word]] = unwrap(sampleWords(k, model, vocab, seeded(seed), 1, { prefix, topK: 1, maxLength: prefix.length + 1, naive }))
          const id = next(model, prefix)
          expect(word, `${prefix} naive ${naive}`).toBe(id === 0 ? prefix : `${prefix}${vocab.symbols[id]}`)
        }
        if (next(model, prefix) !== next(model, '')) differs++
      }
    }
    // Had the prefix been left out of the context, these would have gone otherwise.
    expect(differs).toBeGreaterThan(3)
  })

  it('draws from a distribution that sums to 1, even for logits far beyond what exp can hold', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 30 }), fc.double({ min: 0.05, max: 5, noNaN: true }), fc.nat(40),
        (logits, temperature, topK) => {
          const p = nextDistribution(logits, temperature, topK + 1)
          expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
          expect(p.every((x) => x >= 0)).toBe(true)
        }),
    )
    const large = nextDistribution([1000, 1000 - Math.log(3), -1000], 1, 3)
    expect(large[0]).toBeCloseTo(0.75, 12)
    expect(large[1]).toBeCloseTo(0.25, 12)
    expect(large[2]).toBe(0)
  })

  it('restricts the distribution to the k largest logits and sharpens it with temperature', () => {
    const p = nextDistribution([1, 3, 2, 0], 1, 2)
    expect(p[0]).toBe(0)
    expect(p[3]).toBe(0)
    expect(p[1]! / p[2]!).toBeCloseTo(Math.E, 12)
    const cold = nextDistribution([1, 3, 2, 0], 0.5, 4)
    expect(cold[1]! / cold[2]!).toBeCloseTo(Math.E ** 2, 12)
  })
})
