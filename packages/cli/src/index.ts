/**
 * @wavenet/cli as a library: the training loop and the services it runs on,
 * for programs that train without the command line.
 *
 * ```ts
 * import { NodeContext } from '@effect/platform-node'
 * import { Effect } from 'effect'
 * import { backendLayer, train } from '@wavenet/cli'
 *
 * const summary = await Effect.runPromise(train({ steps: 1000, batch: 32, lrDecayAt: 0.75, lrDecay: 0.1, seed: 42,
 *   evalEvery: 500, saveEvery: 1000, out: 'model.safetensors', samples: 5 })
 *   .pipe(Effect.provide(backendLayer('wasm')), Effect.provide(NodeContext.layer)))
 * ```
 */
export { train, type TrainConfig, type TrainSummary } from './train.js'
export { backendLayer, BackendService, backendNames, gpuBackend, type Backend, type BackendName, type GpuHandle, type GpuOpener } from './backend.js'
export { loadCheckpoint, saveCheckpoint } from './checkpoints.js'
export { builtinWords, readCorpus } from './dataset.js'
export { writeAtomically } from './files.js'
export * from './errors.js'
export { run } from './cli.js'
