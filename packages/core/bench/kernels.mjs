// Micro benchmark of the matmul kernels on the model's product shapes
// (batch 32, the hierarchical model's three fuse layers and its head):
// GFLOP/s of the WebAssembly SIMD kernels (arena views, zero copy; and plain
// arrays, copied in and out) against the reference kernels, and the measured
// f32x4 multiply-add ceiling of this machine. Median of the rounds, after
// warm-up (the first calls of a wasm function run unoptimised).
//
// Usage: pnpm --filter @wavenet/core run build && node packages/core/bench/kernels.mjs
import { createWasmKernels, referenceKernels, wasmKernelsUnavailable } from '../dist/index.js'
import {
  fill, gflops, lectureLayers, multiplyAddCeiling, secondsPerCall, stepProducts, wasmMatmulGflops,
} from './measure.mjs'

const unavailable = wasmKernelsUnavailable()
if (unavailable !== undefined) throw new Error(`wasm kernels unavailable: ${unavailable}`)
const wasm = createWasmKernels()
const f = (x) => x.toFixed(2).padStart(7)

console.log(`matmul GFLOP/s, median of the rounds (node ${process.version})`)
console.log('shape                      m×n×k          wasm   wasm(copy)   reference')
for (const shape of stepProducts(lectureLayers(32))) {
  const [label, m, n, k, transA, transB] = shape
  const plainA = fill(new Float32Array(m * k))
  const plainB = fill(new Float32Array(k * n))
  const plainC = new Float32Array(m * n)
  const inPlace = wasmMatmulGflops(wasm, shape)
  const copied = secondsPerCall(() => wasm.matmul(m, n, k, plainA, transA, plainB, transB, plainC, false))
  const reference = secondsPerCall(() => referenceKernels.matmul(m, n, k, plainA, transA, plainB, transB, plainC, false))
  const dims = `${m}×${n}×${k}`.padEnd(12)
  console.log(`${label}  ${dims} ${f(inPlace)}      ${f(gflops(m, n, k, copied))}     ${f(gflops(m, n, k, reference))}`)
}
console.log(`f32x4 multiply-add ceiling (the matmul's 5×8 tile on L1 data): ${f(multiplyAddCeiling())} GFLOP/s, one thread`)
