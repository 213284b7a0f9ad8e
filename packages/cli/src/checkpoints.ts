/** Checkpoint files: decoded and checked on load, claimed by one run at a time, replaced atomically on save. */
import { statfs } from 'node:fs/promises'
import { FileSystem, Path } from '@effect/platform'
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from '@wavenet/core'
import { Effect, type Scope } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { CheckpointError, FileError, UsageError } from './errors.js'
import { mebibytes, processAlive, readBytes, writeAtomically } from './files.js'

/** The largest checkpoint read: 2 GiB, the most Node reads into one buffer (a run's checkpoint stays within 1.5 GiB). */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1

export const loadCheckpoint = (path: string): Effect.Effect<Checkpoint, FileError | CheckpointError, FileSystem.FileSystem> =>
  Effect.flatMap(readBytes(path, MAX_CHECKPOINT_BYTES, 'checkpoint'), (bytes) => {
    const decoded = decodeCheckpoint(bytes)
    return E.isRight(decoded)
      ? Effect.succeed(decoded.right)
      : Effect.fail(new CheckpointError({ path, message: `${path}: ${decoded.left.message}` }))
  })

export const saveCheckpoint = (path: string, checkpoint: Checkpoint): Effect.Effect<void, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.suspend(() => writeAtomically(path, encodeCheckpoint(checkpoint)))

/**
 * Claims `path` for a run's checkpoint, for as long as the scope lasts: an
 * exclusive lock file beside it (`.NAME.lock`, holding this process's id),
 * so that a second run writing the same file is refused at its start rather
 * than overwriting the first at its end. A lock whose process is gone
 * (killed) is taken over. Checked first: the folder exists and takes a
 * file, `path` is not a folder or device, and not one of `inputs` (the
 * run's data files). Training for an hour and then failing to save is the
 * failure this prevents; `refuseExisting` completes it.
 */
export const claimCheckpoint = (
  path: string, inputs: readonly string[],
): Effect.Effect<void, FileError | UsageError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const folder = paths.dirname(path)
    const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))
    if (!(yield* exists(folder))) return yield* Effect.fail(new FileError({ path, message: `cannot write ${path}: folder ${folder} does not exist` }))
    const existing = yield* fs.stat(path).pipe(Effect.option)
    if (existing._tag === 'Some' && existing.value.type !== 'File') {
      const what = existing.value.type === 'Directory' ? 'a directory' : 'not a regular file'
      return yield* Effect.fail(new UsageError({ message: `--out ${path} is ${what}: give the path of a checkpoint file` }))
    }
    // The same file by another name (a link, a relative path) is the same file.
    const real = (p: string) => fs.realPath(p).pipe(Effect.orElseSucceed(() => paths.resolve(p)))
    const target = yield* real(path)
    for (const input of inputs) {
      if ((yield* real(input)) === target) {
        return yield* Effect.fail(new UsageError({ message: `--out ${path} is ${input}, a data file of this run: choose another --out` }))
      }
    }
    const lock = paths.join(folder, `.${paths.basename(path)}.lock`)
    const notWritable = () => new FileError({ path, message: `cannot write ${path}: folder ${folder} is not writable` })
    const take = fs.writeFileString(lock, String(process.pid), { flag: 'wx' })
    const claimed = yield* take.pipe(
      Effect.as(true),
      Effect.catchIf((e) => e._tag === 'SystemError' && e.reason === 'AlreadyExists', () => Effect.succeed(false)),
      Effect.mapError(notWritable),
    )
    if (!claimed) {
      const holder = Number(yield* fs.readFileString(lock).pipe(Effect.orElseSucceed(() => '')))
      if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) {
        return yield* Effect.fail(new FileError({
          path, message: `${path} is being written by another run (process ${holder}): wait for it to end, or choose another --out (remove ${lock} if that process is no run)`,
        }))
      }
      // Its writer is gone: take the lock over.
      yield* fs.remove(lock).pipe(Effect.ignore)
      const retaken = yield* take.pipe(Effect.as(true), Effect.orElseSucceed(() => false))
      if (!retaken) return yield* Effect.fail(new FileError({ path, message: `${path} is being written by another run: choose another --out` }))
    }
    yield* Effect.addFinalizer(() => fs.remove(lock).pipe(Effect.ignore))
  })

/**
 * Refuses to replace an existing checkpoint unless `replace` says so.
 * Checked with `path` claimed: a run that held it before may have written
 * the file since.
 */
export const refuseExisting = (path: string, replace: boolean): Effect.Effect<void, UsageError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.exists(path)).pipe(
    Effect.orElseSucceed(() => false),
    Effect.flatMap((exists) => (exists && !replace
      ? Effect.fail(new UsageError({ message: `${path} exists: pass --force to replace it, or choose another --out` }))
      : Effect.void)),
  )

/** Free bytes for an unprivileged writer in a folder, where Node can tell. */
export const freeBytes = (folder: string): Effect.Effect<number | undefined> =>
  Effect.promise(() => statfs(folder).then((s) => s.bavail * s.bsize, () => undefined))

/**
 * Checks that the folder of `path` has room for a checkpoint of `bytes`
 * (written beside the old file before it replaces it). Where the free space
 * cannot be told, nothing is checked.
 */
export const checkFreeSpace = (
  path: string, bytes: number, free: (folder: string) => Effect.Effect<number | undefined> = freeBytes,
): Effect.Effect<void, FileError, Path.Path> =>
  Effect.gen(function* () {
    const folder = (yield* Path.Path).dirname(path)
    const available = yield* free(folder)
    if (available !== undefined && available < bytes) {
      return yield* Effect.fail(new FileError({
        path, message: `cannot write ${path}: ${folder} has ${mebibytes(available)} free, and a checkpoint of this run takes ${mebibytes(bytes)}`,
      }))
    }
  })
