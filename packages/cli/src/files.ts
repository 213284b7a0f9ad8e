/**
 * Reading and writing files for the shell, over @effect/platform's
 * FileSystem so tests can provide one that fails on purpose.
 */
import { FileSystem, Path } from '@effect/platform'
import { Effect } from 'effect'
import { FileError } from './errors.js'

const describe = (error: { readonly message: string }): string => {
  const reason = error.message
  if (/ENOENT|NotFound/.test(reason)) return 'no such file'
  if (/EACCES|EPERM|PermissionDenied/.test(reason)) return 'permission denied'
  if (/EISDIR|BadResource/.test(reason)) return 'is a directory or not a regular file'
  if (/ENOSPC/.test(reason)) return 'no space left on the device'
  return reason.split('\n')[0] ?? 'failed'
}

/** The bytes of a file, or a FileError naming it and why. */
export const readBytes = (path: string): Effect.Effect<Uint8Array, FileError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path)).pipe(
    Effect.mapError((e) => new FileError({ path, message: `cannot read ${path}: ${describe(e)}` })),
  )

/**
 * Writes bytes atomically: to a temporary file in the same folder, then a
 * rename over the destination. A crash or a full disk mid-write leaves the
 * previous file intact (and the temporary one is removed when possible).
 */
export const writeAtomically = (path: string, bytes: Uint8Array): Effect.Effect<void, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const temp = paths.join(paths.dirname(path), `.${paths.basename(path)}.tmp-${process.pid}-${Date.now()}`)
    const fail = (e: { readonly message: string }) => new FileError({ path, message: `cannot write ${path}: ${describe(e)}` })
    yield* fs.writeFile(temp, bytes).pipe(
      Effect.zipRight(fs.rename(temp, path)),
      Effect.mapError(fail),
      Effect.tapError(() => fs.remove(temp).pipe(Effect.ignore)),
    )
  })
