/** Running the built `wavenet` executable as a real child process, and scratch folders. */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
export const SHARED_DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url))

export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI to completion (or until `onStderr` decides to signal it). */
export const wavenet = (
  args: readonly string[],
  options: {
    onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void
    /** Called on output; `close` shuts the reading end of stdout, as `| head` does. */
    onStdout?: (text: string, close: () => void) => void
    cwd?: string
  } = {},
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      options.onStdout?.(stdout, () => child.stdout.destroy())
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      options.onStderr?.(stderr, (s) => child.kill(s))
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

/** A new empty folder. */
export const scratch = (): string => mkdtempSync(join(tmpdir(), 'wavenet-test-'))

/** Writes a file in a folder and returns its path. */
export const file = (dir: string, name: string, contents: string | Uint8Array): string => {
  const path = join(dir, name)
  writeFileSync(path, contents)
  return path
}

/** A small corpus: enough to train a tiny model in a second. */
export const WORDS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'charlotte', 'mia', 'amelia', 'harper', 'evelyn',
  'abigail', 'emily', 'ella', 'elizabeth', 'camila', 'luna', 'sofia', 'avery', 'mila', 'aria', 'scarlett', 'penelope',
  'layla', 'chloe', 'victoria', 'madison', 'eleanor', 'grace', 'nora', 'riley', 'zoey', 'hannah', 'hazel', 'lily'].join('\n')

/** Flags of a tiny model that trains fast. */
export const TINY = ['--levels', '2', '--embedding', '6', '--hidden', '16', '--batch', '16']

/** The parsed last line of stdout, which under --json is one JSON object. */
export const lastJson = (run: Run): Record<string, unknown> => {
  const lines = run.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>
}
