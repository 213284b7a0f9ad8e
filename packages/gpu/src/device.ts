/**
 * Where programs run: a gpu.js context, either on this thread (cpu, webasm and
 * headlessgl answer synchronously) or in the webgpu worker.
 */
import type { GpuJsModule } from './gpujs.js'
import { copyResult, KernelHost } from './kernel-host.js'
import type { GpuMode, SyncMode } from './mode-names.js'
import type { Program } from './programs.js'

/** A gpu.js context that runs programs synchronously for the caller. */
export interface Device {
  readonly mode: GpuMode
  /** For webgpu, the adapter that answered, in words. */
  readonly adapter?: string
  /** Number of kernels compiled so far (one per program key). */
  readonly compiled: number
  /**
   * The most rows and columns a 2-D output may have: a GL kernel renders into
   * one texture, at most `maxTextureSize` texels on a side (16384 on Mesa).
   * Unbounded elsewhere.
   */
  readonly maxSide: number
  /**
   * The longest sum over k one kernel should do. On cpu and webasm each thread
   * walks a column of B (and a column of A when transposed) over all of k, so
   * once those outrun the CPU's caches (dW, with k = batch rows) every read
   * misses: summing in blocks of 512 was 2.7× faster on webasm and 5× on cpu
   * for dW of 128×256×32768. On webgpu and headlessgl (Mesa's llvmpipe here)
   * it made no consistent difference, so they sum over all of k.
   */
  readonly depthBlock: number
  /**
   * Runs `program` on `args` (one flat float32 array per input of its spec,
   * each exactly as long as the spec says) and writes its output into `out`,
   * compiling the program on its key's first run.
   */
  run(program: Program, args: readonly Float32Array[], out: Float32Array): void
  /** Releases the context; the device must not be used afterwards. */
  destroy(): Promise<void>
}

/** A device on this thread. The caller has checked that `mode` is available. */
export const syncDevice = (gpujs: GpuJsModule, mode: SyncMode): Device => {
  const gpu = new gpujs.GPU({ mode })
  const host = new KernelHost(gpu, gpujs.input)
  return {
    mode,
    maxSide: mode === 'headlessgl' ? gpujs.HeadlessGLKernel.features.maxTextureSize : Infinity,
    depthBlock: mode === 'headlessgl' ? Infinity : 512,
    get compiled() {
      return host.compiled
    },
    run(program, args, out) {
      if (!host.has(program.key)) host.compile(program.spec())
      const result = host.launch(program.key, args)
      // Only webgpu (or asyncMode, which we never set) answers with a Promise.
      if (result instanceof Promise) throw new Error(`gpu.js ${mode} answered asynchronously`)
      copyResult(result, out)
    },
    destroy: () => gpu.destroy(),
  }
}
