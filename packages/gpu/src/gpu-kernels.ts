/**
 * `Kernels` over a device: the matrix products and tanh run as gpu.js
 * kernels; everything else, and anything in float64 (gpu.js computes in
 * float32 only), is `referenceKernels`.
 */
import { referenceKernels, type Kernels } from '@wavenet/core'
import type { Device } from './device.js'
import { matmulProgram, tanhBackwardProgram, tanhForwardProgram } from './programs.js'

/** The first `length` values of `x`, as the exact-length array a kernel argument must be. */
const head = (x: Float32Array, length: number): Float32Array => (x.length === length ? x : x.subarray(0, length))

/**
 * Rows [r0, r0 + rows) × columns [c0, c0 + cols) of a row-major matrix `width`
 * columns wide: a view when the block spans whole rows, else a copy.
 */
const block = (x: Float32Array, width: number, r0: number, rows: number, c0: number, cols: number): Float32Array => {
  if (c0 === 0 && cols === width) return x.subarray(r0 * width, (r0 + rows) * width)
  const copy = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) copy.set(x.subarray((r0 + r) * width + c0, (r0 + r) * width + c0 + cols), r * cols)
  return copy
}

/**
 * Kernels that run on `device` while `usable()` is true and throw once it is
 * false (after the device is destroyed).
 */
export const deviceKernels = (device: Device, usable: () => boolean): Kernels => {
  const name = `gpu:${device.mode}`
  const check = (): void => {
    if (!usable()) throw new Error(`${name} kernels used after destroy()`)
  }
  return {
    ...referenceKernels,
    name,

    matmul(m, n, k, a, transA, b, transB, c, accumulate) {
      check()
      if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
        referenceKernels.matmul(m, n, k, a, transA, b, transB, c, accumulate)
        return
      }
      // Empty products have no kernel (gpu.js cannot compile a zero-sized output).
      if (m === 0 || n === 0) return
      if (k === 0) {
        if (!accumulate) c.fill(0, 0, m * n)
        return
      }
      if (n > device.maxSide) {
        throw new RangeError(`${name} matmul: ${n} columns exceed this backend's limit of ${device.maxSide}`)
      }
      // Blocks of at most maxSide rows of C (and op(A)), each summed over k in
      // blocks of depthBlock, accumulating into C after the first. Usually
      // one block of each: the whole product.
      for (let i0 = 0; i0 < m; i0 += device.maxSide) {
        const rows = Math.min(device.maxSide, m - i0)
        const cBlock = c.subarray(i0 * n, (i0 + rows) * n)
        for (let p0 = 0; p0 < k; p0 += device.depthBlock) {
          const depth = Math.min(device.depthBlock, k - p0)
          const aBlock = transA ? block(a, m, p0, depth, i0, rows) : block(a, k, i0, rows, p0, depth)
          const bBlock = transB ? block(b, k, 0, n, p0, depth) : block(b, n, p0, depth, 0, n)
          const adds = accumulate || p0 > 0
          device.run(matmulProgram(rows, n, depth, transA, transB, adds), [aBlock, bBlock, ...(adds ? [cBlock] : [])], cBlock)
        }
      }
    },

    tanhForward(x, y, n) {
      check()
      if (!(x instanceof Float32Array && y instanceof Float32Array)) {
        referenceKernels.tanhForward(x, y, n)
        return
      }
      if (n === 0) return
      device.run(tanhForwardProgram(n), [head(x, n)], head(y, n))
    },

    tanhBackward(y, dy, dx, n) {
      check()
      if (!(y instanceof Float32Array && dy instanceof Float32Array && dx instanceof Float32Array)) {
        referenceKernels.tanhBackward(y, dy, dx, n)
        return
      }
      if (n === 0) return
      device.run(tanhBackwardProgram(n), [head(y, n), head(dy, n)], head(dx, n))
    },
  }
}
