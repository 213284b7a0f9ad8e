/** Data: parsing, the vocabulary, encoding, the lecture's examples, split and minibatches. */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  buildVocabulary, decode, encode, examples, integers, minibatch, parseCorpus, seeded, shuffleSplit, vocabularyFromSymbols, wordBatch,
} from '../src/index.js'

describe('data', () => {
  it('reads LF and CRLF text, skipping blank lines, and remembers line numbers', () => {
    expect(parseCorpus('\n\r\nemma\r\nolivia\n\n  \nava\n\n')).toEqual({ words: ['emma', 'olivia', 'ava'], lines: [3, 4, 7] })
  })

  it('trims white space from the end of each line, keeping what is inside and in front', () => {
    expect(parseCorpus('emma \nmary ann\t\r\n\t \n lily\u00a0\n')).toEqual({ words: ['emma', 'mary ann', ' lily'], lines: [1, 2, 4] })
  })

  it('builds a sorted code-point vocabulary with the boundary at 0; "." is an ordinary character', () => {
    const vocab = buildVocabulary(['b.a', 'zé', '😀'])
    expect(vocab.symbols).toEqual(['', '.', 'a', 'b', 'z', 'é', '😀'])
    expect(E.getOrElseW(() => null)(encode(vocab, 'a.😀'))).toEqual(Int32Array.from([2, 1, 6]))
    expect(decode(vocab, [0, 2, 1, 6, 0])).toBe('.a.😀.')
  })

  it('names a character outside the vocabulary as an error value', () => {
    const vocab = buildVocabulary(['abc'])
    expect(encode(vocab, 'abx', 4)).toEqual(E.left({ kind: 'unknown-character', character: 'x', word: 4, position: 2 }))
    expect(E.isLeft(examples(vocab, ['ab', 'cq'], 3))).toBe(true)
  })

  it('restores a vocabulary only from valid saved symbols', () => {
    expect(vocabularyFromSymbols(['', 'a', 'b'])).toEqual({ symbols: ['', 'a', 'b'] })
    expect(vocabularyFromSymbols(['a', 'b'])).toBeUndefined()
    expect(vocabularyFromSymbols(['', 'a', 'a'])).toBeUndefined()
    expect(vocabularyFromSymbols(['', 'ab'])).toBeUndefined()
  })

  it('builds (context, next) pairs exactly as the lecture', () => {
    const vocab = buildVocabulary(['emma'])
    const ex = E.getOrElseW(() => { throw new Error('unexpected') })(examples(vocab, ['emma'], 3))
    const rows = Array.from({ length: ex.count }, (_, i) => [decode(vocab, ex.contexts.subarray(i * 3, i * 3 + 3)), decode(vocab, [ex.targets[i]!])])
    // The lecture's printout for "emma" with block size 3.
    expect(rows).toEqual([['...', 'e'], ['..e', 'm'], ['.em', 'm'], ['emm', 'a'], ['mma', '.']])
  })

  it("reproduces the lecture's example counts on its split", () => {
    const read = (name: string): readonly string[] =>
      parseCorpus(readFileSync(new URL(`../../../../shared/data/${name}`, import.meta.url), 'utf8')).words
    const vocab = buildVocabulary(read('names.txt'))
    const count = (name: string): number => E.getOrElseW(() => { throw new Error(name) })(examples(vocab, read(name), 8)).count
    expect([count('names.train.txt'), count('names.val.txt'), count('names.test.txt')]).toEqual([182_625, 22_655, 22_866])
  })

  it('splits 80/10/10 into disjoint parts that cover the data, the same for the same seed', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { maxLength: 60 }), fc.nat(), (items, seed) => {
        const [split] = shuffleSplit(seeded(seed), items)
        expect(split.train.length).toBe(Math.floor(0.8 * items.length))
        expect(split.val.length).toBe(Math.floor(0.9 * items.length) - Math.floor(0.8 * items.length))
        expect([...split.train, ...split.val, ...split.test].sort()).toEqual([...items].sort())
        expect(shuffleSplit(seeded(seed), items)[0]).toEqual(split)
      }),
    )
  })

  it('shuffles before it splits: every order is drawn, and each seed its own', () => {
    const items = Array.from({ length: 100 }, (_, i) => i)
    const orders = Array.from({ length: 20 }, (_, seed) => {
      const [split] = shuffleSplit(seeded(seed), items)
      return [...split.train, ...split.val, ...split.test]
    })
    // Sorted input, never sorted output: 100 items stay in order with probability 1/100!.
    for (const order of orders) expect(order).not.toEqual(items)
    expect(new Set(orders.map((order) => order.join(','))).size).toBe(20)
    // Each position is filled by many different items across seeds: no item stays put.
    expect(new Set(orders.map((order) => order[0])).size).toBeGreaterThan(10)
  })

  it('draws minibatches of real examples, the same for the same generator', () => {
    const vocab = buildVocabulary(['anna', 'bob', 'eve'])
    const ex = E.getOrElseW(() => { throw new Error('unexpected') })(examples(vocab, ['anna', 'bob', 'eve'], 4))
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 50 }), (seed, size) => {
        const [batch, next] = minibatch(seeded(seed), ex, size)
        expect(batch.contexts.shape).toEqual([size, 4])
        for (let b = 0; b < size; b++) {
          const row = Array.from({ length: ex.count }, (_, r) => r).find((r) =>
            ex.targets[r] === batch.targets.data[b] &&
            ex.contexts.subarray(r * 4, r * 4 + 4).every((v, i) => v === batch.contexts.data[b * 4 + i]))
          expect(row).toBeDefined()
        }
        expect(minibatch(seeded(seed), ex, size)).toEqual([batch, next])
      }),
      { numRuns: 50 },
    )
  })

  it('draws whole words that fit the budget, from the generator alone, leaving a word that does not fit for the next batch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 8 }).map((w) => Int32Array.from(w)), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 9, max: 60 }), fc.nat(),
        (words, budget, seed) => {
          const [first, rng] = wordBatch(seeded(seed), words, budget)
          const used = first.words.reduce((n, w) => n + w.length + 1, 0)
          expect(used).toBeLessThanOrEqual(budget)
          expect(first.words.every((w) => (words as readonly Int32Array[]).includes(w))).toBe(true)
          expect(wordBatch(seeded(seed), words, budget)[0]).toEqual(first)
          // The word that stopped the batch is the next batch's first.
          const [[index]] = integers(rng, 1, words.length)
          expect(used + words[index!]!.length + 1).toBeGreaterThan(budget)
          expect(wordBatch(rng, words, budget)[0].words[0]).toBe(words[index!])
        },
      ),
    )
    expect(() => wordBatch(seeded(1), [Int32Array.of(1, 2, 3)], 3)).toThrow(/does not fit/)
  })
})
