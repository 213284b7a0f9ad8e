/**
 * The gpu.js kernels against `referenceKernels`, in every mode this machine
 * offers: cpu and webasm everywhere; headlessgl where headless-gl is built
 * and an X display exists; webgpu where Dawn finds an adapter. A mode that is
 * not available is reported as skipped, with the reason in the suite's name.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normals, referenceKernels, seeded } from '@wavenet/core'
import { availableModes, createGpuKernels, GpuUnavailableError, type GpuBackend, type GpuMode } from '../src/index.js'

/** The float32 unit roundoff: half the distance from 1 to the next float32. */
const u = 2 ** -24

const modes = await availableModes()
const available = modes.filter((m) => m.available).map((m) => m.mode)

/** n standard normal values as float32, from a seed. */
const randomFloats = (seed: number, n: number): Float32Array => Float32Array.from(normals(seeded(seed), n)[0])

/** `values` placed `pad` elements into a longer array, as a view that runs `pad` past them: kernels must read and write only the first `values.length`. */
const embedded = (values: Float32Array, pad: number): Float32Array => {
  const whole = new Float32Array(values.length + 2 * pad).fill(7)
  whole.set(values, pad)
  return whole.subarray(pad)
}

/** The first index where |got − want| exceeds tol, described, or undefined when all agree. */
const firstDisagreement = (
  got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number,
): string | undefined => {
  for (let i = 0; i < want.length; i++) {
    const error = Math.abs(got[i]! - want[i]!)
    if (!(error <= tol(i))) return `at ${i}: got ${got[i]}, reference ${want[i]}, |error| ${error} > tolerance ${tol(i)}`
  }
  return undefined
}

/**
 * The tolerance for element i of C = op(A)·op(B) (+ C0):
 * 2(k+2)·u·(Σ_p |op(A)_ip|·|op(B)_pj| + |C0_ij|).
 *
 * Both sides sum k+1 float32 terms (k products, and C0 when accumulating) in
 * some order: the reference rounds each partial sum to float32 (its products
 * are exact in float64), the device also rounds each product. Each is then
 * within γ_{k+1}·S of the exact value (Higham, Accuracy and Stability of
 * Numerical Algorithms, §3.1: any summation order, FMA or not), S the sum of
 * magnitudes above and γ_j = j·u/(1 − j·u); twice that is below 2(k+2)·u·S
 * while (k+1)·u < 1/(k+2), far beyond the sizes tested.
 */
const matmulTolerance = (
  m: number, n: number, k: number, a: Float32Array, transA: boolean, b: Float32Array, transB: boolean,
  c0: Float32Array, accumulate: boolean,
): ((i: number) => number) => {
  const magnitude = new Float64Array(m * n)
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = accumulate ? Math.abs(c0[i * n + j]!) : 0
      for (let p = 0; p < k; p++) {
        s += Math.abs(transA ? a[p * m + i]! : a[i * k + p]!) * Math.abs(transB ? b[j * k + p]! : b[p * n + j]!)
      }
      magnitude[i * n + j] = s
    }
  }
  return (i) => 2 * (k + 2) * u * magnitude[i]!
}

const shapes = fc.record({
  m: fc.integer({ min: 1, max: 40 }),
  n: fc.integer({ min: 1, max: 40 }),
  k: fc.integer({ min: 1, max: 40 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  accumulate: fc.boolean(),
  pad: fc.integer({ min: 0, max: 3 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
})

// Every new shape compiles a kernel (tens of milliseconds on the GL and WebGPU
// software renderers), so the runs are kept few; the shapes are still drawn
// over all four transpose combinations, accumulate, odd sizes and offsets.
const matmulRuns = 40
const elementwiseRuns = 20

describe('availability', () => {
  it.each(['cpu', 'webasm'] as const)('%s runs on every machine', (mode) => {
    expect(available).toContain(mode)
  })

  it(`auto uses the first available mode (${available[0]}) and says what it skipped`, async () => {
    const backend = await createGpuKernels('auto')
    try {
      expect(backend.mode).toBe(available[0])
      expect(backend.kernels.name).toBe(`gpu:${available[0]}`)
      const skipped = modes.slice(0, modes.findIndex((m) => m.available))
      if (skipped.length === 0) expect(backend.fellBack).toBeUndefined()
      for (const { mode } of skipped) expect(backend.fellBack).toContain(`${mode}: `)
    } finally {
      await backend.destroy()
    }
  })

  const unavailable = modes.find((m) => !m.available)
  it.skipIf(unavailable === undefined)(
    `a named mode that cannot run is a GpuUnavailableError, not a fallback${unavailable ? ` (${unavailable.mode})` : ' (skipped: every mode is available here)'}`,
    async () => {
      const mode = unavailable!.mode
      const attempt = createGpuKernels(mode)
      await expect(attempt).rejects.toBeInstanceOf(GpuUnavailableError)
      await expect(attempt).rejects.toThrow(`gpu mode '${mode}' is not available: ${unavailable!.reason}`)
    },
  )
})

for (const { mode, available: runs, reason } of modes) {
  describe.skipIf(!runs)(`${mode}${runs ? '' : ` (skipped: ${reason})`}`, () => {
    let backend: GpuBackend
    beforeAll(async () => {
      backend = await createGpuKernels(mode)
    })
    afterAll(() => backend.destroy())

    it('matmul agrees with the reference for every transpose variant and accumulate', () => {
      fc.assert(
        fc.property(shapes, ({ m, n, k, transA, transB, accumulate, pad, seed }) => {
          const a = randomFloats(seed, m * k)
          const b = randomFloats(seed + 1, k * n)
          const c0 = randomFloats(seed + 2, m * n)
          const want = c0.slice()
          referenceKernels.matmul(m, n, k, a, transA, b, transB, want, accumulate)
          const c = embedded(c0, pad)
          backend.kernels.matmul(m, n, k, embedded(a, pad), transA, embedded(b, pad), transB, c, accumulate)

          const problem = firstDisagreement(c, want, matmulTolerance(m, n, k, a, transA, b, transB, c0, accumulate))
          expect(problem, `${m}×${n}×${k} transA=${transA} transB=${transB} accumulate=${accumulate}`).toBeUndefined()
          // Nothing past C's m×n elements is written.
          expect(Array.from(c.subarray(m * n))).toEqual(new Array(pad).fill(7))
        }),
        { numRuns: matmulRuns },
      )
    })

    it('splits products with more rows than a GL texture holds (16384 on Mesa) into row blocks', () => {
      const [m, n, k] = [20_000, 3, 5]
      for (const transA of [false, true]) {
        const a = randomFloats(5, m * k)
        const b = randomFloats(6, k * n)
        const c0 = randomFloats(7, m * n)
        const want = c0.slice()
        referenceKernels.matmul(m, n, k, a, transA, b, false, want, true)
        const c = c0.slice()
        backend.kernels.matmul(m, n, k, a, transA, b, false, c, true)
        const problem = firstDisagreement(c, want, matmulTolerance(m, n, k, a, transA, b, false, c0, true))
        expect(problem, `transA=${transA}`).toBeUndefined()
      }
    })

    it('sums long products (k beyond the 512 that cpu and webasm sum per kernel) in blocks, in every variant', () => {
      const [m, n, k] = [3, 5, 1500]
      for (const [transA, transB, accumulate] of [[false, false, false], [true, false, true], [false, true, true], [true, true, false]] as const) {
        const a = randomFloats(8, m * k)
        const b = randomFloats(9, k * n)
        const c0 = randomFloats(10, m * n)
        const want = c0.slice()
        referenceKernels.matmul(m, n, k, a, transA, b, transB, want, accumulate)
        const c = c0.slice()
        backend.kernels.matmul(m, n, k, a, transA, b, transB, c, accumulate)
        const problem = firstDisagreement(c, want, matmulTolerance(m, n, k, a, transA, b, transB, c0, accumulate))
        expect(problem, `transA=${transA} transB=${transB} accumulate=${accumulate}`).toBeUndefined()
      }
    })

    it('tanhForward agrees with the reference, also where tanh saturates', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 300 }),
          fc.constantFrom(1e-3, 1, 5, 60),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          (n, scale, seed) => {
            // Scale 60 puts values far past 44, where an unclamped GL tanh is NaN.
            const x = randomFloats(seed, n).map((v) => v * scale)
            const want = new Float32Array(n)
            referenceKernels.tanhForward(x, want, n)
            const y = new Float32Array(n)
            backend.kernels.tanhForward(x, y, n)
            // Tolerance 8u, absolute. The GL backends compute
            // (e − 1)/(e + 1) with e = exp(2x) within (3 + 4|x|) ulp (GLSL's
            // exp accuracy); that error moves the quotient by at most
            // (3 + 4|x|)·2u·e/(e + 1)² ≤ 4u for every x, the three roundings
            // of the quotient add 3u (|tanh| ≤ 1) and the reference's own
            // rounding to float32 u. WGSL leaves tanh's accuracy to the
            // implementation; Mesa's measured 2.4u over [−20, 20], within the
            // same bound. cpu and webasm call Math.tanh, as the reference does.
            const problem = firstDisagreement(y, want, () => 8 * u)
            expect(problem, `n=${n} scale=${scale}`).toBeUndefined()
          },
        ),
        { numRuns: elementwiseRuns },
      )
    })

    it('tanhBackward agrees with the reference', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, seed) => {
          const y = randomFloats(seed, n).map(Math.tanh)
          const dy = randomFloats(seed + 1, n).map((v) => 3 * v)
          const want = new Float32Array(n)
          referenceKernels.tanhBackward(y, dy, want, n)
          const dx = new Float32Array(n)
          backend.kernels.tanhBackward(y, dy, dx, n)
          // Tolerance (3u + 4u²)·|dy|. The device rounds y², 1 − y² and the
          // product: dy·(1 − y²) within (u·y² + 2u·(1 − y²))·|dy| ≤ 2u·|dy| to
          // first order; the reference (float64, then rounded) within
          // u·|dx| ≤ u·|dy|; 4u² covers the second-order terms.
          const problem = firstDisagreement(dx, want, (i) => (3 * u + 4 * u * u) * Math.abs(dy[i]!))
          expect(problem, `n=${n}`).toBeUndefined()
        }),
        { numRuns: elementwiseRuns },
      )
    })

    it('leaves float64 to the reference kernels, bit for bit', () => {
      const compiled = backend.compiledKernels()
      const a = Float64Array.from(randomFloats(1, 6 * 5))
      const b = Float64Array.from(randomFloats(2, 5 * 4))
      const c = new Float64Array(6 * 4)
      const want = new Float64Array(6 * 4)
      backend.kernels.matmul(6, 4, 5, a, false, b, false, c, false)
      referenceKernels.matmul(6, 4, 5, a, false, b, false, want, false)
      expect(c).toEqual(want)
      const y = new Float64Array(30)
      backend.kernels.tanhForward(a, y, 30)
      expect(y).toEqual(a.map(Math.tanh))
      expect(backend.compiledKernels()).toBe(compiled)
    })

    it('compiles a kernel once per variant and shape, and reuses it', () => {
      const before = backend.compiledKernels()
      const a = randomFloats(3, 41 * 43)
      const b = randomFloats(4, 43 * 47)
      const c = new Float32Array(41 * 47)
      backend.kernels.matmul(41, 47, 43, a, false, b, true, c, true)
      backend.kernels.matmul(41, 47, 43, a, false, b, true, c, true)
      expect(backend.compiledKernels()).toBe(before + 1)
      backend.kernels.matmul(41, 47, 43, a, false, b, true, c, false)
      backend.kernels.tanhForward(a, c, 301)
      backend.kernels.tanhForward(b, c, 301)
      expect(backend.compiledKernels()).toBe(before + 3)
    })
  })
}

describe('destroy', () => {
  it.each(available)('releases the %s context: the kernels throw afterwards, and a second destroy does nothing', async (mode: GpuMode) => {
    const backend = await createGpuKernels(mode)
    const x = new Float32Array([0.5, -0.5])
    backend.kernels.tanhForward(x, new Float32Array(2), 2)
    await backend.destroy()
    expect(() => backend.kernels.tanhForward(x, new Float32Array(2), 2)).toThrow(`gpu:${mode} kernels used after destroy()`)
    expect(() => backend.kernels.matmul(1, 1, 1, x, false, x, false, new Float32Array(1), false)).toThrow(/after destroy/)
    await expect(backend.destroy()).resolves.toBeUndefined()
  })
})
