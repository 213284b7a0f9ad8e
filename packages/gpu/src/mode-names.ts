/**
 * The names of the gpu.js modes and the error for one that cannot run here: a
 * leaf module (it imports nothing from this package), so that the device
 * modules and `modes.ts`, which opens them, can all share it without a cycle.
 */

/**
 * A gpu.js backend:
 * - `webgpu`: WGSL compute shaders through Dawn (the `webgpu` package), on a
 *   real GPU or, headless, on Mesa's software renderer;
 * - `headlessgl`: GLSL fragment shaders through headless-gl (the optional
 *   `gl` module, built from source), which needs an X display;
 * - `webasm`: WebAssembly with f32x4 SIMD on this thread;
 * - `cpu`: kernels compiled to plain JavaScript.
 */
export type GpuMode = 'webgpu' | 'headlessgl' | 'webasm' | 'cpu'

/** The order `auto` tries the modes in. */
export const gpuModes: readonly GpuMode[] = ['webgpu', 'headlessgl', 'webasm', 'cpu']

/** The modes whose gpu.js kernels return their result synchronously. */
export type SyncMode = Exclude<GpuMode, 'webgpu'>

/** A mode that was asked for by name is not available here. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError'
  /** Why, in one line. */
  readonly reason: string
  constructor(
    readonly mode: GpuMode,
    reason: string,
  ) {
    const oneLine = reason.trim().replace(/\s*\n\s*/g, ' ')
    super(`gpu mode '${mode}' is not available: ${oneLine}`)
    this.reason = oneLine
  }
}
