/**
 * The gpu.js backends this package can run on, how to tell whether one is
 * available here, and how to open one.
 */
import { createRequire } from 'node:module'
import { syncDevice, type Device } from './device.js'
import { loadGpuJs, type GpuJsModule } from './gpujs.js'
import { GpuUnavailableError, gpuModes, type GpuMode, type SyncMode } from './mode-names.js'

/** Whether a mode is available here, and if not, why. */
export interface ModeAvailability {
  readonly mode: GpuMode
  readonly available: boolean
  readonly reason?: string
}

/** Why headless-gl cannot run here, or undefined when it can. */
const headlessGlProblem = (gpujs: GpuJsModule): string | undefined => {
  if (gpujs.GPU.isHeadlessGLSupported) return undefined
  // gpu.js swallows the reason; tell a missing native build from a missing display.
  try {
    createRequire(createRequire(import.meta.url).resolve('gpu.js'))('gl')
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0]
    return `headless-gl (the optional 'gl' module) is not built: ${first}`
  }
  const display = process.env['DISPLAY']
  return display === undefined
    ? 'headless-gl needs an X display (run under xvfb-run)'
    : `headless-gl could not create a GL context on DISPLAY=${display}`
}

const syncModeProblem = (gpujs: GpuJsModule, mode: SyncMode): string | undefined => {
  switch (mode) {
    case 'cpu':
      return undefined
    case 'webasm':
      return gpujs.GPU.isWebAssemblySupported ? undefined : 'this runtime lacks WebAssembly SIMD'
    case 'headlessgl':
      return headlessGlProblem(gpujs)
  }
}

/**
 * Opens a device in `mode`.
 * @throws GpuUnavailableError when the mode cannot run here.
 */
export const openDevice = async (mode: GpuMode): Promise<Device> => {
  if (mode === 'webgpu') {
    // Loaded only when asked for: it starts a worker and Dawn.
    const { startWebGpuDevice } = await import('./webgpu-device.js')
    return startWebGpuDevice()
  }
  const gpujs = await loadGpuJs()
  const problem = syncModeProblem(gpujs, mode)
  if (problem !== undefined) throw new GpuUnavailableError(mode, problem)
  return syncDevice(gpujs, mode)
}

/**
 * Which modes can run here, in `auto`'s order, each with the reason when it
 * cannot. Each mode is opened and released again (with `createGpuKernels`'s
 * set-up, EGL_PLATFORM included), so this takes as long as starting every
 * backend: a few hundred milliseconds for webgpu.
 */
export const availableModes = async (): Promise<readonly ModeAvailability[]> => {
  const answers: ModeAvailability[] = []
  for (const mode of gpuModes) {
    try {
      await (await openDevice(mode)).destroy()
      answers.push({ mode, available: true })
    } catch (error) {
      if (!(error instanceof GpuUnavailableError)) throw error
      answers.push({ mode, available: false, reason: error.reason })
    }
  }
  return answers
}
