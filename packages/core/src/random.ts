/**
 * A seeded, splittable random number generator passed explicitly as a value.
 *
 * xoshiro128** (Blackman and Vigna) over four 32-bit words, seeded through
 * splitmix32. Integer arithmetic only (Math.imul, shifts), so the same seed
 * gives the same bits on every machine and engine. An `Rng` is immutable:
 * every draw returns the values and the next generator. Its state is four
 * numbers, so it can be saved (e.g. in a checkpoint) and restored.
 */

/** The generator's whole state: four unsigned 32-bit words, not all zero. */
export interface Rng {
  readonly state: readonly [number, number, number, number]
}

const splitmix32 = (x: number): [number, number] => {
  const next = (x + 0x9e3779b9) >>> 0
  let z = next
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
  return [(z ^ (z >>> 16)) >>> 0, next]
}

/** A generator from an integer seed (any safe integer; its low 53 bits are used). */
export const seeded = (seed: number): Rng => {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
  let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b1)
  const words: number[] = []
  for (let i = 0; i < 4; i++) {
    const [w, next] = splitmix32(x)
    words.push(w)
    x = next
  }
  return fromState(words)
}

/** Restores a generator from a saved state; `undefined` if the state is not four words, not all zero. */
export const restore = (state: readonly unknown[]): Rng | undefined => {
  if (state.length !== 4) return undefined
  if (!state.every((w): w is number => typeof w === 'number' && Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
    return undefined
  }
  if (state.every((w) => w === 0)) return undefined
  return fromState(state)
}

const fromState = (words: readonly number[]): Rng => ({
  state: [words[0]! >>> 0, words[1]! >>> 0, words[2]! >>> 0, words[3]! >>> 0],
})

/**
 * A mutable cursor over a copy of the state, for drawing many numbers at once
 * inside one pure function. Never escapes: callers get an `Rng` back.
 */
class Cursor {
  private a: number
  private b: number
  private c: number
  private d: number
  constructor(rng: Rng) {
    ;[this.a, this.b, this.c, this.d] = rng.state
  }
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }
  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.uint32() >>> 5) * 67108864 + (this.uint32() >>> 6)) / 9007199254740992
  }
  /** Uniform integer in [0, n), n ≤ 2^32, without modulo bias (rejection). */
  below(n: number): number {
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) {
      const x = this.uint32()
      if (x < limit) return x % n
    }
  }
  rng(): Rng {
    return fromState([this.a, this.b, this.c, this.d])
  }
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0

/** Runs `draw` on a cursor over `rng` and returns its result with the advanced generator. */
export const drawWith = <A>(rng: Rng, draw: (cursor: Draws) => A): [A, Rng] => {
  const cursor = new Cursor(rng)
  const value = draw(cursor)
  return [value, cursor.rng()]
}

/** What a draw function may ask of the generator. */
export interface Draws {
  uint32(): number
  float(): number
  below(n: number): number
}

/** n independent uniform [0, 1) floats. */
export const uniforms = (rng: Rng, n: number): [Float64Array, Rng] =>
  drawWith(rng, (c) => Float64Array.from({ length: n }, () => c.float()))

/** n independent integers uniform in [0, bound). */
export const integers = (rng: Rng, n: number, bound: number): [Int32Array, Rng] =>
  drawWith(rng, (c) => Int32Array.from({ length: n }, () => c.below(bound)))

/** n independent standard normal values (Box–Muller, both outputs used). */
export const normals = (rng: Rng, n: number): [Float64Array, Rng] =>
  drawWith(rng, (c) => {
    const out = new Float64Array(n)
    for (let i = 0; i < n; i += 2) {
      const u1 = 1 - c.float() // in (0, 1]: log is finite
      const u2 = c.float()
      const r = Math.sqrt(-2 * Math.log(u1))
      out[i] = r * Math.cos(2 * Math.PI * u2)
      if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2)
    }
    return out
  })

/**
 * Two independent generators from one: `split` returns a child for a
 * sub-task and the parent's continuation, which never share a stream.
 */
export const split = (rng: Rng): [Rng, Rng] =>
  drawWith(rng, (c) => seededFromWords([c.uint32(), c.uint32(), c.uint32(), c.uint32()]))

const seededFromWords = (words: readonly number[]): Rng => {
  const mixed = words.map((w) => splitmix32(w)[0])
  return mixed.every((w) => w === 0) ? seeded(0) : fromState(mixed)
}
