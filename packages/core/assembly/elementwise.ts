// Elementwise and row-wise kernels. Each loops 4 lanes at a time and finishes
// the last n mod 4 values one by one, never touching memory past the end.

import { tanh4 } from './math'

/** y = tanh(x) over n values. */
export function tanhForward(x: usize, y: usize, n: i32): void {
  let i = 0
  // Four independent vectors per iteration: one tanh4 is a long dependent
  // chain (two polynomials and a division), and interleaving four of them
  // keeps the arithmetic units busy (measured twice as fast as one).
  for (; i + 16 <= n; i += 16) {
    const at = <usize>i * 4
    const y0 = tanh4(v128.load(x + at))
    const y1 = tanh4(v128.load(x + at, 16))
    const y2 = tanh4(v128.load(x + at, 32))
    const y3 = tanh4(v128.load(x + at, 48))
    v128.store(y + at, y0)
    v128.store(y + at, y1, 16)
    v128.store(y + at, y2, 32)
    v128.store(y + at, y3, 48)
  }
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * 4
    v128.store(y + at, tanh4(v128.load(x + at)))
  }
  // The tail goes through the same vector formula so every value is rounded
  // the same way, wherever it sits.
  for (; i < n; i++) {
    const at = <usize>i * 4
    store<f32>(y + at, f32x4.extract_lane(tanh4(f32x4.splat(load<f32>(x + at))), 0))
  }
}

/** dx = dy · (1 − y²) over n values. */
export function tanhBackward(y: usize, dy: usize, dx: usize, n: i32): void {
  const one = f32x4.splat(1)
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * 4
    const yi = v128.load(y + at)
    v128.store(dx + at, f32x4.mul(v128.load(dy + at), f32x4.sub(one, f32x4.mul(yi, yi))))
  }
  for (; i < n; i++) {
    const at = <usize>i * 4
    const yi = load<f32>(y + at)
    store<f32>(dx + at, load<f32>(dy + at) * (1 - yi * yi))
  }
}

/** lowbias32 (Chris Wellons' hash prospector), `dropoutKeeps` in src/kernels/kernels.ts. */
// @ts-ignore: decorator
@inline
function mix32(word: u32): u32 {
  let x = word ^ (word >> 16)
  x *= 0x21f0aaad
  x ^= x >> 15
  x *= 0x735a2d97
  return x ^ (x >> 15)
}

/** mix32 on four lanes. */
// @ts-ignore: decorator
@inline
function mix32x4(word: v128): v128 {
  let x = v128.xor(word, i32x4.shr_u(word, 16))
  x = i32x4.mul(x, i32x4.splat(0x21f0aaad))
  x = v128.xor(x, i32x4.shr_u(x, 15))
  x = i32x4.mul(x, i32x4.splat(0x735a2d97))
  return v128.xor(x, i32x4.shr_u(x, 15))
}

/**
 * y[i] = x[i]·s where i is kept, else 0, s = 1/(1 − p) in float32; i is kept
 * when mix32(mix32(i) ^ key) ≥ ⌊p·2^32⌋, key = mix32(seed ^ mix32(salt)):
 * the reference's rule (`dropoutKeeps`), bit for bit.
 */
export function dropout(x: usize, seed: usize, y: usize, n: i32, salt: i32, p: f64): void {
  const key = mix32(<u32>load<i32>(seed) ^ mix32(<u32>salt))
  const threshold = <u32>(p * 4294967296.0)
  const scale = <f32>(1.0 / (1.0 - p))
  const keys = i32x4.splat(key)
  const thresholds = i32x4.splat(threshold)
  const scales = f32x4.splat(scale)
  let index = i32x4(0, 1, 2, 3)
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * 4
    const kept = i32x4.ge_u(mix32x4(v128.xor(mix32x4(index), keys)), thresholds)
    v128.store(y + at, v128.and(f32x4.mul(v128.load(x + at), scales), kept))
    index = i32x4.add(index, i32x4.splat(4))
  }
  for (; i < n; i++) {
    const at = <usize>i * 4
    store<f32>(y + at, mix32(mix32(<u32>i) ^ key) >= threshold ? load<f32>(x + at) * scale : 0)
  }
}

/** dst[j] += src[j] for j < n. */
// @ts-ignore: decorator
@inline
export function addInto(dst: usize, src: usize, n: i32): void {
  let j = 0
  for (; j + 4 <= n; j += 4) {
    const at = <usize>j * 4
    v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)))
  }
  for (; j < n; j++) {
    const at = <usize>j * 4
    store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at))
  }
}

/**
 * dst[r·dstStride + dstOffset + j] = (accumulate ? that : 0) + src[r·srcStride + srcOffset + j]
 * for rows r and cols j (strides and offsets in elements): a block of columns
 * of one matrix added to (or copied into) a block of another.
 */
export function addStrided(
  src: usize, srcStride: i32, srcOffset: i32, dst: usize, dstStride: i32, dstOffset: i32, rows: i32, cols: i32, accumulate: bool,
): void {
  for (let r = 0; r < rows; r++) {
    const from = src + (<usize>r * <usize>srcStride + <usize>srcOffset) * 4
    const to = dst + (<usize>r * <usize>dstStride + <usize>dstOffset) * 4
    if (accumulate) addInto(to, from, cols)
    else memory.copy(to, from, <usize>cols * 4)
  }
}

/** Every row of the rows×cols matrix `out` set to the vector v. */
export function broadcastRows(v: usize, out: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols * 4
  for (let i = 0; i < rows; i++) memory.copy(out + <usize>i * rowBytes, v, rowBytes)
}

/** out[j] = Σ_i x[i, j], rows added in order. */
export function sumRows(x: usize, out: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols * 4
  memory.fill(out, 0, rowBytes)
  for (let i = 0; i < rows; i++) addInto(out, x + <usize>i * rowBytes, cols)
}

/** out[i, :] = table[ids[i], :]; ids are checked by the caller. */
export function gather(table: usize, ids: usize, out: usize, count: i32, dim: i32): void {
  const rowBytes = <usize>dim * 4
  for (let i = 0; i < count; i++) {
    const row = <usize>load<i32>(ids + <usize>i * 4)
    memory.copy(out + <usize>i * rowBytes, table + row * rowBytes, rowBytes)
  }
}

/** table[ids[i], :] = x[i, :] in order of i; rows not indexed keep their values. */
export function scatterRows(x: usize, ids: usize, table: usize, count: i32, dim: i32, rows: i32): void {
  const rowBytes = <usize>dim * 4
  for (let i = 0; i < count; i++) {
    const row = <usize>load<i32>(ids + <usize>i * 4)
    memory.copy(table + row * rowBytes, x + <usize>i * rowBytes, rowBytes)
  }
}

/** dTable = 0, then dTable[ids[i], :] += dy[i, :] in order of i. */
export function scatterAdd(dy: usize, ids: usize, dTable: usize, count: i32, dim: i32, rows: i32): void {
  const rowBytes = <usize>dim * 4
  memory.fill(dTable, 0, <usize>rows * rowBytes)
  for (let i = 0; i < count; i++) {
    const row = <usize>load<i32>(ids + <usize>i * 4)
    addInto(dTable + row * rowBytes, dy + <usize>i * rowBytes, dim)
  }
}
