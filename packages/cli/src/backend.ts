/**
 * The compute backend as a service: the kernels every command runs on, held
 * as a scoped resource so a GPU context is created once per run and released
 * when the run ends, on success, error or interruption.
 *
 * - `wasm` (default): WebAssembly SIMD kernels; falls back to `js`, saying
 *   so, where the engine has no WebAssembly SIMD.
 * - `js`: the plain-TypeScript reference kernels.
 * - `gpu`, `gpu:<mode>`: gpu.js kernels (@wavenet/gpu, an optional
 *   dependency imported only when asked for, so other runs never load gpu.js
 *   or Dawn, and an install without it says what is missing). A named mode
 *   that is unavailable is an error; `gpu` alone picks the best mode and says so.
 */
import {
  createWasmKernels, type Kernels, leanSession, leanWindowsSession, leanWordsSession, type Model, type Optimizer, type OptimizerState, pureSession,
  pureWindowsSession, pureWordsSession, referenceKernels, type TrainingSession, wasmKernelsUnavailable, type WasmKernels, type WindowBatch,
  type WordBatch,
} from '@wavenet/core'
import { Context, Effect, Layer } from 'effect'
import { BackendError } from './errors.js'

export interface Backend {
  /** What `--json` reports: `wasm`, `js` or `gpu:<mode>`. */
  readonly name: string
  readonly kernels: Kernels
  /** A training session on these kernels, on minibatches of examples. */
  session(model: Model, optimizer: Optimizer, state: OptimizerState, batchSize: number): TrainingSession
  /** A training session on these kernels in the sequence view, on batches of whole words. */
  wordsSession(model: Model, optimizer: Optimizer, state: OptimizerState): TrainingSession<WordBatch>
  /** A training session on these kernels in the sequence view, on windows of running text. */
  windowsSession(model: Model, optimizer: Optimizer, state: OptimizerState): TrainingSession<WindowBatch>
}

export class BackendService extends Context.Tag('wavenet/Backend')<BackendService, Backend>() {}

/** The backends `--backend` accepts. */
export const backendNames = ['wasm', 'js', 'gpu', 'gpu:auto', 'gpu:webgpu', 'gpu:headlessgl', 'gpu:webasm', 'gpu:cpu'] as const
export type BackendName = (typeof backendNames)[number]

const plain = (kernels: Kernels, name: string): Backend => ({
  name,
  kernels,
  session: (model, optimizer, state) => pureSession(kernels, model, optimizer, state),
  wordsSession: (model, optimizer, state) => pureWordsSession(kernels, model, optimizer, state),
  windowsSession: (model, optimizer, state) => pureWindowsSession(kernels, model, optimizer, state),
})

const wasm = (kernels: WasmKernels): Backend => ({
  name: 'wasm',
  kernels,
  // The lean session owns its buffers in wasm memory (the memory grows to fit them while it holds
  // nothing else) and computes the same bits as the pure step.
  session: (model, optimizer, state, batchSize) => leanSession(kernels, model, optimizer, state, batchSize),
  wordsSession: (model, optimizer, state) => leanWordsSession(kernels, model, optimizer, state),
  windowsSession: (model, optimizer, state) => leanWindowsSession(kernels, model, optimizer, state),
})

/** The part of @wavenet/gpu this module uses, so tests can supply their own opener. */
export interface GpuHandle {
  readonly kernels: Kernels
  readonly mode: string
  readonly fellBack?: string
  destroy(): Promise<void>
}

export type GpuOpener = (mode: string) => Promise<GpuHandle>

/** What a GPU run says where @wavenet/gpu, an optional dependency, was not installed. */
const GPU_MISSING = 'needs the optional package @wavenet/gpu, which is not installed (npm install @wavenet/gpu)'

/** Whether an import failed because the package itself is absent (not one of its own imports). */
const isMissingPackage = (e: unknown, name: string): boolean =>
  e instanceof Error && (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(`'${name}'`)

const openGpu: GpuOpener = async (mode) => {
  const gpu = await import('@wavenet/gpu').catch((e: unknown) => {
    throw isMissingPackage(e, '@wavenet/gpu') ? new Error(GPU_MISSING) : e
  })
  return gpu.createGpuKernels(mode as Parameters<typeof gpu.createGpuKernels>[0])
}

/** The GPU backend as a scoped resource: opened once, destroyed when the scope closes. */
export const gpuBackend = (mode: string, open: GpuOpener = openGpu) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => open(mode),
      catch: (e) => new BackendError({ message: `--backend gpu:${mode}: ${e instanceof Error ? e.message : String(e)}` }),
    }),
    (gpu) => Effect.promise(() => gpu.destroy()).pipe(Effect.tap(() => Effect.logDebug(`released gpu:${gpu.mode}`))),
  ).pipe(
    Effect.tap((gpu) =>
      gpu.fellBack === undefined ? Effect.logInfo(`backend gpu:${gpu.mode}`) : Effect.logWarning(`backend gpu:${gpu.mode} (skipped ${gpu.fellBack})`),
    ),
    Effect.map((gpu) => plain(gpu.kernels, `gpu:${gpu.mode}`)),
  )

/** The backend a name selects, as a layer whose resources live as long as it does. */
export const backendLayer = (name: BackendName, open: GpuOpener = openGpu): Layer.Layer<BackendService, BackendError> => {
  if (name === 'js') return Layer.succeed(BackendService, plain(referenceKernels, 'js'))
  if (name === 'wasm') {
    return Layer.effect(BackendService, Effect.suspend(() => {
      const kernels = createWasmKernels()
      if (kernels !== undefined) return Effect.succeed(wasm(kernels))
      return Effect.logWarning(`wasm kernels unavailable (${wasmKernelsUnavailable() ?? 'unknown reason'}); using js`).pipe(
        Effect.as(plain(referenceKernels, 'js')),
      )
    }))
  }
  const mode = name === 'gpu' ? 'auto' : name.slice('gpu:'.length)
  return Layer.scoped(BackendService, gpuBackend(mode, open))
}
