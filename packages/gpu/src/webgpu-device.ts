/**
 * The main thread's side of the webgpu worker (see `webgpu-worker.js` for
 * why it exists and the protocol): a `Device` whose `run` blocks this thread
 * until the worker has the answer.
 */
import { once } from 'node:events'
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads'
import type { Device } from './device.js'
import { GpuUnavailableError } from './mode-names.js'
import { BUSY, EXITED } from './worker-state.js'

type Startup = { type: 'ready'; adapter: string } | { type: 'unavailable'; reason: string }
type Reply = { ok: true } | { ok: false; error: string }

/**
 * Mesa's EGL picks the X11 platform by default, which fails with no X
 * display; the surfaceless platform needs no display at all. EGL reads the
 * variable from the process environment, which only the main thread writes
 * through to (a worker's `process.env` is its own copy), so it is set here,
 * and only where it is unset and no display could have been meant.
 */
const preferSurfacelessEgl = (): void => {
  const env = process.env
  if (env['EGL_PLATFORM'] === undefined && env['DISPLAY'] === undefined && env['WAYLAND_DISPLAY'] === undefined) {
    env['EGL_PLATFORM'] = 'surfaceless'
  }
}

/** A float32 SharedArrayBuffer that grows (by doubling) to fit each request. */
class Arena {
  buffer = new SharedArrayBuffer(1 << 16)
  floats = new Float32Array(this.buffer)

  fit(length: number): void {
    if (length <= this.floats.length) return
    let bytes = this.buffer.byteLength
    while (bytes < length * 4) bytes *= 2
    this.buffer = new SharedArrayBuffer(bytes)
    this.floats = new Float32Array(this.buffer)
  }
}

/**
 * Starts the webgpu worker and waits until its device is acquired.
 * @throws GpuUnavailableError when no adapter answers or Dawn fails to load.
 */
export const startWebGpuDevice = async (): Promise<Device> => {
  preferSurfacelessEgl()
  const control = new Int32Array(new SharedArrayBuffer(4))
  const { port1: port, port2 } = new MessageChannel()
  const worker = new Worker(new URL('./webgpu-worker.js', import.meta.url), {
    workerData: { control, port: port2 },
    transferList: [port2],
  })
  const startup = await new Promise<Startup>((resolve) => {
    worker.once('message', resolve)
    worker.once('error', (error) => resolve({ type: 'unavailable', reason: error.message }))
    worker.once('exit', (code) => resolve({ type: 'unavailable', reason: `the worker exited (${code})` }))
  })
  if (startup.type === 'unavailable') {
    await worker.terminate()
    port.close()
    throw new GpuUnavailableError('webgpu', startup.reason)
  }
  // Requests block this thread instead of keeping its event loop alive: a
  // backend the caller forgot to destroy must not keep the process running.
  worker.unref()
  port.unref()
  // A crash surfaces through the state word (the worker's exit handler sets
  // EXITED); without a listener it would also be an uncaught 'error' here.
  worker.on('error', () => {})

  const arena = new Arena()
  const sent = new Set<string>()
  let exited = false
  return {
    mode: 'webgpu',
    adapter: startup.adapter,
    maxSide: Infinity,
    depthBlock: Infinity,
    get compiled() {
      return sent.size
    },
    run(program, args, out) {
      if (exited) throw new Error('the webgpu worker has exited')
      arena.fit(args.reduce((total, arg) => total + arg.length, out.length))
      let offset = 0
      const place = (length: number): [number, number] => {
        const at: [number, number] = [offset, length]
        offset += length
        return at
      }
      const argsAt = args.map((arg) => {
        const at = place(arg.length)
        arena.floats.set(arg, at[0])
        return at
      })
      const outAt = place(out.length)
      const first = !sent.has(program.key)
      Atomics.store(control, 0, BUSY)
      port.postMessage({
        type: 'run',
        key: program.key,
        ...(first ? { spec: program.spec() } : {}),
        arena: arena.buffer,
        args: argsAt,
        out: outAt,
      })
      Atomics.wait(control, 0, BUSY)
      if (Atomics.load(control, 0) === EXITED) {
        exited = true
        throw new Error('the webgpu worker exited during a request')
      }
      const reply = receiveMessageOnPort(port)?.message as Reply | undefined
      if (reply === undefined) throw new Error('the webgpu worker signalled without answering')
      if (!reply.ok) throw new Error(`webgpu: ${reply.error}`)
      if (first) sent.add(program.key)
      out.set(arena.floats.subarray(outAt[0], outAt[0] + outAt[1]))
    },
    async destroy() {
      if (exited) return
      exited = true
      worker.ref()
      const gone = once(worker, 'exit')
      port.postMessage({ type: 'destroy' })
      await gone
      port.close()
    },
  }
}
