/** The wasm kernels the compiler tests run on, their arena, and values placed in their memory (compiled calls read nothing outside it). */
import { createWasmKernels } from '../../src/index.js'
import { wasmInternals } from '../../src/kernels/wasm.js'

export const wasm = createWasmKernels()!
export const arena = wasmInternals(wasm)!.arena

/** `values` in the kernels' memory. */
export const owned = (values: number[]): Float32Array => {
  const view = wasm.alloc(new Float32Array(0), values.length)
  view.set(values)
  return view
}
