/**
 * @wavenet/core — hierarchical (WaveNet-style) character-level language
 * models as pure functions over immutable values. No I/O, no Node built-ins:
 * this package bundles for a browser.
 */
export * from './tensor.js'
export {
  type ArrayArg, dropoutKeeps, type KernelArgs, type KernelName, type Kernels, kernelArrays, kernelNames, SEED_BOUND, type Use,
} from './kernels/kernels.js'
export { referenceKernels } from './kernels/reference.js'
export {
  createWasmKernels, type WasmArena, type WasmKernels, type WasmKernelsOptions, WasmMemoryFull, wasmKernelsUnavailable,
} from './kernels/wasm.js'
export * from './random.js'
export type { Activation, Backward, Forward, LayerOps, Mode, Named, Packing, SeededTraining, SequenceOps, SequencePass, TensorShapes } from './layers/layer.js'
export { trainingMode } from './layers/layer.js'
export * from './layers/embedding.js'
export * from './layers/flatten.js'
export * from './layers/linear.js'
export * from './layers/batchnorm.js'
export * from './layers/tanh.js'
export * from './layers/dropout.js'
export * from './layers/sequential.js'
export * from './layers/residual.js'
export * from './layers/skip.js'
export * from './loss.js'
export * from './safetensors.js'
export * from './limits.js'
export * from './model.js'
export * from './optim.js'
export * from './data.js'
export * from './sample.js'
export * from './train.js'
export * from './session.js'
export * from './run.js'
export * from './trace.js'
export * from './sequence.js'
export * from './generate.js'
export * from './checkpoint.js'
