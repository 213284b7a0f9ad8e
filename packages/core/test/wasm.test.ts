/**
 * The WebAssembly SIMD kernels against the reference kernels, on random
 * shapes (odd sizes and partial 4×8 tiles included) and random placements:
 * every array argument independently either a view into the wasm memory
 * (zero copy) or an ordinary Float32Array / Int32Array (copied in and out).
 *
 * Tolerances. u = 2⁻²⁴ is the unit roundoff of float32. Each bound below is
 * the forward error of the float32 evaluation each implementation performs,
 * summed over the two (the reference rounds to float32 whenever it stores),
 * written against the magnitude of the terms involved, so cancellation in a
 * result is covered without an absolute floor that hides real errors:
 * - matmul: |C − C_ref| ≤ 2·γ(k+1)·(Σ_p |op(A)_ip·op(B)_pj| + |C0_ij|), with
 *   γ(n) = n·u / (1 − n·u) the classical bound for a float32 dot product of n
 *   terms (Higham, Accuracy and Stability of Numerical Algorithms, §3.1);
 *   C0 is C's previous content when accumulating, else 0.
 * - sums over rows (sumRows, scatterAdd, column means): 2·γ(rows)·Σ|terms|;
 *   the variance adds 3 roundings per term (difference, square, divide).
 * - tanhForward: 8u·|tanh x|. The [13/6] rational fit is within 6.9u of
 *   tanh over every float32 input (checked exhaustively when it was written).
 * - softmax probabilities: (12 + |l − max|)·u·p + 2⁻¹²⁶. Over every float32
 *   x in [−87.3, 0], e^x / (1 + e^x) came out within 3u (checked
 *   exhaustively); longer rows add the float64 sum's and the division's
 *   roundings; the float32 difference l − max is itself rounded, an error of
 *   up to u·|l − max| in the exponent and so relatively in e^(l − max); e^x
 *   below the smallest normal float32 is not resolved. The loss: 12u
 *   absolute, a relative error ε in a row's sum being an error ε in its log.
 * - other elementwise kernels: (roundings + 1)·u times the sum of the
 *   magnitudes of the terms, stated next to each, plus 2⁻¹⁴⁹ per rounding
 *   where a result can be subnormal (below the normal range float32
 *   rounding errors are absolute, up to half that spacing).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createWasmKernels, integers, referenceKernels, seeded, uniforms, wasmKernelsUnavailable, WasmMemoryFull,
  type FloatArray, type Rng, type WasmKernels,
} from '../src/index.js'

const U = 2 ** -24
const gamma = (n: number): number => (n * U) / (1 - n * U)
const SMALLEST_NORMAL = 2 ** -126
const SUBNORMAL_SPACING = 2 ** -149

const maybeWasm = createWasmKernels()
if (maybeWasm === undefined) throw new Error(`wasm kernels unavailable: ${wasmKernelsUnavailable()}`)
const wasm: WasmKernels = maybeWasm

/** A seeded stream of test values. */
const values = (seed: number) => {
  let rng: Rng = seeded(seed)
  return {
    /** n float32 values uniform in [lo, hi). */
    uniform(n: number, lo = -1, hi = 1): Float32Array {
      const [u, next] = uniforms(rng, n)
      rng = next
      return Float32Array.from(u, (x) => lo + (hi - lo) * x)
    },
    /** n ids uniform in [0, bound). */
    ids(n: number, bound: number): Int32Array {
      const [ids, next] = integers(rng, n, bound)
      rng = next
      return ids
    },
  }
}

/** A copy of `data` in the wasm arena, or as an ordinary array. */
const place = <A extends Float32Array | Int32Array>(data: A, inWasm: boolean): A => {
  if (!inWasm) return data.slice() as A
  const copy = data instanceof Int32Array ? wasm.allocIndices(data.length) : wasm.alloc(new Float32Array(0), data.length)
  copy.set(data)
  return copy as A
}

/** Runs `body` and frees whatever it allocated in the arena. */
const inArena = (body: () => void): void => {
  const mark = wasm.arena.mark()
  try {
    body()
  } finally {
    wasm.arena.reset(mark)
  }
}

/** Expects |actual[i] − expected[i]| ≤ bound(i) for i < n, naming the first violation. */
const expectWithin = (
  what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, n: number, bound: (i: number) => number,
): void => {
  for (let i = 0; i < n; i++) {
    const error = Math.abs(actual[i]! - expected[i]!)
    if (!(error <= bound(i))) {
      expect.fail(`${what}[${i}] = ${actual[i]}, reference ${expected[i]}: error ${error} > bound ${bound(i)}`)
    }
  }
}

const expectEqual = (what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, n: number): void =>
  expectWithin(what, actual, expected, n, () => 0)

/** Independent placements for up to 8 arguments. */
const placements = fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 })
const size = fc.integer({ min: 1, max: 70 })

describe('wasm kernels are available', () => {
  it('in Node 20, which has WebAssembly SIMD', () => {
    expect(wasmKernelsUnavailable()).toBeUndefined()
    expect(wasm.name).toBe('wasm')
  })
})

describe('matmul agrees with the reference', () => {
  const check = (
    m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean, s: number, at: boolean[],
  ): void => inArena(() => {
    const v = values(s)
    const a = v.uniform(m * k)
    const b = v.uniform(k * n)
    // Without accumulate C's content must be ignored: start it at NaN.
    const c0 = accumulate ? v.uniform(m * n) : new Float32Array(m * n).fill(NaN)
    const expected = c0.slice()
    referenceKernels.matmul(m, n, k, a, transA, b, transB, expected, accumulate)
    const [wa, wb, wc] = [place(a, at[0]!), place(b, at[1]!), place(c0, at[2]!)]
    wasm.matmul(m, n, k, wa, transA, wb, transB, wc, accumulate)
    expectWithin('C', wc, expected, m * n, (ij) => {
      const i = Math.floor(ij / n)
      const j = ij % n
      let magnitude = accumulate ? Math.abs(c0[ij]!) : 0
      for (let p = 0; p < k; p++) {
        magnitude += Math.abs((transA ? a[p * m + i]! : a[i * k + p]!) * (transB ? b[j * k + p]! : b[p * n + j]!))
      }
      return 2 * gamma(k + 1) * magnitude
    })
  })

  it('on random shapes up to 70, every transpose and accumulate combination', () => {
    fc.assert(
      fc.property(size, size, size, fc.boolean(), fc.boolean(), fc.boolean(), seed, placements, check),
      { numRuns: 300 },
    )
  })

  it('across several K blocks of 256', () => {
    const small = fc.integer({ min: 1, max: 13 })
    fc.assert(
      fc.property(small, small, fc.integer({ min: 250, max: 700 }), fc.boolean(), fc.boolean(), fc.boolean(), seed, placements, check),
      { numRuns: 40 },
    )
  })

  it('on the model\'s product shapes at batch 32', () => {
    // [rows, in, out] of the three fuse layers and the head: forward x·Wᵀ, dx = dy·W, dW = dyᵀ·x.
    const layers = [[128, 48, 128], [64, 256, 128], [32, 256, 128], [32, 128, 27]] as const
    for (const [rows, inputs, outputs] of layers) {
      check(rows, outputs, inputs, false, true, false, rows + inputs, [true, true, true])
      check(rows, inputs, outputs, false, false, false, rows + outputs, [true, true, true])
      check(outputs, inputs, rows, true, false, true, inputs + outputs, [true, true, true])
    }
  })

  it('with empty dimensions', () => {
    const c = wasm.alloc(new Float32Array(0), 6).fill(7)
    wasm.matmul(2, 3, 0, new Float32Array(0), false, new Float32Array(0), false, c, true)
    expectEqual('C after k = 0, accumulate', c, new Float32Array(6).fill(7), 6)
    wasm.matmul(2, 3, 0, new Float32Array(0), true, new Float32Array(0), true, c, false)
    expectEqual('C after k = 0', c, new Float32Array(6), 6)
    wasm.matmul(0, 3, 4, new Float32Array(0), false, new Float32Array(12), false, new Float32Array(0), false)
    wasm.matmul(2, 0, 4, new Float32Array(8), false, new Float32Array(0), false, new Float32Array(0), false)
  })
})

describe("matmul's rows do not depend on how many rows run together", () => {
  it('one or two rows (computed without packing) give the bits the same rows give among many (tiled)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 300 }), fc.boolean(), fc.boolean(), fc.nat(),
        (few, n, k, transB, accumulate, s) => {
          const many = 7
          const v = values(s)
          const a = v.uniform(many * k)
          const b = v.uniform(k * n)
          const c0 = v.uniform(many * n)
          const all = c0.slice()
          wasm.matmul(many, n, k, a, false, b, transB, all, accumulate)
          const part = c0.slice(0, few * n)
          wasm.matmul(few, n, k, a.subarray(0, few * k), false, b, transB, part, accumulate)
          expect(Array.from(part)).toEqual(Array.from(all.subarray(0, few * n)))
        }),
      { numRuns: 200 },
    )
  })
})

describe('elementwise and row kernels agree with the reference', () => {
  it('broadcastRows and sumRows', () => {
    fc.assert(
      fc.property(size, size, seed, placements, (rows, cols, s, at) => inArena(() => {
        const v = values(s)
        const row = v.uniform(cols)
        const out = place(new Float32Array(rows * cols), at[0]!)
        wasm.broadcastRows(place(row, at[1]!), out, rows, cols)
        const expected = new Float32Array(rows * cols)
        referenceKernels.broadcastRows(row, expected, rows, cols)
        expectEqual('broadcastRows', out, expected, rows * cols)

        const x = v.uniform(rows * cols)
        const sums = place(new Float32Array(cols).fill(NaN), at[2]!)
        wasm.sumRows(place(x, at[3]!), sums, rows, cols)
        const expectedSums = new Float32Array(cols)
        referenceKernels.sumRows(x, expectedSums, rows, cols)
        expectWithin('sumRows', sums, expectedSums, cols, (j) => {
          let magnitude = 0
          for (let i = 0; i < rows; i++) magnitude += Math.abs(x[i * cols + j]!)
          return 2 * gamma(rows) * magnitude
        })
      })),
    )
  })

  it('tanhForward and tanhBackward', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), seed, placements, (n, s, at) => inArena(() => {
        const v = values(s)
        const x = v.uniform(n, -10, 10)
        // Exact zeros, tiny and saturating inputs too.
        const specials = [0, -0, 1e-30, -3e-4, 4e-4, 9.5, -40, 1e4]
        specials.forEach((special, i) => { if (i < n && i * 7 < n) x[i * 7] = special })
        const y = place(new Float32Array(n), at[0]!)
        wasm.tanhForward(place(x, at[1]!), y, n)
        expectWithin('tanh', y, Float64Array.from(x, Math.tanh), n, (i) => 8 * U * Math.abs(Math.tanh(x[i]!)))

        const dy = v.uniform(n)
        const yRef = Float32Array.from(x, Math.tanh)
        const dx = place(new Float32Array(n), at[2]!)
        wasm.tanhBackward(place(yRef, at[3]!), place(dy, at[4]!), dx, n)
        const expected = new Float32Array(n)
        referenceKernels.tanhBackward(yRef, dy, expected, n)
        // dx = dy·(1 − y²): 3 roundings here, 1 in the reference.
        expectWithin('tanhBackward', dx, expected, n, (i) => {
          const y2 = yRef[i]! * yRef[i]!
          return 4 * U * Math.abs(dy[i]!) * (Math.abs(1 - y2) + y2)
        })
      })),
    )
  })

  it('dropout equals the reference bit for bit, in place too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }), seed, placements, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.nat(1000), fc.double({ min: 0, max: 0.99, noNaN: true }),
        (n, s, at, stepSeed, salt, p) => inArena(() => {
          const x = values(s).uniform(n, -10, 10)
          const seedIds = place(Int32Array.of(stepSeed), at[0]!)
          const expected = new Float32Array(n)
          referenceKernels.dropout(x, seedIds, expected, n, salt, p)
          const y = place(new Float32Array(n), at[1]!)
          wasm.dropout(place(x, at[2]!), seedIds, y, n, salt, p)
          expect(Array.from(y)).toEqual(Array.from(expected))
          const inPlace = place(x, true)
          wasm.dropout(inPlace, seedIds, inPlace, n, salt, p)
          expect(Array.from(inPlace)).toEqual(Array.from(expected))
        }),
      ),
    )
  })

  it('tanhForward in place', () => inArena(() => {
    const x = values(1).uniform(37, -3, 3)
    const expected = Float64Array.from(x, Math.tanh)
    const inWasm = place(x, true)
    wasm.tanhForward(inWasm, inWasm, 37)
    const plain = x.slice()
    wasm.tanhForward(plain, plain, 37)
    for (const y of [inWasm, plain]) expectWithin('tanh in place', y, expected, 37, (i) => 8 * U * Math.abs(expected[i]!))
  }))

  it('gather and scatterAdd', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), size, fc.integer({ min: 0, max: 40 }), seed, placements, (rows, dim, count, s, at) =>
        inArena(() => {
          const v = values(s)
          const table = v.uniform(rows * dim)
          const ids = v.ids(count, rows)
          const out = place(new Float32Array(count * dim), at[0]!)
          wasm.gather(place(table, at[1]!), place(ids, at[2]!), out, count, dim)
          const expected = new Float32Array(count * dim)
          referenceKernels.gather(table, ids, expected, count, dim)
          expectEqual('gather', out, expected, count * dim)

          const dy = v.uniform(count * dim)
          const dTable = place(new Float32Array(rows * dim).fill(NaN), at[3]!)
          wasm.scatterAdd(place(dy, at[4]!), place(ids, at[5]!), dTable, count, dim, rows)
          const expectedTable = new Float32Array(rows * dim)
          referenceKernels.scatterAdd(dy, ids, expectedTable, count, dim, rows)
          expectWithin('scatterAdd', dTable, expectedTable, rows * dim, (rj) => {
            const r = Math.floor(rj / dim)
            let magnitude = 0
            let terms = 0
            for (let i = 0; i < count; i++) {
              if (ids[i] === r) {
                magnitude += Math.abs(dy[i * dim + (rj % dim)]!)
                terms++
              }
            }
            return 2 * gamma(terms) * magnitude
          })
        })),
    )
  })
})

describe('batch-norm kernels agree with the reference', () => {
  const eps = fc.constantFrom(1e-5, 1e-3, 0.1)

  it('columnMoments', () => {
    fc.assert(
      fc.property(size, size, seed, placements, (rows, cols, s, at) => inArena(() => {
        const v = values(s)
        // An offset column mean makes the deviations small against the values.
        const x = v.uniform(rows * cols, 2, 3)
        const mean = place(new Float32Array(cols), at[0]!)
        const variance = place(new Float32Array(cols), at[1]!)
        wasm.columnMoments(place(x, at[2]!), mean, variance, rows, cols)
        const [expectedMean, expectedVar] = [new Float32Array(cols), new Float32Array(cols)]
        referenceKernels.columnMoments(x, expectedMean, expectedVar, rows, cols)
        const column = (j: number) => Array.from({ length: rows }, (_, i) => x[i * cols + j]!)
        expectWithin('mean', mean, expectedMean, cols, (j) =>
          (2 * gamma(rows + 1) * column(j).reduce((t, xi) => t + Math.abs(xi), 0)) / rows)
        expectWithin('variance', variance, expectedVar, cols, (j) => {
          // Deviations from the mean: 3 roundings each (difference, square,
          // sum), plus the mean's own error δ, which moves each d² by 2|d|δ.
          const mu = expectedMean[j]!
          const meanError = (2 * gamma(rows + 1) * column(j).reduce((t, xi) => t + Math.abs(xi), 0)) / rows
          const spread = column(j).reduce((t, xi) => t + (xi - mu) ** 2 + 2 * Math.abs(xi - mu) * meanError, 0)
          return (2 * gamma(rows + 3) * spread) / rows
        })
      })),
    )
  })

  it('normalize', () => {
    fc.assert(
      fc.property(size, size, eps, seed, placements, (rows, cols, e, s, at) => inArena(() => {
        const v = values(s)
        const x = v.uniform(rows * cols, -3, 3)
        const mean = v.uniform(cols)
        const variance = v.uniform(cols, 0, 4)
        const gammaW = v.uniform(cols, -2, 2)
        const beta = v.uniform(cols)
        const xhat = place(new Float32Array(rows * cols), at[0]!)
        const y = place(new Float32Array(rows * cols), at[1]!)
        wasm.normalize(
          place(x, at[2]!), place(mean, at[3]!), place(variance, at[4]!), place(gammaW, at[5]!), place(beta, at[6]!), e,
          xhat, y, rows, cols,
        )
        const [expectedXhat, expectedY] = [new Float32Array(rows * cols), new Float32Array(rows * cols)]
        referenceKernels.normalize(x, mean, variance, gammaW, beta, e, expectedXhat, expectedY, rows, cols)
        // xhat: 3 roundings (scale, difference, product); y: 2 more.
        expectWithin('xhat', xhat, expectedXhat, rows * cols, (i) => 4 * U * Math.abs(expectedXhat[i]!))
        expectWithin('y', y, expectedY, rows * cols, (i) => {
          const j = i % cols
          return 6 * U * (Math.abs(gammaW[j]! * expectedXhat[i]!) + Math.abs(beta[j]!))
        })
      })),
    )
  })

  it('normalizeBackward, with batch or fixed statistics', () => {
    fc.assert(
      fc.property(size, size, eps, fc.boolean(), seed, placements, (rows, cols, e, batch, s, at) => inArena(() => {
        const v = values(s)
        const dy = v.uniform(rows * cols)
        const xhat = v.uniform(rows * cols, -2, 2)
        const variance = v.uniform(cols, 0, 4)
        const gammaW = v.uniform(cols, -2, 2)
        const dx = place(new Float32Array(rows * cols), at[0]!)
        const dgamma = place(new Float32Array(cols), at[1]!)
        const dbeta = place(new Float32Array(cols), at[2]!)
        wasm.normalizeBackward(
          place(dy, at[3]!), place(xhat, at[4]!), place(variance, at[5]!), place(gammaW, at[6]!), e, batch,
          dx, dgamma, dbeta, rows, cols,
        )
        const [expectedDx, expectedDgamma, expectedDbeta] =
          [new Float32Array(rows * cols), new Float32Array(cols), new Float32Array(cols)]
        referenceKernels.normalizeBackward(dy, xhat, variance, gammaW, e, batch, expectedDx, expectedDgamma, expectedDbeta, rows, cols)
        const sums = (j: number, f: (i: number) => number) => {
          let t = 0
          for (let i = 0; i < rows; i++) t += f(i * cols + j)
          return t
        }
        // Both sum in float64, then round once to float32.
        expectWithin('dbeta', dbeta, expectedDbeta, cols, (j) => 2 * U * sums(j, (i) => Math.abs(dy[i]!)))
        expectWithin('dgamma', dgamma, expectedDgamma, cols, (j) => 2 * U * sums(j, (i) => Math.abs(dy[i]! * xhat[i]!)))
        // dx = k1·dy − k0 − k2·xhat with k1 = gamma·s, k0 = k1·Σdy/n, k2 = k1·Σdy·xhat/n
        // (0 with fixed statistics): 1 rounding per coefficient, 4 in the
        // float32 evaluation, 1 in the reference.
        expectWithin('dx', dx, expectedDx, rows * cols, (i) => {
          const j = i % cols
          const k1 = gammaW[j]! / Math.sqrt(variance[j]! + e)
          const k0 = batch ? (k1 * sums(j, (r) => dy[r]!)) / rows : 0
          const k2 = batch ? (k1 * sums(j, (r) => dy[r]! * xhat[r]!)) / rows : 0
          return 6 * U * (Math.abs(k1 * dy[i]!) + Math.abs(k0) + Math.abs(k2 * xhat[i]!))
        })
      })),
    )
  })
})

describe('softmax cross-entropy agrees with the reference', () => {
  it('forward and backward', () => {
    const spread = fc.constantFrom(1, 10, 100)
    fc.assert(
      fc.property(size, size, spread, fc.double({ min: -4, max: 4, noNaN: true }), seed, placements, (rows, cols, width, scale, s, at) =>
        inArena(() => {
          const v = values(s)
          // Logits over ±width: at 100 many probabilities underflow.
          const logits = v.uniform(rows * cols, -width, width)
          const targets = v.ids(rows, cols)
          const probs = place(new Float32Array(rows * cols), at[0]!)
          const loss = wasm.softmaxCrossEntropy(place(logits, at[1]!), place(targets, at[2]!), probs, rows, cols)
          const expectedProbs = new Float32Array(rows * cols)
          const expectedLoss = referenceKernels.softmaxCrossEntropy(logits, targets, expectedProbs, rows, cols)
          const rowMax = (i: number) => Math.max(...logits.subarray(i - (i % cols), i - (i % cols) + cols))
          expectWithin('probs', probs, expectedProbs, rows * cols, (i) =>
            (12 + Math.abs(logits[i]! - rowMax(i))) * U * expectedProbs[i]! + SMALLEST_NORMAL)
          expectWithin('loss', [loss], [expectedLoss], 1, () => 12 * U)

          const dlogits = place(new Float32Array(rows * cols), at[3]!)
          wasm.softmaxCrossEntropyBackward(place(expectedProbs, at[4]!), place(targets, at[5]!), scale, dlogits, rows, cols)
          const expected = new Float32Array(rows * cols)
          referenceKernels.softmaxCrossEntropyBackward(expectedProbs, targets, scale, expected, rows, cols)
          // scale·p: 2 roundings (scale to float32, product); the target's −scale: 1 more.
          expectWithin('dlogits', dlogits, expected, rows * cols, (i) =>
            3 * U * Math.abs(scale) * (expectedProbs[i]! + (targets[Math.floor(i / cols)] === i % cols ? 1 : 0)) +
            3 * SUBNORMAL_SPACING)
        })),
    )
  })
})

describe('memory', () => {
  it('alloc hands out distinct zero-filled float32 views of the wasm memory, float64 arrays outside it', () => inArena(() => {
    const like = new Float32Array(0)
    const a = wasm.alloc(like, 10).fill(1)
    const b = wasm.alloc(like, 3)
    expect(wasm.owns(a) && wasm.owns(b)).toBe(true)
    expect(Array.from(b)).toEqual([0, 0, 0])
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.byteLength)
    const d = wasm.alloc(new Float64Array(0), 4)
    expect(d).toBeInstanceOf(Float64Array)
    expect(wasm.owns(d)).toBe(false)
  }))

  it('reset frees what was allocated after the mark, and rejects marks outside the arena', () => {
    const mark = wasm.arena.mark()
    const used = wasm.arena.usedBytes
    const first = wasm.alloc(new Float32Array(0), 100).fill(5)
    expect(wasm.arena.usedBytes).toBeGreaterThan(used)
    wasm.arena.reset(mark)
    expect(wasm.arena.usedBytes).toBe(used)
    const again = wasm.alloc(new Float32Array(0), 100)
    expect(again.byteOffset).toBe(first.byteOffset)
    expect(again.every((x) => x === 0)).toBe(true)
    expect(() => wasm.arena.reset(wasm.arena.mark() + 64)).toThrow(RangeError)
    wasm.arena.reset(mark)
  })

  it('float64 arguments run on the reference kernels', () => {
    const v = values(3)
    const a = Float64Array.from(v.uniform(12))
    const b = Float64Array.from(v.uniform(20))
    const [c, expected] = [new Float64Array(15), new Float64Array(15)]
    wasm.matmul(3, 5, 4, a, false, b, true, c, false)
    referenceKernels.matmul(3, 5, 4, a, false, b, true, expected, false)
    expect(Array.from(c)).toEqual(Array.from(expected))
  })

  it('grows while no allocation is live; otherwise a request that does not fit is an error naming the size, and views stay attached', () => {
    const small = createWasmKernels({ memoryBytes: 64 * 1024 })!
    const capacity = small.arena.capacityBytes
    const v = values(4)
    const [m, n, k] = [60, 70, 300]
    const a = v.uniform(m * k)
    const b = v.uniform(k * n)
    const expected = new Float32Array(m * n)
    referenceKernels.matmul(m, n, k, a, false, b, false, expected, false)
    const bound = (c: FloatArray) => expectWithin('C', c, expected, m * n, () => 2 * gamma(k + 1) * k)

    // The staged copies (~180 KiB) need more than one page: the empty arena grows.
    const c = new Float32Array(m * n)
    small.matmul(m, n, k, a, false, b, false, c, false)
    bound(c)
    expect(small.arena.capacityBytes).toBeGreaterThan(capacity)

    // With a live view, neither alloc nor a call may grow (it would detach the view): a clear error, never a slower path.
    const live = small.alloc(new Float32Array(0), 8).fill(3)
    const grown = small.arena.capacityBytes
    expect(() => small.alloc(new Float32Array(0), grown)).toThrow(WasmMemoryFull)
    expect(() => small.alloc(new Float32Array(0), grown)).toThrow(/memoryBytes of at least \d+/)
    const [a2, b2] = [v.uniform(2 * m * k), v.uniform(2 * k * n)]
    expect(() => small.matmul(m, n, 2 * k, a2, false, b2, false, new Float32Array(m * n), false)).toThrow(WasmMemoryFull)
    expect(small.arena.capacityBytes).toBe(grown)
    expect(Array.from(live)).toEqual(new Array(8).fill(3))
    expect(() => small.alloc(new Float32Array(0), 2 ** 30)).toThrow(/more than the 4 GiB/)
  })

  it('scope frees what its function allocated, copies out what it returns, and grows to fit when entered empty', () => {
    const kernels = createWasmKernels({ memoryBytes: 64 * 1024 })!
    const like = new Float32Array(0)
    const n = 100_000
    // 400 KB: more than the memory holds, so the scope runs its function again after growing.
    let runs = 0
    const result = kernels.scope(() => {
      runs += 1
      const x = kernels.alloc(like, n).fill(2)
      const y = kernels.alloc(like, n)
      kernels.tanhForward(x, y, n)
      return { y, nested: [y.subarray(0, 2)], kept: 'text' }
    })
    expect(runs).toBeGreaterThan(1)
    expect(kernels.owns(result.y) || kernels.owns(result.nested[0]!)).toBe(false)
    expect(result.y[n - 1]).toBe(Math.fround(Math.tanh(2)))
    expect(result.kept).toBe('text')
    expect(kernels.arena.usedBytes).toBe(0)
    // A value handed out is never overwritten by later work.
    const before = Array.from(result.y.subarray(0, 4))
    kernels.scope(() => kernels.alloc(like, n).fill(-1))
    expect(Array.from(result.y.subarray(0, 4))).toEqual(before)
  })

  it('rejects arrays too short for the shapes, and ids out of range', () => {
    const like = new Float32Array(0)
    expect(() => wasm.matmul(2, 2, 2, new Float32Array(3), false, new Float32Array(4), false, new Float32Array(4), false))
      .toThrow(RangeError)
    expect(() => wasm.gather(new Float32Array(6), Int32Array.of(0, 3), wasm.alloc(like, 4), 2, 2)).toThrow(RangeError)
    expect(() => wasm.scatterAdd(new Float32Array(4), Int32Array.of(-1, 0), new Float32Array(6), 2, 2, 3)).toThrow(RangeError)
    expect(() => wasm.softmaxCrossEntropy(new Float32Array(6), Int32Array.of(0, 3), new Float32Array(6), 2, 3))
      .toThrow(RangeError)
  })
})
