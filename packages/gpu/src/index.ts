/**
 * @wavenet/gpu — the matrix products and tanh of `Kernels` as gpu.js kernels,
 * on WebGPU, headless-gl, WebAssembly or compiled JavaScript.
 *
 * ```ts
 * const backend = await createGpuKernels('auto')
 * console.log(backend.kernels.name, backend.fellBack ?? '')
 * try { train(backend.kernels) } finally { await backend.destroy() }
 * ```
 */
import type { Kernels } from '@wavenet/core'
import { deviceKernels } from './gpu-kernels.js'
import { GpuUnavailableError, gpuModes, type GpuMode } from './mode-names.js'
import { openDevice } from './modes.js'

export { gpuModes, GpuUnavailableError, type GpuMode } from './mode-names.js'
export { availableModes, type ModeAvailability } from './modes.js'

/** A gpu.js context and the kernels running on it: a resource, released by `destroy`. */
export interface GpuBackend {
  /** The kernels; `kernels.name` is `gpu:<mode>`. */
  readonly kernels: Kernels
  /** The mode in use. */
  readonly mode: GpuMode
  /**
   * Under `auto`, when the mode in use is not the first choice: each mode
   * skipped, with why (`webgpu: …; headlessgl: …`).
   */
  readonly fellBack?: string
  /** Under webgpu, the adapter in use, in words (e.g. Mesa's software renderer). */
  readonly adapter?: string
  /**
   * Number of kernels compiled so far. Each matrix-product variant (transposes,
   * accumulate) and each tanh direction is compiled once per shape and reused.
   */
  compiledKernels(): number
  /**
   * Releases the gpu.js context (and for webgpu, the device and its worker
   * thread). The kernels throw from the moment it is called; the promise
   * settles once gpu.js has released everything, which it does asynchronously.
   * Calling it again does nothing.
   */
  destroy(): Promise<void>
}

/**
 * Opens a backend. A named mode that cannot run here throws
 * `GpuUnavailableError` (never a silent fallback); `auto` tries
 * webgpu, headlessgl, webasm, then cpu, and says in `fellBack` what it skipped.
 *
 * Node has no WebGPU of its own: for webgpu this starts a worker thread that
 * loads Dawn (the `webgpu` package) and installs `navigator.gpu` there, and
 * sets EGL_PLATFORM=surfaceless when neither it nor a display is set, so
 * that Mesa's software renderer answers on a machine without a GPU.
 */
export const createGpuKernels = async (mode: GpuMode | 'auto'): Promise<GpuBackend> => {
  const skipped: string[] = []
  for (const candidate of mode === 'auto' ? gpuModes : [mode]) {
    try {
      const device = await openDevice(candidate)
      let open = true
      return {
        kernels: deviceKernels(device, () => open),
        mode: device.mode,
        ...(skipped.length > 0 ? { fellBack: skipped.join('; ') } : {}),
        ...(device.adapter !== undefined ? { adapter: device.adapter } : {}),
        compiledKernels: () => device.compiled,
        async destroy() {
          if (!open) return
          open = false
          await device.destroy()
        },
      }
    } catch (error) {
      if (mode !== 'auto' || !(error instanceof GpuUnavailableError)) throw error
      skipped.push(`${error.mode}: ${error.reason}`)
    }
  }
  // cpu, last in the order, is always available.
  throw new Error(`no gpu.js mode is available: ${skipped.join('; ')}`)
}
