/**
 * What a user sees on stderr, through the real executable: on a terminal (a
 * pseudo-terminal from util-linux `script`), a live progress line that log
 * lines never join and that is redrawn at most 10 times a second, and
 * readable log lines; elsewhere (in-process here) logfmt or JSON lines, no
 * fiber ids; one `--log-level`, before or after the command.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { file, inProcess, scratch, TINY, underTerminal, WORDS } from './support.js'

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g
const PROGRESS = /step \d+\/\d+ {2}loss/

/** The lines a terminal ends up showing: each line as what follows its last carriage return (each followed by a line clear). */
const screen = (raw: string): string[] =>
  raw.replace(/\r\n/g, '\n').split('\n').map((line) => line.slice(line.lastIndexOf('\r') + 1).replace('\x1b[2K', '').replace(SGR, ''))

describe('training on a terminal', () => {
  it('never joins a log line to the progress line, and redraws it at most 10 times a second', async () => {
    const dir = scratch()
    const steps = 100_000
    // A validation log every 2,000 steps: dozens of log lines cross the live line.
    const run = await underTerminal(['train', '--data', file(dir, 'w.txt', WORDS), ...TINY, '--steps', String(steps), '--eval-every', '2000',
      '--out', join(dir, 'm.safetensors')])
    expect(run.code, run.raw).toBe(0)
    const lines = screen(run.raw)
    const logs = lines.filter((l) => / validation /.test(l))
    expect(logs.length).toBe(steps / 2000)
    for (const line of lines) expect(PROGRESS.test(line) && / validation /.test(line), line).toBe(false)
    // Readable lines on a terminal: time, level, message, fields; no logfmt keys, no fiber id.
    for (const log of logs) expect(log).toMatch(/^\d\d:\d\d:\d\d INFO {2}validation step=\d+ valLoss=[\d.]+$/)
    // Every redraw writes the live line's text once: count them from the first to the last.
    const redraws = [...run.raw.matchAll(new RegExp(`step \\d+/${steps} `, 'g'))].map((m) => run.timeOf(m.index))
    expect(redraws.length).toBeGreaterThan(2)
    const seconds = redraws[redraws.length - 1]! - redraws[0]!
    expect((redraws.length - 1) / seconds, `${redraws.length} redraws in ${seconds.toFixed(2)} s`).toBeLessThanOrEqual(10)
  })

  it('colours help on a terminal, unless NO_COLOR is set', async () => {
    const [coloured, plain] = await Promise.all([
      underTerminal(['train', '--help']),
      underTerminal(['train', '--help'], { env: { NO_COLOR: '1' } }),
    ])
    expect(coloured.raw).toContain('\x1b[')
    expect(plain.raw).not.toContain('\x1b')
    expect(plain.raw.replace(/\r\n/g, '\n')).toBe(coloured.raw.replace(/\r\n/g, '\n').replace(SGR, ''))
  })
})

describe('log lines off a terminal', () => {
  const dir = scratch()
  const data = file(dir, 'w.txt', WORDS)
  const short = (name: string) => ['--data', data, ...TINY, '--steps', '40', '--eval-every', '20', '--out', join(dir, `${name}.safetensors`)]

  it('are logfmt without fiber ids; --log-level warning, before or after the command, silences INFO', async () => {
    const plain = await inProcess(['train', ...short('plain')])
    const before = await inProcess(['--log-level', 'warning', 'train', ...short('before')])
    const after = await inProcess(['train', ...short('after'), '--log-level=warning'])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stderr).toMatch(/^timestamp=\S+ level=INFO message=validation step=20 valLoss=[\d.]+$/m)
    expect(plain.stderr).not.toMatch(/fiber/)
    for (const quiet of [before, after]) {
      expect(quiet.code, quiet.stderr).toBe(0)
      expect(quiet.stderr).toBe('')
    }
  })

  it('are JSON lines with --log-format json', async () => {
    const run = await inProcess(['train', ...short('json'), '--log-format', 'json'])
    expect(run.code, run.stderr).toBe(0)
    const entries = run.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(entries).toContainEqual({ timestamp: expect.any(String), level: 'INFO', message: 'validation', step: 20, valLoss: expect.any(Number) })
    expect(entries.every((e) => !('fiberId' in e) && !('fiber' in e))).toBe(true)
  })
})
