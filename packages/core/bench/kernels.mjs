// Micro benchmark of the matmul kernels on the model's product shapes
// (batch 32, the hierarchical model's three fuse layers and its head):
// GFLOP/s of the WebAssembly SIMD kernels (arena views, zero copy; and plain
// arrays, copied in and out) against the reference kernels, and the measured
// f32x4 multiply-add ceiling of this machine. Median of ROUNDS rounds, after
// warm-up (the first calls of a wasm function run unoptimised).
//
// Usage: pnpm --filter @wavenet/core run build && node packages/core/bench/kernels.mjs
import { createWasmKernels, referenceKernels, wasmKernelsUnavailable } from '../dist/index.js'
import { wasmKernelsBase64 } from '../dist/kernels/wasm-bytes.generated.js'

const ROUNDS = 9
const ROUND_SECONDS = 0.05

// [label, m, n, k, transA, transB]: C (m×n) = op(A) · op(B), op(A) m×k, op(B) k×n.
// A linear layer maps x (rows×in) with W stored out×in: forward x·Wᵀ, dx = dy·W, dW = dyᵀ·x.
const layers = [
  ['fuse 1', 128, 48, 128],
  ['fuse 2', 64, 256, 128],
  ['fuse 3', 32, 256, 128],
  ['head  ', 32, 128, 27],
]
const shapes = layers.flatMap(([name, rows, inputs, outputs]) => [
  [`${name} forward x·Wᵀ`, rows, outputs, inputs, false, true],
  [`${name} dx      dy·W `, rows, inputs, outputs, false, false],
  [`${name} dW      dyᵀ·x`, outputs, inputs, rows, true, false],
])

/** Seconds per call of `run`: the median over rounds of ~ROUND_SECONDS each. */
const secondsPerCall = (run) => {
  let reps = 1
  for (;;) {
    const start = performance.now()
    for (let r = 0; r < reps; r++) run()
    const seconds = (performance.now() - start) / 1000
    if (seconds >= ROUND_SECONDS / 4) {
      reps = Math.max(1, Math.round((reps * ROUND_SECONDS) / seconds))
      break
    }
    reps *= 2
  }
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now()
    for (let r = 0; r < reps; r++) run()
    rounds.push((performance.now() - start) / 1000 / reps)
  }
  rounds.sort((x, y) => x - y)
  return rounds[Math.floor(ROUNDS / 2)]
}

const unavailable = wasmKernelsUnavailable()
if (unavailable !== undefined) throw new Error(`wasm kernels unavailable: ${unavailable}`)
const wasm = createWasmKernels()

const fill = (array) => {
  for (let i = 0; i < array.length; i++) array[i] = Math.sin(i * 0.618) // deterministic, in [-1, 1]
  return array
}

const gflops = (m, n, k, seconds) => (2 * m * n * k) / seconds / 1e9
const f = (x) => x.toFixed(2).padStart(7)

console.log(`matmul GFLOP/s, median of ${ROUNDS} rounds (node ${process.version})`)
console.log('shape                      m×n×k          wasm   wasm(copy)   reference')
for (const [label, m, n, k, transA, transB] of shapes) {
  const like = new Float32Array(0)
  const a = fill(wasm.alloc(like, m * k))
  const b = fill(wasm.alloc(like, k * n))
  const c = wasm.alloc(like, m * n)
  const plainA = fill(new Float32Array(m * k))
  const plainB = fill(new Float32Array(k * n))
  const plainC = new Float32Array(m * n)
  const inPlace = secondsPerCall(() => wasm.matmul(m, n, k, a, transA, b, transB, c, false))
  const copied = secondsPerCall(() => wasm.matmul(m, n, k, plainA, transA, plainB, transB, plainC, false))
  const reference = secondsPerCall(() => referenceKernels.matmul(m, n, k, plainA, transA, plainB, transB, plainC, false))
  const dims = `${m}×${n}×${k}`.padEnd(12)
  console.log(`${label}  ${dims} ${f(gflops(m, n, k, inPlace))}      ${f(gflops(m, n, k, copied))}     ${f(gflops(m, n, k, reference))}`)
}

// The ceiling: the matmul tile's inner step (6 loads, 8 independent f32x4
// multiply-adds) on 1 KiB of L1-resident operands past the module's static data.
const bytes = Uint8Array.from(atob(wasmKernelsBase64), (ch) => ch.charCodeAt(0))
const memory = new WebAssembly.Memory({ initial: 1 })
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
const operands = Math.ceil(exports.heapBase() / 64) * 64
new Float32Array(memory.buffer, operands, 256).fill(1e-3)
const steps = 1_000_000
const peak = secondsPerCall(() => exports.multiplyAddPeak(steps, operands))
console.log(`f32x4 multiply-add ceiling (the 4×8 tile's step on L1 data): ${f((steps * 64) / peak / 1e9)} GFLOP/s, one thread`)
