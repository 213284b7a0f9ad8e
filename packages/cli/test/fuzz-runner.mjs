/**
 * Runs every command of the built CLI, in this process, on each checkpoint
 * of a folder, and prints one JSON line: how many runs, how many ended in
 * each exit code, and every run that printed more than one line on stderr,
 * a stack trace or an internal error. The fuzz test starts it under
 * `node --max-old-space-size=256`, so that a command that allocates what a
 * file only claims ends this process, which the test sees.
 *
 *   node fuzz-runner.mjs FOLDER WORDS
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { NodeContext } from '@effect/platform-node'
import { Console, Effect, ManagedRuntime } from 'effect'
import { exitCode, plainTerminal, run, TerminalService } from '../dist/index.js'

const [folder, words] = process.argv.slice(2)
// Node's services, built once for every run.
const node = ManagedRuntime.make(NodeContext.layer)

/** One command line, in this process: its exit code and what it wrote to stderr. */
const command = async (args) => {
  const stderr = []
  const keep = (...items) => { stderr.push(items.map(String).join(' ')) }
  const exit = await node.runPromiseExit(Console.consoleWith((console) => {
    const kept = { ...console, log: () => Effect.void, error: (...a) => Effect.sync(() => keep(...a)), unsafe: { ...console.unsafe, log: () => {}, error: keep } }
    return run(['node', 'wavenet', ...args]).pipe(Effect.provideService(TerminalService, plainTerminal), Console.withConsole(kept))
  }))
  return { code: exitCode(exit), stderr: stderr.join('\n') }
}

const codes = {}
const bad = []
let runs = 0
const files = readdirSync(folder).filter((name) => name.endsWith('.safetensors')).sort()
for (const name of files) {
  const model = join(folder, name)
  for (const args of [
    ['inspect', '--model', model],
    // The reference kernels: what is fuzzed is decoding and allocation, and they start at no cost.
    ['sample', '--model', model, '-n', '3', '--seed', '1', '--max-length', '8', '--backend', 'js'],
    ['eval', '--model', model, '--data', words, '--backend', 'js'],
    ['train', '--data', words, '--resume', model, '--steps', '2', '--backend', 'js', '--out', join(folder, 'resumed.out'), '--force', '--samples', '1', '--log-level', 'none'],
  ]) {
    const { code, stderr } = await command(args)
    runs++
    codes[code] = (codes[code] ?? 0) + 1
    const lines = stderr.trim() === '' ? [] : stderr.trim().split('\n')
    const failed = code !== 0 && (lines.length !== 1 || !lines[0].startsWith('wavenet: '))
    if (failed || /internal error|\n\s+at .+:\d+:\d+/.test(stderr) || (code !== 0 && code !== 1 && code !== 2)) bad.push({ file: name, command: args[0], code, stderr: stderr.slice(0, 500) })
  }
}
console.log(JSON.stringify({ files: files.length, runs, codes, bad }))
