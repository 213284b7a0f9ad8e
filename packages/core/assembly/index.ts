// The WebAssembly SIMD kernels (float32). Compiled by scripts/build-wasm.mjs
// with an imported memory and no runtime: every kernel works on byte offsets
// into that memory, which the JS side (src/kernels/wasm.ts) manages.

export { matmul, matmulScratchBytes } from './matmul'
export { tanhForward, tanhBackward, dropout, broadcastRows, sumRows, gather, scatterAdd, scatterRows, addStrided } from './elementwise'
export {
  columnMoments, normalize, normalizeBackward, normalizeScratchBytes, normalizeBackwardScratchBytes,
  normalizeTanh, tanhNormalizeBackward,
} from './batchnorm'
export { softmaxCrossEntropy, softmaxCrossEntropyBackward } from './softmax'
export { sgdUpdate, adamwUpdate, movingAverage } from './update'
export { multiplyAddPeak, multiplyAddPeakBytes } from './peak'

/** First byte past the module's static data: the JS arena starts at or after it. */
export function heapBase(): usize {
  return __heap_base
}
