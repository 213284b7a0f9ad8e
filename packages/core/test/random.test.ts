/**
 * The generator's derived draws, pinned against its fixed uint32 stream
 * (determinism.test.ts): floats with 53 bits, integers without modulo bias,
 * normals by Box–Muller, splits, and the seeds and states it accepts.
 */
import { describe, expect, it } from 'vitest'
import { drawWith, integers, normals, restore, seeded, split, uniforms } from '../src/index.js'

/** The first uint32 draws of seeded(42) (an independent transcription of xoshiro128**; see determinism.test.ts). */
const STREAM = [2837322924, 544945897, 479756282]

describe('draws from the stream', () => {
  it('a float is 53 bits: the top 27 of one draw and the top 26 of the next, over 2^53', () => {
    const [[f]] = uniforms(seeded(42), 1)
    expect(f).toBe(((STREAM[0]! >>> 5) * 2 ** 26 + (STREAM[1]! >>> 6)) / 2 ** 53)
    const [fs, next] = uniforms(seeded(42), 3)
    expect(fs[0]).toBe(f)
    // Each float takes two draws: after three floats the generator is six draws on.
    const [six] = drawWith(seeded(42), (d) => { for (let i = 0; i < 6; i++) d.uint32(); return d.uint32() })
    const [[seventh]] = drawWith(next, (d) => [d.uint32()])
    expect(seventh).toBe(six)
    for (const x of uniforms(seeded(7), 2000)[0]) expect(x >= 0 && x < 1).toBe(true)
  })

  it('an integer below n is a draw modulo n, drawn again when the draw falls in the biased top of the range', () => {
    expect(Array.from(integers(seeded(42), 3, 10)[0])).toEqual(STREAM.map((x) => x % 10))
    // Below 2^31 + 1, draws of 2^31 + 1 and above are refused: the first draw (2837322924) is, the second is not.
    expect(Array.from(integers(seeded(42), 1, 2 ** 31 + 1)[0])).toEqual([STREAM[1]!])
    // Below 2^32 every draw is taken as it is.
    expect(drawWith(seeded(42), (d) => [d.below(2 ** 32), d.below(2 ** 32), d.below(2 ** 32)])[0]).toEqual(STREAM)
    expect(Array.from(integers(seeded(42), 2, 1)[0])).toEqual([0, 0])
    const [many] = integers(seeded(3), 3000, 3)
    const counts = [0, 1, 2].map((v) => many.filter((x) => x === v).length)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3000)
    for (const c of counts) expect(c).toBeGreaterThan(850)
  })

  it('normals come in Box–Muller pairs from two floats; an odd count uses the first of the last pair', () => {
    const [u] = uniforms(seeded(11), 4)
    const pair = (a: number, b: number) => {
      const r = Math.sqrt(-2 * Math.log(1 - a))
      return [r * Math.cos(2 * Math.PI * b), r * Math.sin(2 * Math.PI * b)]
    }
    const want = [...pair(u[0]!, u[1]!), ...pair(u[2]!, u[3]!)]
    const [four, afterFour] = normals(seeded(11), 4)
    four.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 12))
    const [three, afterThree] = normals(seeded(11), 3)
    expect(three).toHaveLength(3)
    three.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 12))
    // Both consumed two pairs of floats.
    expect(afterThree).toEqual(afterFour)
    const [big] = normals(seeded(5), 4000)
    const mean = big.reduce((a, b) => a + b, 0) / big.length
    const variance = big.reduce((a, b) => a + (b - mean) ** 2, 0) / big.length
    expect(Math.abs(mean)).toBeLessThan(0.06)
    expect(Math.abs(variance - 1)).toBeLessThan(0.08)
  })

  it('split gives a child unlike its parent, and a parent that continues four draws later', () => {
    const rng = seeded(42)
    const [child, parent] = split(rng)
    const [, fourOn] = drawWith(rng, (d) => [d.uint32(), d.uint32(), d.uint32(), d.uint32()])
    expect(parent).toEqual(fourOn)
    expect(child.state).not.toEqual(parent.state)
    expect(child.state).not.toEqual(rng.state)
    expect(integers(child, 8, 1000)[0]).not.toEqual(integers(parent, 8, 1000)[0])
    // The child is a function of the four draws: the same parent gives the same child.
    expect(split(seeded(42))[0]).toEqual(child)
    expect(split(seeded(43))[0]).not.toEqual(child)
  })
})

describe('seeds and saved states', () => {
  it('takes any safe integer as a seed, its bits above 32 included, and refuses others', () => {
    const state = (seed: number) => seeded(seed).state
    expect(state(2 ** 32)).not.toEqual(state(0))
    expect(state(2 ** 33)).not.toEqual(state(2 ** 32))
    expect(state(2 ** 32 + 5)).not.toEqual(state(5))
    expect(state(-1)).not.toEqual(state(2 ** 32 - 1))
    expect(state(Number.MAX_SAFE_INTEGER)).toEqual(state(Number.MAX_SAFE_INTEGER))
    for (const word of state(123)) expect(Number.isInteger(word) && word >= 0 && word < 2 ** 32).toBe(true)
    for (const seed of [1.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY]) {
      expect(() => seeded(seed)).toThrow(`seed must be a safe integer, got ${seed}`)
    }
  })

  it('restores any four 32-bit words that are not all zero, and nothing else', () => {
    expect(restore([0, 0, 0, 1])?.state).toEqual([0, 0, 0, 1])
    expect(restore([2 ** 32 - 1, 0, 7, 0])?.state).toEqual([2 ** 32 - 1, 0, 7, 0])
    for (const state of [[1, 2, 3, -1], [1, 2, 3, 0.5], [1, 2, 3, 2 ** 32], [1, 2, 3], [1, 2, 3, 4, 5], [], ['1', 2, 3, 4], [1, 2, null, 4], [0, 0, 0, 0]]) {
      expect(restore(state), JSON.stringify(state)).toBeUndefined()
    }
    const [, rng] = uniforms(seeded(9), 5)
    expect(restore([...rng.state])).toEqual(rng)
  })
})
