#!/usr/bin/env node
/**
 * The `wavenet` executable. Exit codes: 0 success, 1 failure, 2 a bad command
 * line (one line on stderr for both), 130 interrupted (after saving what a
 * running command had).
 */
// Each module by its own path, not the package's index: the executable is bundled (scripts/bundle.mjs),
// and only the file system, paths and the terminal are services a command needs.
import * as NodeFileSystem from '@effect/platform-node/NodeFileSystem'
import * as NodePath from '@effect/platform-node/NodePath'
import * as NodeRuntime from '@effect/platform-node/NodeRuntime'
import * as NodeTerminal from '@effect/platform-node/NodeTerminal'
import { Effect, Layer } from 'effect'
import { exitCode, run } from './cli.js'
import { withNodeTerminal } from './terminal.js'

// Run as `pnpm wavenet …`, the process starts in the repository root: resolve the user's relative
// paths from the folder they ran pnpm in instead.
const invokedFrom = process.env['INIT_CWD']
if (process.env['npm_lifecycle_event'] === 'wavenet' && invokedFrom !== undefined) process.chdir(invokedFrom)

// A reader that stops early (`wavenet sample | head`) closes the pipe: that ends the output, not in error.
// Any other failed write (stdout on a full disk) is one line on stderr and a failure.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0)
  process.stderr.write(`wavenet: cannot write to stdout: ${e.code === 'ENOSPC' ? 'no space left on the device' : e.message}\n`)
  process.exit(1)
})
// Logs and progress are for whoever watches: when stderr's reader goes (`2>&1 | head`, a log viewer
// that exits, a closed terminal) the command goes on without them.
process.stderr.on('error', () => {})
// The terminal closing (SIGHUP) ends a command as SIGTERM does: a running `train` saves first.
process.on('SIGHUP', () => process.emit('SIGTERM', 'SIGTERM'))

withNodeTerminal(run(process.argv)).pipe(
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(exitCode(exit)),
  }),
)
