/** Checkpoint files: decoded and checked on load, replaced atomically on save. */
import { FileSystem, Path } from '@effect/platform'
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { CheckpointError, FileError, UsageError } from './errors.js'
import { readBytes, writeAtomically } from './files.js'

export const loadCheckpoint = (path: string): Effect.Effect<Checkpoint, FileError | CheckpointError, FileSystem.FileSystem> =>
  Effect.flatMap(readBytes(path), (bytes) => {
    const decoded = decodeCheckpoint(bytes)
    return E.isRight(decoded)
      ? Effect.succeed(decoded.right)
      : Effect.fail(new CheckpointError({ path, message: `${path}: ${decoded.left.message}` }))
  })

export const saveCheckpoint = (path: string, checkpoint: Checkpoint): Effect.Effect<void, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.suspend(() => writeAtomically(path, encodeCheckpoint(checkpoint)))

/**
 * Checks before a run that its checkpoint can be written: the folder exists
 * and takes a file, and an existing file is replaced only when `replace`
 * says so. Training for an hour and then failing to save is the failure this
 * prevents.
 */
export const checkWritable = (
  path: string, options: { readonly replace: boolean },
): Effect.Effect<void, FileError | UsageError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const folder = paths.dirname(path)
    const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))
    if (!(yield* exists(folder))) return yield* Effect.fail(new FileError({ path, message: `cannot write ${path}: folder ${folder} does not exist` }))
    if (!options.replace && (yield* exists(path))) {
      return yield* Effect.fail(new UsageError({ message: `${path} exists: pass --force to replace it, or choose another --out` }))
    }
    const probe = paths.join(folder, `.${paths.basename(path)}.probe-${process.pid}`)
    yield* fs.writeFile(probe, new Uint8Array(0)).pipe(
      Effect.zipRight(fs.remove(probe)),
      Effect.mapError(() => new FileError({ path, message: `cannot write ${path}: folder ${folder} is not writable` })),
    )
  })
