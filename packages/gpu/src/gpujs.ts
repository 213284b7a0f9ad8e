/**
 * The slice of gpu.js this package uses, typed as it behaves at run time.
 *
 * The shipped `.d.ts` is wrong for our purposes in three ways: it types a
 * kernel call as a union of every possible output shape, it types calls on
 * webgpu (always asynchronous) as synchronous, and it declares `input` only as
 * a type, not as the function the module exports. So the module is read once,
 * here, through these narrow declarations instead.
 */

/** The backends gpu.js can be asked for by name and that this package uses. */
export type GpuJsMode = 'webgpu' | 'headlessgl' | 'webasm' | 'cpu'

/**
 * A kernel's result for our shapes: a 1-D output is one array; a 2-D output is
 * one array per row (views of one buffer on webasm and webgpu, separate arrays
 * on cpu and headlessgl).
 */
export type KernelResult = Float32Array | readonly Float32Array[]

/** A compiled kernel: synchronous on cpu, webasm and headlessgl, a Promise on webgpu. */
export type GpuJsKernel = (...args: readonly unknown[]) => KernelResult | Promise<KernelResult>

/** The kernel settings we set; gpu.js has many more. */
export interface GpuJsKernelSettings {
  /** [x] or [x, y]: x is the fastest-varying (column) thread index. */
  readonly output: readonly number[]
  readonly constants: Readonly<Record<string, number>>
  /** The GL backends unroll-guard loops with this bound; it must cover every loop. */
  readonly loopMaxIterations: number
  /** Float32 textures on the GL backends (the default may pack into bytes). */
  readonly precision: 'single'
  /** `highp` floats on the GL backends (the default may pick `mediump`). */
  readonly tactic: 'precision'
}

/** A gpu.js context: one per backend, released by `destroy`. */
export interface GpuJs {
  readonly mode: string
  createKernel(source: string, settings: GpuJsKernelSettings): GpuJsKernel
  destroy(): Promise<void>
}

/** A shaped view of a flat array, as a kernel argument (gpu.js's `Input`). */
export type GpuJsInput = { readonly __gpuJsInput: unique symbol }

/** The gpu.js module as it is at run time. */
export interface GpuJsModule {
  readonly GPU: {
    new (settings: { readonly mode: GpuJsMode }): GpuJs
    readonly isWebAssemblySupported: boolean
    readonly isHeadlessGLSupported: boolean
  }
  /** Read only where `GPU.isHeadlessGLSupported` (which sets the features up). */
  readonly HeadlessGLKernel: { readonly features: { readonly maxTextureSize: number } }
  /**
   * The WebGPU device every webgpu-mode context in a thread shares: acquired
   * on first use, released only by `destroy` (not by `GPU#destroy`).
   */
  readonly WebGPUContext: { acquire(): Promise<unknown>; destroy(): Promise<void> }
  /** `size` is [x] or [x, y] (columns first), like a kernel's output. */
  input(value: Float32Array, size: readonly number[]): GpuJsInput
}

/** Loads gpu.js (a CommonJS module, whose exports object is the default import). */
export const loadGpuJs = async (): Promise<GpuJsModule> =>
  (await import('gpu.js')).default as unknown as GpuJsModule
