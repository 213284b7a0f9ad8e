/**
 * The webgpu worker: owns Node's WebGPU (Dawn, from the `webgpu` package) and a
 * gpu.js context in webgpu mode, and runs programs for the main thread.
 *
 * WebGPU has no synchronous readback, while `Kernels` is synchronous. So the
 * main thread copies the arguments into a shared arena, posts a request and
 * blocks in `Atomics.wait`; this worker runs the kernel on its own event loop,
 * writes the result into the arena, posts the reply and wakes it.
 *
 * Messages on `parentPort` (asynchronous, to the main thread's event loop):
 * `{ type: 'ready', adapter }` or `{ type: 'unavailable', reason }` once.
 * Requests on `workerData.port`: `{ type: 'run', key, spec?, arena, args, out }`
 * (args and out as [offset, length] in float32 elements; the spec only on a
 * key's first request), answered synchronously through the same port with
 * `{ ok: true }` or `{ ok: false, error }`; `{ type: 'destroy' }` releases the
 * device and ends the thread.
 */
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import { KernelHost, copyResult } from './kernel-host.js'
import { DONE, EXITED } from './worker-state.js'

/** @typedef {import('./programs.js').ProgramSpec} ProgramSpec */
/**
 * @typedef {{ type: 'run', key: string, spec?: ProgramSpec, arena: SharedArrayBuffer,
 *   args: readonly (readonly [number, number])[], out: readonly [number, number] }
 *   | { type: 'destroy' }} Request
 */

const control = /** @type {Int32Array} */ (workerData.control)
const port = /** @type {import('node:worker_threads').MessagePort} */ (workerData.port)
const parent = /** @type {import('node:worker_threads').MessagePort} */ (parentPort)

/** @param {number} state */
const signal = (state) => {
  Atomics.store(control, 0, state)
  Atomics.notify(control, 0)
}
// A main thread blocked on a request must not wait forever for a thread that is gone.
process.on('exit', () => signal(EXITED))

/**
 * Installs `navigator.gpu` from Dawn, with the first adapter that answers:
 * Dawn's default backend at the core feature level (a real GPU), else its
 * OpenGL ES backend at the compatibility level (which Mesa's software
 * renderer provides headless, with EGL_PLATFORM=surfaceless). gpu.js asks
 * for an adapter without options, so the options that worked are applied to
 * every later request.
 * @returns {Promise<string | null>} the adapter's description, or null if none answered
 */
const installWebGpu = async () => {
  const { create, globals } = await import('webgpu')
  Object.assign(globalThis, globals)
  /** @type {readonly [string[], GPURequestAdapterOptions][]} */
  const routes = [
    [[], {}],
    [['backend=opengles'], { featureLevel: 'compatibility' }],
  ]
  for (const [flags, options] of routes) {
    const gpu = create(flags)
    const adapter = await gpu.requestAdapter(options)
    if (adapter === null) continue
    /** @type {Pick<GPU, 'requestAdapter'>} */
    const withOptions = { requestAdapter: (more) => gpu.requestAdapter({ ...options, ...more }) }
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: withOptions }, configurable: true, writable: true })
    const { device, description, vendor } = adapter.info
    return [device, description, vendor, flags.join(' '), options.featureLevel ?? 'core']
      .filter((part) => part !== '')
      .join(', ')
  }
  return null
}

/**
 * Keeps gpu.js from loading headless-gl in this thread. `gl` is a native
 * addon that is not context-aware, so Node loads it in one thread per process
 * only: loaded here, it would fail ("did not self-register") on the main
 * thread, where the headlessgl mode runs. gpu.js requires it inside a
 * try/catch and treats anything but a function as "not installed", so a
 * cached empty module stands in for it.
 */
const keepHeadlessGlOut = () => {
  const require = createRequire(createRequire(import.meta.url).resolve('gpu.js'))
  let gl
  try {
    gl = require.resolve('gl')
  } catch {
    return // not installed: nothing to keep out
  }
  require.cache[gl] = /** @type {NodeJS.Module} */ (/** @type {unknown} */ ({ id: gl, filename: gl, loaded: true, exports: null }))
}

const start = async () => {
  keepHeadlessGlOut()
  const adapter = await installWebGpu()
  if (adapter === null) {
    parent.postMessage({ type: 'unavailable', reason: 'no WebGPU adapter answered (Dawn: default backend, then OpenGL ES at the compatibility level)' })
    return
  }
  // The same reading of gpu.js as `loadGpuJs`, which this plain-JavaScript thread cannot import.
  const gpujs = /** @type {import('./gpujs.js').GpuJsModule} */ (/** @type {unknown} */ ((await import('gpu.js')).default))
  // Acquire the device now, so that `ready` means a kernel can run.
  await gpujs.WebGPUContext.acquire()
  const gpu = new gpujs.GPU({ mode: 'webgpu' })
  const host = new KernelHost(gpu, gpujs.input)

  port.on('message', async (/** @type {Request} */ request) => {
    if (request.type === 'destroy') {
      await gpu.destroy()
      // The device is shared by every gpu.js context in this thread; this is the last one.
      await gpujs.WebGPUContext.destroy()
      process.exit(0)
    }
    try {
      if (request.spec !== undefined) host.compile(request.spec)
      const view = (/** @type {readonly [number, number]} */ [offset, length]) =>
        new Float32Array(request.arena, offset * 4, length)
      copyResult(await host.launch(request.key, request.args.map(view)), view(request.out))
      port.postMessage({ ok: true })
    } catch (error) {
      port.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) })
    }
    signal(DONE)
  })
  parent.postMessage({ type: 'ready', adapter })
}

start().catch((error) => {
  parent.postMessage({ type: 'unavailable', reason: error instanceof Error ? error.message : String(error) })
})
