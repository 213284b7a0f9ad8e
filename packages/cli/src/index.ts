/**
 * @wavenet/cli as a library: the training loop and the services it runs on,
 * for programs that train without the command line, and the command line
 * itself (`run`), for programs and tests that run it in-process.
 *
 * ```ts
 * import { NodeContext } from '@effect/platform-node'
 * import { Effect } from 'effect'
 * import { backendLayer, train } from '@wavenet/cli'
 *
 * const summary = await Effect.runPromise(train({ steps: 1000, evalEvery: 500, out: 'model.safetensors', samples: 5 })
 *   .pipe(Effect.provide(backendLayer('wasm')), Effect.provide(NodeContext.layer)))
 * ```
 *
 * Every option left out takes its default (`TrainConfig`).
 */
export { train, type TrainSummary } from './train.js'
export { TrainConfig, type TrainOptions, type TrainSettings } from './train-config.js'
export { backendLayer, BackendService, backendNames, gpuBackend, type Backend, type BackendName, type GpuHandle, type GpuOpener } from './backend.js'
export { loadCheckpoint, saveCheckpoint } from './checkpoints.js'
export { builtinWords, readCorpus } from './dataset.js'
export { writeAtomically } from './files.js'
export * from './errors.js'
export { exitCode, run } from './cli.js'
export { plainTerminal, type Terminal, TerminalService } from './terminal.js'
