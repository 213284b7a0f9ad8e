/** The data's random draws: a shuffle uniform over orders, minibatches of uniformly drawn rows, and the lecture's example count. */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { buildVocabulary, examples, integers, minibatch, seeded, shuffle, shuffleSplit } from '../src/index.js'

describe('random draws over the data', () => {
  it('shuffles uniformly: each of the 6 orders of 3 items about equally often, the input untouched', () => {
    const items = ['a', 'b', 'c'] as const
    const counts = new Map<string, number>()
    for (let seed = 0; seed < 1200; seed++) {
      const [order] = shuffle(seeded(seed), items)
      counts.set(order.join(''), (counts.get(order.join('')) ?? 0) + 1)
    }
    expect([...counts.keys()].sort()).toEqual(['abc', 'acb', 'bac', 'bca', 'cab', 'cba'])
    for (const [order, n] of counts) expect(n, order).toBeGreaterThan(140)
    expect(items).toEqual(['a', 'b', 'c'])
    expect(shuffle(seeded(1), [])[0]).toEqual([])
    expect(shuffle(seeded(1), ['x'])[0]).toEqual(['x'])
  })

  it('splits what it shuffled: train, val and test are consecutive runs of the shuffled order', () => {
    const items = Array.from({ length: 23 }, (_, i) => i)
    const [split, next] = shuffleSplit(seeded(8), items)
    const [order, after] = shuffle(seeded(8), items)
    expect([...split.train, ...split.val, ...split.test]).toEqual(order)
    expect([split.train.length, split.val.length, split.test.length]).toEqual([18, 2, 3])
    expect(next).toEqual(after)
  })

  it('draws minibatch rows uniformly with replacement, in the order of the generator\'s integers', () => {
    const vocab = buildVocabulary(['anna', 'bob', 'eve'])
    const ex = E.getOrElseW(() => { throw new Error('unexpected') })(examples(vocab, ['anna', 'bob', 'eve'], 2))
    expect(ex.count).toBe(5 + 4 + 4)
    const [batch, next] = minibatch(seeded(4), ex, 40)
    const [rows, after] = integers(seeded(4), 40, ex.count)
    expect(next).toEqual(after)
    expect(Array.from(batch.targets.data)).toEqual(Array.from(rows, (r) => ex.targets[r]!))
    expect(Array.from(batch.contexts.data)).toEqual(Array.from(rows).flatMap((r) => Array.from(ex.contexts.subarray(r * 2, r * 2 + 2))))
    expect(batch.targets.shape).toEqual([40])
    // Every row can be drawn, the last one included.
    const [many] = integers(seeded(5), 400, ex.count)
    expect(new Set(many).size).toBe(ex.count)
    const [big] = minibatch(seeded(5), ex, 400)
    const lastContext = Array.from(ex.contexts.subarray((ex.count - 1) * 2))
    expect(Array.from({ length: 400 }, (_, b) => Array.from(big.contexts.data.subarray(b * 2, b * 2 + 2))).some((c) => c.join() === lastContext.join())).toBe(true)
  })

  it('gives one example per character and one for the end of each word, an empty word included', () => {
    const vocab = buildVocabulary(['ab'])
    const ex = E.getOrElseW(() => { throw new Error('unexpected') })(examples(vocab, ['', 'ab', 'b'], 1))
    expect(ex.count).toBe(1 + 3 + 2)
    expect(Array.from(ex.targets)).toEqual([0, 1, 2, 0, 2, 0])
    expect(Array.from(ex.contexts)).toEqual([0, 0, 1, 2, 0, 2])
    expect(ex.blockSize).toBe(1)
  })
})
