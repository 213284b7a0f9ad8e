/** Running the `wavenet` command line: as a real child process, under a pseudo-terminal, or in-process; and scratch folders. */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NodeContext } from '@effect/platform-node'
import { Console, Effect } from 'effect'
import { exitCode, plainTerminal, run, type Terminal, TerminalService } from '../src/index.js'

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
    /** Variables added to the environment (which never has COLUMNS, NO_COLOR or FORCE_COLOR of its own). */
    env?: Record<string, string>
  } = {},
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? process.cwd(), env: environment(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
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

/** This process's environment without what changes the CLI's width and colour, plus `extra`. */
const environment = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const { COLUMNS: _columns, NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...env } = process.env
  return { ...env, ...extra }
}

/** What a pseudo-terminal showed while the CLI ran on it (stdout and stderr together, as written). */
export interface TerminalRun {
  readonly raw: string
  readonly code: number | null
  /** Seconds after the start at which the terminal received the character at an index of `raw`. */
  timeOf(index: number): number
}

/**
 * Runs the CLI on a pseudo-terminal of `columns` columns, through util-linux
 * `script` (no native pty module needed), and returns the raw text the
 * terminal received, carriage returns and escape codes included, with the
 * time each part arrived (from `script`'s timing log).
 */
export const underTerminal = (args: readonly string[], options: { columns?: number; env?: Record<string, string> } = {}): Promise<TerminalRun> =>
  new Promise((resolve, reject) => {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
    const line = `stty cols ${options.columns ?? 100} rows 40; exec ${[process.execPath, MAIN, ...args].map(quote).join(' ')}`
    const timing = join(scratch(), 'timing')
    const child = spawn('script', ['--quiet', '--return', '--log-timing', timing, '--command', line, '/dev/null'], {
      env: environment(options.env), stdio: ['ignore', 'pipe', 'inherit'],
    })
    const chunks: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => { chunks.push(d) })
    child.on('error', reject)
    child.on('close', (code) => {
      const raw = Buffer.concat(chunks).toString()
      // Each line of the log: seconds since the previous output, and its length in bytes.
      let [time, end] = [0, 0]
      const arrivals = readFileSync(timing, 'utf8').trim().split('\n').map((entry) => {
        const [delay, bytes] = entry.split(' ').map(Number) as [number, number]
        ;[time, end] = [time + delay, end + bytes]
        return { time, end }
      })
      const timeOf = (index: number) => {
        const byte = Buffer.byteLength(raw.slice(0, index))
        return arrivals.find((a) => a.end > byte)?.time ?? time
      }
      resolve({ raw, code, timeOf })
    })
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

/** Runs the command line in this process, on Node's services, with a Console that keeps what it is given. */
export const inProcess = async (args: readonly string[], terminal: Terminal = plainTerminal): Promise<Run> => {
  const stdout: string[] = []
  const stderr: string[] = []
  const keep = (lines: string[]) => (...items: ReadonlyArray<unknown>) => { lines.push(`${items.map(String).join(' ')}\n`) }
  const exit = await Effect.runPromiseExit(Console.consoleWith((console) => {
    const [log, error] = [keep(stdout), keep(stderr)]
    const kept: Console.Console = {
      ...console, log: (...a) => Effect.sync(() => log(...a)), error: (...a) => Effect.sync(() => error(...a)), unsafe: { ...console.unsafe, log, error },
    }
    return run(['node', 'wavenet', ...args]).pipe(Effect.provideService(TerminalService, terminal), Console.withConsole(kept), Effect.provide(NodeContext.layer))
  }))
  return { code: exitCode(exit), signal: null, stdout: stdout.join(''), stderr: stderr.join('') }
}
