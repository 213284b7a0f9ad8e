/**
 * The training loop as a library: checkpoints that reproduce the model bit
 * for bit, resume that reaches bit-identical parameters, atomic writes, and
 * interruption that saves the last completed step.
 */
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { FileSystem, type Path } from '@effect/platform'
import { NodeContext } from '@effect/platform-node'
import { SystemError } from '@effect/platform/Error'
import { decodeCheckpoint, indices, modelForward, parameters, receptiveField, referenceKernels, type Checkpoint } from '@wavenet/core'
import { Effect, Fiber, Layer } from 'effect'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { backendLayer, train, type TrainOptions, writeAtomically } from '../src/index.js'
import { file, scratch, WORDS } from './support.js'

const load = (path: string): Checkpoint => {
  const decoded = decodeCheckpoint(readFileSync(path))
  if (E.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

const bits = (c: Checkpoint): Record<string, number[]> =>
  Object.fromEntries(Object.entries(parameters(c.model)).map(([name, t]) => [name, Array.from(new Uint32Array(Float32Array.from(t.data).buffer))]))

const base = (dir: string, overrides: Partial<TrainOptions> = {}): TrainOptions & { readonly out: string } => ({
  data: file(dir, 'words.txt', WORDS), levels: 2, embedding: 5, hidden: 12, steps: 60, batch: 8, lrDecayAt: 0.75, lrDecay: 0.1,
  seed: 3, evalEvery: 1000, saveEvery: 1000, out: join(dir, 'model.safetensors'), samples: 2, ...overrides,
})

/** Runs on Node's services; `fs`, given, wraps Node's file system. */
const run = <A, E>(
  effect: Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>,
  fs?: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem>,
): Promise<A> => {
  const services = fs === undefined ? NodeContext.layer : Layer.merge(NodeContext.layer, fs.pipe(Layer.provide(NodeContext.layer)))
  return Effect.runPromise(Effect.provide(effect, services))
}

/** The real file system, with every file written also kept in `writes` (path → bytes). */
const recording = (writes: { path: string; bytes: Uint8Array }[]) =>
  Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
    ...fs,
    writeFile: (path, bytes, options) => {
      writes.push({ path, bytes: bytes.slice() })
      return fs.writeFile(path, bytes, options)
    },
  })))

describe('training through the library', () => {
  it('writes a checkpoint whose model gives bit-identical logits', async () => {
    const dir = scratch()
    const summary = await run(train(base(dir)).pipe(Effect.provide(backendLayer('wasm'))))
    const loaded = load(summary.checkpoint).model
    const field = receptiveField(loaded)
    const contexts = indices([5, field], Int32Array.from({ length: 5 * field }, (_, i) => (i * 3) % summary.vocab.symbols.length))
    const logits = (m: typeof loaded) => Array.from(new Uint32Array(Float32Array.from(modelForward(referenceKernels, m, contexts, 'eval').y.data).buffer))
    expect(logits(loaded)).toEqual(logits(summary.model))
  })

  it('resumed from a checkpoint taken at any step, reaches bit-identical parameters, per example and in sequence mode, with dropout too', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 59 }), fc.constantFrom('sgd' as const, 'adamw' as const), fc.constantFrom('example' as const, 'sequence' as const),
        fc.constantFrom(0, 0.2), async (at, optimizer, mode, dropout) => {
        const dir = scratch()
        const writes: { path: string; bytes: Uint8Array }[] = []
        // In sequence mode a batch counts target characters: it must hold the longest word (9 characters, 10 outputs).
        const config = base(dir, {
          saveEvery: at, optimizer, mode, dropout, batch: mode === 'sequence' ? 24 : 8, lrSchedule: mode === 'sequence' ? 'cosine' : 'step',
        })
        await run(train(config).pipe(Effect.provide(backendLayer('wasm'))), recording(writes))
        const straight = load(config.out)
        // The first checkpoint written (atomically, through a temporary file) is the one of step
        // `at`: as if the run had stopped there.
        const first = writes.find((w) => w.path.includes('.tmp-'))!
        const interrupted = file(dir, 'interrupted.safetensors', first.bytes)
        expect(load(interrupted).step).toBe(at)
        await run(train({ ...config, resume: interrupted, out: join(dir, 'resumed.safetensors') }).pipe(Effect.provide(backendLayer('wasm'))))
        const resumed = load(join(dir, 'resumed.safetensors'))
        expect(resumed.step).toBe(60)
        expect(resumed.mode ?? 'example').toBe(mode)
        expect(bits(resumed)).toEqual(bits(straight))
        expect(resumed.optimizer?.state.step).toBe(straight.optimizer?.state.step)
        expect(resumed.model.config).toEqual(straight.model.config)
      }),
      { numRuns: 12 },
    )
  })

  it('saves the last completed step when interrupted', async () => {
    const dir = scratch()
    const config = base(dir, { steps: 1_000_000 })
    const step = await run(Effect.gen(function* () {
      const fiber = yield* Effect.fork(train(config).pipe(Effect.provide(backendLayer('js'))))
      yield* Effect.sleep('400 millis')
      yield* Fiber.interrupt(fiber)
      return load(config.out).step
    }))
    expect(step).toBeGreaterThan(0)
    expect(step).toBeLessThan(1_000_000)
  })
})

describe('atomic checkpoint writes', () => {
  it('leave the previous file byte-identical when a write fails midway', async () => {
    const dir = scratch()
    const path = join(dir, 'model.safetensors')
    writeFileSync(path, 'the previous checkpoint')
    // A disk that fills up: half the bytes land in the temporary file, then the write fails.
    const full = Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
      ...fs,
      writeFile: (p, bytes) => fs.writeFile(p, bytes.subarray(0, bytes.length >> 1)).pipe(
        Effect.zipRight(Effect.fail(new SystemError({ reason: 'Unknown', module: 'FileSystem', method: 'writeFile', pathOrDescriptor: p, description: 'ENOSPC: no space left on device' }))),
      ),
    })))
    const result = await run(Effect.either(writeAtomically(path, new Uint8Array(1000).fill(7))), full)
    expect(result._tag).toBe('Left')
    expect(readFileSync(path, 'utf8')).toBe('the previous checkpoint')
    expect(readdirSync(dir)).toEqual(['model.safetensors'])
  })

  it('replace the file only with the complete new bytes', async () => {
    const dir = scratch()
    const path = join(dir, 'model.safetensors')
    writeFileSync(path, 'old')
    await run(writeAtomically(path, new Uint8Array([1, 2, 3])))
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3])
    expect(existsSync(path)).toBe(true)
    expect(readdirSync(dir)).toEqual(['model.safetensors'])
  })
})
