/**
 * The GPU backend from the shell: loaded only when asked for, released at the
 * end of a run whether it succeeds, fails or is interrupted, and training on
 * it lands where the wasm backend does.
 */
import { join } from 'node:path'
import { NodeContext } from '@effect/platform-node'
import { availableModes, createGpuKernels } from '@wavenet/gpu'
import { Effect, Exit, Fiber } from 'effect'
import { describe, expect, it } from 'vitest'
import { backendLayer, type GpuOpener, train, type TrainOptions } from '../src/index.js'
import { file, lastJson, scratch, TINY, wavenet, WORDS } from './support.js'

const headlessAvailable = (await availableModes()).some((m) => m.mode === 'headlessgl' && m.available)

/** Opens real gpu.js kernels and records whether they were released. */
const spied = () => {
  const events: string[] = []
  const open: GpuOpener = async (mode) => {
    const backend = await createGpuKernels(mode as 'cpu')
    events.push(`open ${backend.mode}`)
    return { ...backend, kernels: backend.kernels, mode: backend.mode, destroy: async () => { events.push('destroy'); await backend.destroy() } }
  }
  return { events, open }
}

const config = (dir: string, overrides: Partial<TrainOptions> = {}): TrainOptions => ({
  data: file(dir, 'words.txt', WORDS), levels: 2, embedding: 4, hidden: 8, steps: 20, batch: 8, lrDecayAt: 0.75, lrDecay: 0.1,
  seed: 1, evalEvery: 1000, saveEvery: 1000, out: join(dir, 'model.safetensors'), samples: 1, ...overrides,
})

const runTrain = (c: TrainOptions, open: GpuOpener) =>
  train(c).pipe(Effect.provide(backendLayer('gpu:cpu', open)), Effect.provide(NodeContext.layer))

describe('the GPU backend as a resource', () => {
  it('is released when a run ends', async () => {
    const { events, open } = spied()
    const summary = await Effect.runPromise(runTrain(config(scratch()), open))
    expect(summary.backend).toBe('gpu:cpu')
    expect(events).toEqual(['open cpu', 'destroy'])
  })

  it('is released when a run fails', async () => {
    const { events, open } = spied()
    const exit = await Effect.runPromiseExit(runTrain(config(scratch(), { resume: '/nonexistent/model.safetensors' }), open))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(events).toEqual(['open cpu', 'destroy'])
  })

  it('is released when a run is interrupted', async () => {
    const { events, open } = spied()
    await Effect.runPromise(Effect.gen(function* () {
      const fiber = yield* Effect.fork(runTrain(config(scratch(), { steps: 10_000_000 }), open))
      yield* Effect.sleep('500 millis')
      yield* Fiber.interrupt(fiber)
    }))
    expect(events).toEqual(['open cpu', 'destroy'])
  })

  it('is not loaded by other backends', async () => {
    const { events, open } = spied()
    await Effect.runPromise(train(config(scratch())).pipe(Effect.provide(backendLayer('wasm', open)), Effect.provide(NodeContext.layer)))
    expect(events).toEqual([])
  })
})

describe('training on gpu:webasm', () => {
  it('ends within 1% of the wasm run in validation loss, and reports its mode', async () => {
    const dir = scratch()
    const data = file(dir, 'words.txt', WORDS)
    const args = (backend: string) => ['train', '--data', data, ...TINY, '--steps', '300', '--backend', backend, '--out', join(dir, `${backend}.safetensors`), '--json']
    const [gpu, cpu] = [await wavenet(args('gpu:webasm')), await wavenet(args('wasm'))]
    expect(gpu.code, gpu.stderr).toBe(0)
    expect(lastJson(gpu)['backend']).toBe('gpu:webasm')
    const [a, b] = [lastJson(gpu)['valLoss'] as number, lastJson(cpu)['valLoss'] as number]
    expect(Math.abs(a - b) / b).toBeLessThan(0.01)
  })

  it.skipIf(headlessAvailable)('is a clear error for an unavailable mode, not a silent fallback', async () => {
    const dir = scratch()
    const run = await wavenet(['train', '--data', file(dir, 'w.txt', WORDS), ...TINY, '--steps', '5', '--backend', 'gpu:headlessgl', '--out', join(dir, 'm.safetensors')])
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^wavenet: --backend gpu:headlessgl: gpu mode 'headlessgl' is not available: /)])
  })
})
