/** Checkpoint files: decoded and checked on load, replaced atomically on save. */
import type { FileSystem, Path } from '@effect/platform'
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { CheckpointError, type FileError } from './errors.js'
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
