// Per-column batch statistics and normalisation over a rows×cols matrix.
// All loops sweep row by row (memory order) and vectorise across columns.
// (Summing down a block of columns with the sums in registers measured
// slower for the model's 128 columns: one dependent add per row.)

import { addInto, tanhForward } from './elementwise'
import { tanh4 } from './math'

/** mean[j] = Σ_i x[i, j] / rows; variance[j] = Σ_i (x[i, j] − mean[j])² / rows. */
export function columnMoments(x: usize, mean: usize, variance: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols * 4
  memory.fill(mean, 0, rowBytes)
  memory.fill(variance, 0, rowBytes)
  for (let i = 0; i < rows; i++) addInto(mean, x + <usize>i * rowBytes, cols)
  const n = <f32>rows
  const n4 = f32x4.splat(n)
  let j = 0
  for (; j + 4 <= cols; j += 4) v128.store(mean + <usize>j * 4, f32x4.div(v128.load(mean + <usize>j * 4), n4))
  for (; j < cols; j++) store<f32>(mean + <usize>j * 4, load<f32>(mean + <usize>j * 4) / n)
  // Second pass over squared deviations: no cancellation, unlike E[x²] − E[x]².
  for (let i = 0; i < rows; i++) {
    const row = x + <usize>i * rowBytes
    j = 0
    for (; j + 4 <= cols; j += 4) {
      const at = <usize>j * 4
      const d = f32x4.sub(v128.load(row + at), v128.load(mean + at))
      v128.store(variance + at, f32x4.add(v128.load(variance + at), f32x4.mul(d, d)))
    }
    for (; j < cols; j++) {
      const at = <usize>j * 4
      const d = load<f32>(row + at) - load<f32>(mean + at)
      store<f32>(variance + at, load<f32>(variance + at) + d * d)
    }
  }
  j = 0
  for (; j + 4 <= cols; j += 4) v128.store(variance + <usize>j * 4, f32x4.div(v128.load(variance + <usize>j * 4), n4))
  for (; j < cols; j++) store<f32>(variance + <usize>j * 4, load<f32>(variance + <usize>j * 4) / n)
}

/** Bytes of scratch `normalize` needs for `cols` columns. */
export function normalizeScratchBytes(cols: i32): usize {
  return <usize>cols * 4
}

/**
 * xhat = (x − mean[j]) · s[j] with s[j] = 1/sqrt(var[j] + eps), and
 * y = gamma[j] · xhat + beta[j]. `scratch` holds cols float32 (s, computed
 * once per column in float64). xhat may be x itself (in place).
 */
export function normalize(
  x: usize, mean: usize, variance: usize, gamma: usize, beta: usize, eps: f64,
  xhat: usize, y: usize, rows: i32, cols: i32, scratch: usize,
): void {
  normalizeRows(x, mean, variance, gamma, beta, eps, xhat, y, rows, cols, scratch, false)
}

/**
 * `normalize` then `tanhForward` on its output, in one pass:
 * y = tanh(gamma[j] · xhat + beta[j]), the same bits as the two calls, without
 * storing the values in between. xhat may be x itself (in place).
 */
export function normalizeTanh(
  x: usize, mean: usize, variance: usize, gamma: usize, beta: usize, eps: f64,
  xhat: usize, y: usize, rows: i32, cols: i32, scratch: usize,
): void {
  normalizeRows(x, mean, variance, gamma, beta, eps, xhat, y, rows, cols, scratch, true)
}

// @ts-ignore: decorator
@inline
function normalizeRows(
  x: usize, mean: usize, variance: usize, gamma: usize, beta: usize, eps: f64,
  xhat: usize, y: usize, rows: i32, cols: i32, scratch: usize, thenTanh: bool,
): void {
  const s = scratch
  for (let j = 0; j < cols; j++) {
    store<f32>(s + <usize>j * 4, <f32>(1 / Math.sqrt(<f64>load<f32>(variance + <usize>j * 4) + eps)))
  }
  const rowBytes = <usize>cols * 4
  for (let i = 0; i < rows; i++) {
    const rowX = x + <usize>i * rowBytes
    const rowH = xhat + <usize>i * rowBytes
    const rowY = y + <usize>i * rowBytes
    let j = 0
    for (; j + 4 <= cols; j += 4) normalize4(rowX, mean, s, gamma, beta, rowH, rowY, <usize>j * 4)
    for (; j < cols; j++) {
      const at = <usize>j * 4
      const h = (load<f32>(rowX + at) - load<f32>(mean + at)) * load<f32>(s + at)
      store<f32>(rowH + at, h)
      store<f32>(rowY + at, load<f32>(gamma + at) * h + load<f32>(beta + at))
    }
    // The row is still in L1: tanh it there. One tanh4 interleaved with the
    // normalisation runs out of registers; tanhForward's loop does not.
    if (thenTanh) tanhForward(rowY, rowY, cols)
  }
}

/** Four columns of `normalizeRows` at byte offset `at` of a row. */
// @ts-ignore: decorator
@inline
function normalize4(
  rowX: usize, mean: usize, s: usize, gamma: usize, beta: usize, rowH: usize, rowY: usize, at: usize,
): void {
  const h = f32x4.mul(f32x4.sub(v128.load(rowX + at), v128.load(mean + at)), v128.load(s + at))
  v128.store(rowH + at, h)
  v128.store(rowY + at, f32x4.add(f32x4.mul(v128.load(gamma + at), h), v128.load(beta + at)))
}

/** Bytes of scratch `normalizeBackward` needs for `cols` columns. */
export function normalizeBackwardScratchBytes(cols: i32): usize {
  return <usize>cols * 28
}

/**
 * Gradient of `normalize`. With s = 1/sqrt(var[j] + eps), n = rows,
 * dbeta = Σ dy, dgamma = Σ dy·xhat (summed in float64), and
 * dx = k1·dy − k0 − k2·xhat where k1 = gamma·s and, with batch statistics,
 * k0 = gamma·s·dbeta/n, k2 = gamma·s·dgamma/n (fixed statistics: k0 = k2 = 0),
 * which is gamma·s/n · (n·dy − dbeta − xhat·dgamma) expanded.
 * `scratch` holds 2·cols float64 (the sums) then 3·cols float32 (k0, k1, k2).
 * dx may be dy itself (in place).
 */
export function normalizeBackward(
  dy: usize, xhat: usize, variance: usize, gamma: usize, eps: f64, batchStatistics: bool,
  dx: usize, dgamma: usize, dbeta: usize, rows: i32, cols: i32, scratch: usize,
): void {
  normalizeRowsBackward(dy, 0, xhat, variance, gamma, eps, batchStatistics, dx, dgamma, dbeta, rows, cols, scratch, false)
}

/**
 * `tanhBackward` then `normalizeBackward`, in one pass: the gradient at the
 * normalization's output, dy = dh·(1 − h²) from the gradient dh at tanh's
 * output h, is recomputed where `normalizeBackward` reads it, never stored.
 * The same bits as the two calls. dx may be dh itself (in place).
 */
export function tanhNormalizeBackward(
  dh: usize, h: usize, xhat: usize, variance: usize, gamma: usize, eps: f64, batchStatistics: bool,
  dx: usize, dgamma: usize, dbeta: usize, rows: i32, cols: i32, scratch: usize,
): void {
  normalizeRowsBackward(dh, h, xhat, variance, gamma, eps, batchStatistics, dx, dgamma, dbeta, rows, cols, scratch, true)
}

/** dy at byte offset `at`: as stored, or dh·(1 − h²) through a tanh, as tanhBackward computes it. */
// @ts-ignore: decorator
@inline
function gradientAt(dy: usize, h: usize, at: usize, throughTanh: bool): v128 {
  const d = v128.load(dy + at)
  if (!throughTanh) return d
  const y = v128.load(h + at)
  return f32x4.mul(d, f32x4.sub(f32x4.splat(1), f32x4.mul(y, y)))
}

// @ts-ignore: decorator
@inline
function gradientAtScalar(dy: usize, h: usize, at: usize, throughTanh: bool): f32 {
  const d = load<f32>(dy + at)
  if (!throughTanh) return d
  const y = load<f32>(h + at)
  return d * (1 - y * y)
}

// @ts-ignore: decorator
@inline
function normalizeRowsBackward(
  dy: usize, h: usize, xhat: usize, variance: usize, gamma: usize, eps: f64, batchStatistics: bool,
  dx: usize, dgamma: usize, dbeta: usize, rows: i32, cols: i32, scratch: usize, throughTanh: bool,
): void {
  const sumDy = scratch
  const sumDyXhat = scratch + <usize>cols * 8
  const k0 = scratch + <usize>cols * 16
  const k1 = k0 + <usize>cols * 4
  const k2 = k1 + <usize>cols * 4
  memory.fill(scratch, 0, <usize>cols * 16)
  const rowBytes = <usize>cols * 4
  for (let i = 0; i < rows; i++) {
    const rowDy = dy + <usize>i * rowBytes
    const rowTanh = h + <usize>i * rowBytes
    const rowH = xhat + <usize>i * rowBytes
    let j = 0
    for (; j + 4 <= cols; j += 4) {
      // Products of two float32 are exact in float64, so only the sums round.
      const d = gradientAt(rowDy, rowTanh, <usize>j * 4, throughTanh)
      const x = v128.load(rowH + <usize>j * 4)
      const dLo = f64x2.promote_low_f32x4(d)
      const dHi = f64x2.promote_low_f32x4(v128.shuffle<f32>(d, d, 2, 3, 2, 3))
      const hLo = f64x2.promote_low_f32x4(x)
      const hHi = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3))
      const at = <usize>j * 8
      v128.store(sumDy + at, f64x2.add(v128.load(sumDy + at), dLo))
      v128.store(sumDy + at, f64x2.add(v128.load(sumDy + at, 16), dHi), 16)
      v128.store(sumDyXhat + at, f64x2.add(v128.load(sumDyXhat + at), f64x2.mul(dLo, hLo)))
      v128.store(sumDyXhat + at, f64x2.add(v128.load(sumDyXhat + at, 16), f64x2.mul(dHi, hHi)), 16)
    }
    for (; j < cols; j++) {
      const d = <f64>gradientAtScalar(rowDy, rowTanh, <usize>j * 4, throughTanh)
      const at = <usize>j * 8
      store<f64>(sumDy + at, load<f64>(sumDy + at) + d)
      store<f64>(sumDyXhat + at, load<f64>(sumDyXhat + at) + d * <f64>load<f32>(rowH + <usize>j * 4))
    }
  }
  const n = <f64>rows
  for (let j = 0; j < cols; j++) {
    const sDy = load<f64>(sumDy + <usize>j * 8)
    const sDyXhat = load<f64>(sumDyXhat + <usize>j * 8)
    store<f32>(dbeta + <usize>j * 4, <f32>sDy)
    store<f32>(dgamma + <usize>j * 4, <f32>sDyXhat)
    const gs = <f64>load<f32>(gamma + <usize>j * 4) / Math.sqrt(<f64>load<f32>(variance + <usize>j * 4) + eps)
    store<f32>(k1 + <usize>j * 4, <f32>gs)
    store<f32>(k0 + <usize>j * 4, batchStatistics ? <f32>(gs * sDy / n) : 0)
    store<f32>(k2 + <usize>j * 4, batchStatistics ? <f32>(gs * sDyXhat / n) : 0)
  }
  for (let i = 0; i < rows; i++) {
    const rowDy = dy + <usize>i * rowBytes
    const rowTanh = h + <usize>i * rowBytes
    const rowH = xhat + <usize>i * rowBytes
    const rowDx = dx + <usize>i * rowBytes
    let j = 0
    for (; j + 4 <= cols; j += 4) {
      const at = <usize>j * 4
      const scaled = f32x4.mul(v128.load(k1 + at), gradientAt(rowDy, rowTanh, at, throughTanh))
      const shift = f32x4.add(v128.load(k0 + at), f32x4.mul(v128.load(k2 + at), v128.load(rowH + at)))
      v128.store(rowDx + at, f32x4.sub(scaled, shift))
    }
    for (; j < cols; j++) {
      const at = <usize>j * 4
      const shift = load<f32>(k0 + at) + load<f32>(k2 + at) * load<f32>(rowH + at)
      store<f32>(rowDx + at, load<f32>(k1 + at) * gradientAtScalar(rowDy, rowTanh, at, throughTanh) - shift)
    }
  }
}
