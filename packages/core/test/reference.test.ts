/**
 * The reference kernels, the oracle every backend is tested against: each
 * writes its outputs and nothing past them, and an output that is computed
 * (not accumulated) does not depend on what the buffer held.
 */
import { describe, expect, it } from 'vitest'
import { referenceKernels as k } from '../src/index.js'

const SENTINEL = 12345.5

/** `n` values followed by one sentinel. */
const guarded = (n: number, fill: (i: number) => number = () => 0): Float32Array => {
  const a = new Float32Array(n + 1)
  for (let i = 0; i < n; i++) a[i] = fill(i)
  a[n] = SENTINEL
  return a
}
const values = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, (_, i) => scale * Math.sin(i + 1))

describe('reference kernels', () => {
  it('write nothing past the elements they are asked for', () => {
    const [rows, cols, n] = [3, 4, 12]
    const outputs: [string, Float32Array[], () => void][] = []
    const check = (name: string, arrays: Float32Array[], run: () => void) => outputs.push([name, arrays, run])
    const c = guarded(rows * cols)
    check('matmul', [c], () => k.matmul(rows, cols, 2, values(rows * 2), false, values(2 * cols), false, c, false))
    const ct = guarded(rows * cols)
    check('matmul transposed', [ct], () => k.matmul(rows, cols, 2, values(2 * rows), true, values(cols * 2), true, ct, false))
    const broadcast = guarded(rows * cols)
    check('broadcastRows', [broadcast], () => k.broadcastRows(values(cols + 3), broadcast, rows, cols))
    const sums = guarded(cols)
    check('sumRows', [sums], () => k.sumRows(values(rows * cols), sums, rows, cols))
    const y = guarded(n)
    check('tanhForward', [y], () => k.tanhForward(values(n + 3), y, n))
    const dx = guarded(n)
    check('tanhBackward', [dx], () => k.tanhBackward(values(n + 3), values(n + 3), dx, n))
    const dropped = guarded(n)
    check('dropout', [dropped], () => k.dropout(values(n + 3), Int32Array.of(7), dropped, n, 1, 0.5))
    const gathered = guarded(2 * cols)
    check('gather', [gathered], () => k.gather(values(rows * cols), Int32Array.of(2, 0), gathered, 2, cols))
    const strided = guarded(rows * cols)
    check('addStrided', [strided], () => k.addStrided(values(rows * 2), 2, 0, strided, cols, 1, rows, 2, true))
    const table = guarded(rows * cols)
    check('scatterRows', [table], () => k.scatterRows(values(2 * cols), Int32Array.of(2, 0), table, 2, cols, rows))
    const dTable = guarded(rows * cols)
    check('scatterAdd', [dTable], () => k.scatterAdd(values(2 * cols), Int32Array.of(2, 2), dTable, 2, cols, rows))
    const [mean, variance] = [guarded(cols), guarded(cols)]
    check('columnMoments', [mean, variance], () => k.columnMoments(values(rows * cols), mean, variance, rows, cols))
    const [xhat, normed] = [guarded(rows * cols), guarded(rows * cols)]
    check('normalize', [xhat, normed], () => k.normalize(values(rows * cols), values(cols), values(cols).map(Math.abs), values(cols), values(cols), 1e-5, xhat, normed, rows, cols))
    const [dxn, dgamma, dbeta] = [guarded(rows * cols), guarded(cols), guarded(cols)]
    check('normalizeBackward', [dxn, dgamma, dbeta], () =>
      k.normalizeBackward(values(rows * cols), values(rows * cols), values(cols).map(Math.abs), values(cols), 1e-5, true, dxn, dgamma, dbeta, rows, cols))
    const probs = guarded(rows * cols)
    check('softmaxCrossEntropy', [probs], () => k.softmaxCrossEntropy(values(rows * cols), Int32Array.of(0, 3, 1), probs, rows, cols))
    const dlogits = guarded(rows * cols)
    check('softmaxCrossEntropyBackward', [dlogits], () => k.softmaxCrossEntropyBackward(values(rows * cols), Int32Array.of(0, 3, 1), 0.5, dlogits, rows, cols))
    const sgdParams = guarded(n, (i) => i)
    check('sgdUpdate', [sgdParams], () => k.sgdUpdate(sgdParams, values(n + 3), 0.1, n))
    const [p, m, v] = [guarded(n, (i) => i), guarded(n), guarded(n)]
    check('adamwUpdate', [p, m, v], () => k.adamwUpdate(p, values(n + 3), m, v, n, 0.1, 0.9, 0.99, 1e-8, 0.99, 0.1, 0.01))
    const averaged = guarded(n)
    check('movingAverage', [averaged], () => k.movingAverage(values(n + 3), values(n + 3), averaged, 0.9, 0.1, n))
    for (const [name, arrays, run] of outputs) {
      run()
      for (const array of arrays) expect(array[array.length - 1], name).toBe(SENTINEL)
    }
  })

  it('dropout drops a fraction p, scales the rest by 1/(1 − p) in float32, and draws masks by seed and salt', () => {
    const n = 20_000
    const x = Float32Array.from({ length: n }, (_, i) => 1 + (i % 7) / 8)
    const masked = (seed: number, salt: number, p: number): Float32Array => {
      const y = new Float32Array(n)
      k.dropout(x, Int32Array.of(seed), y, n, salt, p)
      return y
    }
    for (const p of [0.1, 0.25, 0.5]) {
      const y = masked(3, 0, p)
      const dropped = y.filter((v) => v === 0).length / n
      // The count of drops is binomial: within 5 standard deviations of n·p.
      expect(Math.abs(dropped - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n))
      expect(y.every((v, i) => v === 0 || v === Math.fround(x[i]! * Math.fround(1 / (1 - p))))).toBe(true)
    }
    expect(Array.from(masked(3, 0, 0))).toEqual(Array.from(x))
    const agreement = (a: Float32Array, b: Float32Array) => a.filter((v, i) => (v === 0) === (b[i] === 0)).length / n
    // Independent masks at p = 0.5 agree on about half the values.
    expect(agreement(masked(3, 0, 0.5), masked(3, 0, 0.5))).toBe(1)
    expect(agreement(masked(3, 0, 0.5), masked(4, 0, 0.5))).toBeLessThan(0.55)
    expect(agreement(masked(3, 0, 0.5), masked(3, 1, 0.5))).toBeLessThan(0.55)
  })

  it('compute scatterAdd and the non-accumulating matmul whatever their output held', () => {
    const dy = values(6)
    const ids = Int32Array.of(1, 1, 0)
    const clean = new Float32Array(8)
    k.scatterAdd(dy, ids, clean, 3, 2, 4)
    const dirty = new Float32Array(8).fill(7)
    k.scatterAdd(dy, ids, dirty, 3, 2, 4)
    expect(Array.from(dirty)).toEqual(Array.from(clean))
    expect(Array.from(clean.subarray(2, 4))).toEqual([dy[0]! + dy[2]!, dy[1]! + dy[3]!].map(Math.fround))
    const [a, b] = [values(6), values(6, 2)]
    const product = new Float32Array(4)
    k.matmul(2, 2, 3, a, false, b, false, product, false)
    const over = new Float32Array(4).fill(-3)
    k.matmul(2, 2, 3, a, false, b, false, over, false)
    expect(Array.from(over)).toEqual(Array.from(product))
    // Accumulating adds to what it held.
    k.matmul(2, 2, 3, a, false, b, false, over, true)
    over.forEach((x, i) => expect(x).toBeCloseTo(2 * product[i]!, 5))
  })

  it('read no more rows or ids than they are asked for, from inputs longer than that', () => {
    // Buffers are reused, so inputs are often longer than the call's count: a
    // row past `rows`, or an id past `count`, must be neither read nor written.
    const [rows, cols] = [3, 4]
    const strided = guarded(rows * cols + 3)
    k.addStrided(values((rows + 1) * 2), 2, 0, strided, cols, 2, rows, 2, true)
    expect(strided[rows * cols + 3]).toBe(SENTINEL)
    expect(Array.from(strided.subarray(rows * cols, rows * cols + 3))).toEqual([0, 0, 0])
    const table = guarded(rows * cols)
    k.scatterRows(values(3 * cols), Int32Array.of(2, 0, rows), table, 2, cols, rows)
    expect(table[rows * cols]).toBe(SENTINEL)
    expect(Array.from(table.subarray(cols, 2 * cols))).toEqual([0, 0, 0, 0])
  })

  it('are the backend called js, the name --backend takes and checkpoints record', () => {
    expect(k.name).toBe('js')
  })
})
