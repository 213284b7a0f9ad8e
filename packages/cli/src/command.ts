/**
 * What a command of `wavenet` is: a name, a one-line summary, its options
 * (a struct of fields, see `options.ts`), a few examples, and the program
 * that runs on the decoded options. The options every command with a model
 * shares (`--backend`, `--json`) are here too.
 */
import type { FileSystem, Path } from '@effect/platform'
import { Effect, Schema } from 'effect'
import { backendLayer, type BackendName, backendNames } from './backend.js'
import type { CliError } from './errors.js'
import { choice, type Decoded, decodeOptions, flag, withDefault } from './options.js'

/** The services a command runs on (its backend it provides itself). */
export type CommandServices = FileSystem.FileSystem | Path.Path

export interface Command {
  readonly name: string
  readonly summary: string
  readonly options: Schema.Struct.Fields
  /** Two or three command lines, each starting `wavenet`. */
  readonly examples: readonly string[]
  /** Decodes the options (a usage error names the first bad one), then runs. */
  run(input: Readonly<Record<string, unknown>>): Effect.Effect<void, CliError, CommandServices>
}

/** A command whose program receives its options decoded: every value, and which were given. */
export const command = <F extends Schema.Struct.Fields>(spec: {
  readonly name: string
  readonly summary: string
  readonly options: F
  readonly examples: readonly string[]
  readonly run: (options: Decoded<Schema.Schema.Type<Schema.Struct<F>>>) => Effect.Effect<void, CliError, CommandServices>
}): Command => {
  // Option schemas need no services; TypeScript cannot see that through a generic struct.
  const schema = Schema.Struct(spec.options) as unknown as Schema.Schema<Schema.Schema.Type<Schema.Struct<F>>, Schema.Schema.Encoded<Schema.Struct<F>>>
  return {
    ...spec,
    run: (input) => Effect.flatMap(decodeOptions(schema, input as Schema.Schema.Encoded<Schema.Struct<F>>), spec.run),
  }
}

/** `--backend`: the kernels a command computes with (see `backend.ts`). */
export const backendOption = withDefault(
  choice(...backendNames), 'wasm',
  'compute backend: wasm (WebAssembly SIMD), js (the reference kernels), gpu (gpu.js, its best mode) or gpu:MODE (a named gpu.js mode)',
)

/** `--json`: output for programs rather than people. */
export const jsonOption = flag('print one JSON object as the last line of stdout')

/** Runs a program on a backend, which lives as long as the program runs. */
export const onBackend = <A, E, R>(name: BackendName, effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.provide(backendLayer(name)))
