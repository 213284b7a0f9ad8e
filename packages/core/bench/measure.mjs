// Measurement helpers shared by the benchmarks (this package's bench/kernels.mjs
// and the repository's bench/step.mjs): timing a call, the matrix products of
// a training step, their GFLOP/s, and the f32x4 multiply-add ceiling of this
// machine. They import the built package (dist/): build it first.
import { wasmKernelsBase64 } from '../dist/kernels/wasm-bytes.generated.js'

/**
 * Seconds per call of `run`: the median over `rounds` rounds of about
 * `roundSeconds` each, after a calibration that also warms it up (the first
 * calls of a wasm function run unoptimised).
 */
export const secondsPerCall = (run, { rounds = 9, roundSeconds = 0.05 } = {}) => {
  let reps = 1
  for (;;) {
    const start = performance.now()
    for (let r = 0; r < reps; r++) run()
    const seconds = (performance.now() - start) / 1000
    if (seconds >= roundSeconds / 4) {
      reps = Math.max(1, Math.round((reps * roundSeconds) / seconds))
      break
    }
    reps *= 2
  }
  const times = []
  for (let round = 0; round < rounds; round++) {
    const start = performance.now()
    for (let r = 0; r < reps; r++) run()
    times.push((performance.now() - start) / 1000 / reps)
  }
  return median(times)
}

export const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * The matrix products of one training step of a stack of linear layers, as
 * [label, m, n, k, transA, transB] with C (m×n) = op(A) · op(B), op(A) m×k,
 * op(B) k×n. A layer [name, rows, inputs, outputs] maps x (rows×in) with W
 * stored out×in: forward x·Wᵀ, dx = dy·W, dW = dyᵀ·x.
 */
export const stepProducts = (layers) =>
  layers.flatMap(([name, rows, inputs, outputs]) => [
    [`${name} forward x·Wᵀ`, rows, outputs, inputs, false, true],
    [`${name} dx      dy·W `, rows, inputs, outputs, false, false],
    [`${name} dW      dyᵀ·x`, outputs, inputs, rows, true, false],
  ])

/** The lecture model's linear layers at batch `b`: three fuse layers (pairs of 24-wide embeddings, then of 128-wide nodes) and the head. */
export const lectureLayers = (b) => [
  ['fuse 1', 4 * b, 48, 128],
  ['fuse 2', 2 * b, 256, 128],
  ['fuse 3', b, 256, 128],
  ['head  ', b, 128, 27],
]

export const gflops = (m, n, k, seconds) => (2 * m * n * k) / seconds / 1e9

/** Deterministic values in [-1, 1]. */
export const fill = (array) => {
  for (let i = 0; i < array.length; i++) array[i] = Math.sin(i * 0.618)
  return array
}

/** GFLOP/s of the wasm matmul on arena views (zero copy) for one product shape. */
export const wasmMatmulGflops = (wasm, [, m, n, k, transA, transB], options) => {
  const mark = wasm.arena.mark()
  const like = new Float32Array(0)
  const a = fill(wasm.alloc(like, m * k))
  const b = fill(wasm.alloc(like, k * n))
  const c = wasm.alloc(like, m * n)
  const seconds = secondsPerCall(() => wasm.matmul(m, n, k, a, transA, b, transB, c, false), options)
  wasm.arena.reset(mark)
  return gflops(m, n, k, seconds)
}

/**
 * The ceiling: the matmul's own 5×8 register tile on L1-resident operands
 * (no packing, no edges, no traffic from L2), in a fresh instance of the
 * kernels' module, in GFLOP/s on one thread.
 */
export const multiplyAddCeiling = (options) => {
  const bytes = Uint8Array.from(atob(wasmKernelsBase64), (ch) => ch.charCodeAt(0))
  const memory = new WebAssembly.Memory({ initial: 1 })
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
  const operands = Math.ceil(exports.heapBase() / 64) * 64
  new Float32Array(memory.buffer, operands, exports.multiplyAddPeakBytes() / 4).fill(1e-3)
  const tiles = 10_000
  let flops = 0
  // A ceiling is the best the loop reaches: the best of three medians, so that a late
  // tier-up of the fresh module or a busy moment of the machine does not lower it.
  const seconds = Math.min(...[0, 1, 2].map(() => secondsPerCall(() => { flops = exports.multiplyAddPeak(tiles, operands) }, options)))
  return flops / seconds / 1e9
}
