/**
 * The shell's errors: tagged values with a one-line, user-facing `message`.
 * The entry point prints `wavenet: <message>` and exits non-zero; none of them
 * ever shows a stack trace.
 */
import { Data } from 'effect'

/** A bad command line: an unknown option, a value out of range, options that contradict each other or a checkpoint. */
export class UsageError extends Data.TaggedError('UsageError')<{ readonly message: string }> {}

/** A file that cannot be read or written. */
export class FileError extends Data.TaggedError('FileError')<{ readonly message: string; readonly path: string }> {}

/** Data that cannot be used: empty, not UTF-8, characters outside the vocabulary. */
export class DataError extends Data.TaggedError('DataError')<{ readonly message: string }> {}

/** A checkpoint that cannot be loaded. */
export class CheckpointError extends Data.TaggedError('CheckpointError')<{ readonly message: string; readonly path: string }> {}

/** Training diverged: the loss stopped being a finite number. */
export class DivergedError extends Data.TaggedError('DivergedError')<{ readonly message: string; readonly step: number }> {}

/** A compute backend that cannot be had. */
export class BackendError extends Data.TaggedError('BackendError')<{ readonly message: string }> {}

export type CliError = UsageError | FileError | DataError | CheckpointError | DivergedError | BackendError

/** Exit codes, as argparse and clap use them (130 is the shell's code for Ctrl-C). */
export const ExitCode = { success: 0, failure: 1, usage: 2, interrupted: 130 } as const

/** The exit code of a failure: 2 for a bad command line, 1 for anything else. */
export const exitCodeOf = (error: unknown): number => (error instanceof UsageError ? ExitCode.usage : ExitCode.failure)

/** One line: newlines and runs of white space folded into single spaces. */
export const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim()
