/**
 * Help that fits and a command line that answers as argparse and clap do:
 * help without escape codes off a terminal, wrapped to the width (80 columns
 * when unknown), usage lines that start with `wavenet`, every option with
 * the default the code uses, examples; the nearest option for a misspelt
 * one; exit code 2 for a bad command line and 1 for other failures.
 */
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { plainTerminal, TrainConfig } from '../src/index.js'
import { optionsOf } from '../src/options.js'
import { inProcess, type Run, scratch, wavenet } from './support.js'

const COMMANDS = ['train', 'sample', 'eval', 'inspect']

/** Lines longer than `width`, counted in characters (not bytes, not UTF-16 units). */
const tooLong = (text: string, width: number) => text.split('\n').filter((line) => [...line].length > width)

/** The entries of a help's option table: each option's first line with its wrapped continuation. */
const entries = (help: string): string[] =>
  help.split('\n').reduce<string[]>((all, line) => {
    if (/^ {2}-/.test(line)) return [...all, line.trim()]
    if (/^ {3,}\S/.test(line) && all.length > 0) return [...all.slice(0, -1), `${all[all.length - 1]!} ${line.trim()}`]
    return all
  }, [])

describe('wavenet train --help | cat', () => {
  let help: Run
  beforeAll(async () => {
    help = await wavenet(['train', '--help'])
  })

  it('has no escape byte and no line over 80 characters; its usage line starts with wavenet', () => {
    expect(help.code).toBe(0)
    expect(help.stdout).not.toContain('\x1b')
    expect(tooLong(help.stdout, 80)).toEqual([])
    const usage = help.stdout.split('\n').filter((line) => /usage/i.test(line))
    expect(usage).toEqual(['Usage: wavenet train [options]'])
  })

  it('lists every option of the training configuration with the default the code uses', () => {
    const listed = entries(help.stdout)
    for (const option of optionsOf(TrainConfig.fields)) {
      const entry = listed.find((e) => e.startsWith(`${option.flag} `) || e === option.flag)
      expect(entry, option.flag).toBeDefined()
      if (option.default._tag === 'Some') expect(entry).toContain(`(default ${String(option.default.value)})`)
    }
    // No option is listed twice, and none that is not ours.
    const flags = listed.map((e) => e.split(' ')[0]!.replace(/,$/, ''))
    expect(new Set(flags).size).toBe(flags.length)
    expect(help.stdout).not.toMatch(/--wizard|--completions/)
  })
})

describe('help for every command', () => {
  it('fits 60 columns, starts usage lines with wavenet, and gives two or three examples', async () => {
    const narrow = { ...plainTerminal, columns: 60 }
    for (const name of [...COMMANDS, undefined]) {
      const run = await inProcess(name === undefined ? ['--help'] : [name, '--help'], narrow)
      expect(run.code).toBe(0)
      expect(tooLong(run.stdout, 60), name).toEqual([])
      for (const usage of run.stdout.split('\n').filter((line) => line.startsWith('Usage:'))) expect(usage).toMatch(/^Usage: wavenet /)
      if (name !== undefined) {
        const examples = run.stdout.split('Examples:\n')[1]!.split('\n').filter((line) => /^ {2}\S/.test(line))
        expect(examples.length, name).toBeGreaterThanOrEqual(2)
        expect(examples.length, name).toBeLessThanOrEqual(3)
        for (const example of examples) expect(example).toMatch(new RegExp(`^ {2}wavenet ${name} `))
      }
    }
  })

  it('is the same wherever --help stands', async () => {
    const [first, last] = await Promise.all([inProcess(['--help', 'sample']), inProcess(['sample', '--model', 'x', '--help'])])
    expect(first.stdout).toContain('Usage: wavenet sample --model FILE [options]')
    expect(last.stdout).toBe(first.stdout)
  })
})

describe('a bad command line', () => {
  it('names the nearest option for a misspelt one, and exits 2', async () => {
    const run = await wavenet(['train', '--step', '100'])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe('wavenet: unknown option --step for wavenet train; did you mean --steps?\n')
  })

  it('exits 2 for each kind of usage error, 1 for other failures, 0 for help', async () => {
    const cases: [string[], number, RegExp][] = [
      [['train', '--optimizer', 'adam'], 2, /^wavenet: --optimizer must be one of sgd, adamw, not "adam"$/m],
      [['trian'], 2, /unknown command "trian"; did you mean train\?/],
      [[], 2, /a command is needed/],
      [['sample'], 2, /--model is required/],
      [['sample', '--model'], 2, /--model needs a value/],
      [['train', '--steps', '5', '--steps', '6'], 2, /--steps is given more than once/],
      [['train', '--steps', 'many'], 2, /--steps must be a whole number/],
      [['--log-level', 'loud', 'train'], 2, /--log-level must be one of debug, info, warning, error, none/],
      [['eval', '--model', join(scratch(), 'none.safetensors'), '--data', 'x.txt'], 1, /cannot read .*none\.safetensors: no such file/],
      [['--version'], 0, /^$/],
    ]
    const runs = await Promise.all(cases.map(([args]) => inProcess(args)))
    runs.forEach((run, i) => {
      const [args, code, pattern] = cases[i]!
      expect(run.code, args.join(' ')).toBe(code)
      expect(run.stderr, args.join(' ')).toMatch(pattern)
    })
  })
})
