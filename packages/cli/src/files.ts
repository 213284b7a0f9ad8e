/**
 * Reading and writing files for the shell, over @effect/platform's
 * FileSystem so tests can provide one that fails on purpose.
 */
import { close, closeSync, constants, open, openSync, read } from 'node:fs'
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

/** A size in bytes, as people read it. */
export const mebibytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`

/** Bytes read at a time from a file whose size is not known in advance (a pipe, a device). */
const CHUNK_BYTES = 2 ** 16

/**
 * A pipe or a device read to its end: its bytes, or `undefined` once it has
 * given more than `limit`. Interruptible: a pipe (FIFO) that no one writes
 * to makes `open` wait in Node's thread pool, and Node cannot exit while it
 * waits, so an interruption opens it for writing, without blocking, which
 * lets that `open` return.
 */
const readStream = (path: string, limit: number): Effect.Effect<Uint8Array | undefined, NodeJS.ErrnoException> =>
  Effect.async((resume) => {
    let cancelled = false
    const chunks: Buffer[] = []
    let total = 0
    const buffer = Buffer.alloc(CHUNK_BYTES)
    const next = (fd: number) => read(fd, buffer, 0, CHUNK_BYTES, null, (error, n) => {
      if (cancelled || error !== null || n === 0 || total + n > limit) {
        close(fd, () => {})
        if (cancelled) return
        if (error !== null) return resume(Effect.fail(error))
        return resume(Effect.succeed(n === 0 ? new Uint8Array(Buffer.concat(chunks, total)) : undefined))
      }
      chunks.push(Buffer.from(buffer.subarray(0, n)))
      total += n
      next(fd)
    })
    open(path, 'r', (error, fd) => {
      if (error !== null) return cancelled ? undefined : resume(Effect.fail(error))
      if (cancelled) return close(fd, () => {})
      next(fd)
    })
    return Effect.sync(() => {
      cancelled = true
      try {
        closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        // No reader is waiting in `open`: nothing to release.
      }
    })
  })

/**
 * The bytes of a file, or a FileError naming it and why. A file larger than
 * `limit` bytes is refused: a regular file before it is read, a pipe or a
 * device (which has no size) as soon as it has given more. `kind` names
 * what the file is for the error (`data file`, `checkpoint`).
 */
export const readBytes = (path: string, limit: number, kind: string): Effect.Effect<Uint8Array, FileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(path)
    const tooLarge = (size: string) => new FileError({ path, message: `cannot read ${path}: it ${size} than the ${mebibytes(limit)} a ${kind} may be` })
    if (info.type === 'Directory') return yield* Effect.fail(new FileError({ path, message: `cannot read ${path}: it is a directory` }))
    if (info.type === 'File') {
      if (Number(info.size) > limit) return yield* Effect.fail(tooLarge(`is ${mebibytes(Number(info.size))}, more`))
      return yield* fs.readFile(path)
    }
    const bytes = yield* readStream(path, limit)
    return bytes ?? (yield* Effect.fail(tooLarge('gives more')))
  }).pipe(Effect.mapError((e) => (e instanceof FileError ? e : new FileError({ path, message: `cannot read ${path}: ${describe(e)}` }))))

/** Whether a process of this id runs (one we may not signal runs too). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Temporary files of `path` carry the id of the process writing them: `.NAME.tmp-PID-N`. */
const temporaryPattern = (name: string): RegExp => new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)-\\d+$`)

let written = 0

/**
 * Removes the temporary files of `path` that processes no longer running
 * left (killed mid-write); never one of a live writer.
 */
const removeStaleTemporaries = (path: string): Effect.Effect<void, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const folder = paths.dirname(path)
    const pattern = temporaryPattern(paths.basename(path))
    for (const name of yield* fs.readDirectory(folder)) {
      const pid = pattern.exec(name)?.[1]
      if (pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid))) yield* fs.remove(paths.join(folder, name))
    }
  }).pipe(Effect.ignore)

/**
 * Writes bytes atomically and durably: to a temporary file in the same
 * folder (named with this process's id), flushed to the disk, then renamed
 * over the destination, and the folder flushed so that the rename lasts. A
 * crash, a power cut or a full disk mid-write leaves the previous file
 * intact (and the temporary one is removed when possible, or by the next
 * save to the same path once its writer is gone).
 */
export const writeAtomically = (path: string, bytes: Uint8Array): Effect.Effect<void, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    yield* removeStaleTemporaries(path)
    const folder = paths.dirname(path)
    const temp = paths.join(folder, `.${paths.basename(path)}.tmp-${process.pid}-${written++}`)
    const fail = (e: { readonly message: string }) => new FileError({ path, message: `cannot write ${path}: ${describe(e)}` })
    const flush = (p: string) => Effect.scoped(Effect.flatMap(fs.open(p), (file) => file.sync))
    yield* fs.writeFile(temp, bytes, { flag: 'wx' }).pipe(
      Effect.zipRight(flush(temp)),
      Effect.zipRight(fs.rename(temp, path)),
      Effect.mapError(fail),
      Effect.tapError(() => fs.remove(temp).pipe(Effect.ignore)),
    )
    // The file is in place; a folder that cannot be flushed (some file systems refuse) only makes the rename less durable.
    yield* flush(folder).pipe(Effect.ignore)
  })
