/**
 * `--help`, rendered from the commands' option structs: each option with its
 * value, its help and its default, as the code defines them; examples; no
 * escape codes unless stdout is a terminal that allows colour; wrapped to
 * the terminal's width.
 */
import type { Command } from './command.js'
import { ExitCode } from './errors.js'
import { type OptionInfo, optionsOf } from './options.js'
import type { Terminal } from './terminal.js'

/** Widest help, as clap caps it: longer lines are hard to read. */
const MAX_WIDTH = 100
/** Columns at which a description starts, at most; longer options put theirs on the next line. */
const MAX_OPTION_WIDTH = 28
/** Narrowest description column; narrower terminals put every description under its option. */
const MIN_DESCRIPTION_WIDTH = 30
/** Choices listed in place of the value when they are this short. */
const SHORT_CHOICES = 14

const length = (text: string) => [...text].length

/** Words of `text` in lines of at most `width` characters; a longer word is cut. */
export const wrap = (text: string, width: number): string[] => {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const candidate = line === '' ? word : `${line} ${word}`
    if (length(candidate) <= width) {
      line = candidate
      continue
    }
    if (line !== '') lines.push(line)
    let rest = [...word]
    while (rest.length > width) {
      lines.push(rest.slice(0, width).join(''))
      rest = rest.slice(width)
    }
    line = rest.join('')
  }
  return line === '' ? lines : [...lines, line]
}

interface Row {
  readonly term: string
  readonly description: string
}

/** Two columns, the second wrapped; under the first where the terminal is too narrow or the term too long. */
const table = (rows: readonly Row[], width: number): string[] => {
  const indent = '  '
  const termWidth = Math.min(Math.max(...rows.map((r) => length(r.term))), MAX_OPTION_WIDTH)
  const beside = width - indent.length - termWidth - 2 >= MIN_DESCRIPTION_WIDTH
  const column = beside ? indent.length + termWidth + 2 : indent.length + 6
  return rows.flatMap((row) => {
    const description = wrap(row.description, width - column).map((line) => `${' '.repeat(column)}${line}`)
    if (!beside || length(row.term) > termWidth) return [`${indent}${row.term}`, ...description]
    const [first = '', ...more] = description
    return [`${indent}${row.term.padEnd(termWidth)}${first.slice(indent.length + termWidth)}`, ...more]
  })
}

const valueOf = (o: OptionInfo): string =>
  o.choices !== undefined && length(o.choices.join('|')) <= SHORT_CHOICES ? o.choices.join('|') : o.placeholder ?? ''

const optionRow = (o: OptionInfo): Row => {
  const value = valueOf(o)
  const choices = o.choices !== undefined && value !== o.choices.join('|') ? `; one of ${o.choices.join(', ')}` : ''
  const fallback = o.default._tag === 'Some' && o.default.value !== '' ? ` (default ${String(o.default.value)})` : ''
  return { term: `${o.alias === undefined ? '' : `${o.alias}, `}${o.flag}${value === '' ? '' : ` ${value}`}`, description: `${o.help}${choices}${fallback}` }
}

/** Help's page layout: width and headings. */
const page = (terminal: Terminal) => {
  const width = Math.min(terminal.columns, MAX_WIDTH)
  const heading = (text: string) => (terminal.stdoutColor ? `\x1b[1m${text}\x1b[0m` : text)
  const paragraph = (text: string) => wrap(text, width)
  const section = (title: string, lines: readonly string[]) => ['', heading(title), ...lines]
  return { width, heading, paragraph, section }
}

const GLOBAL_TITLE = 'Global options (before or after the command):'

/** The help of one command. */
export const commandHelp = (cmd: Command, globals: Command['options'], terminal: Terminal): string => {
  const { width, heading, paragraph, section } = page(terminal)
  const options = optionsOf(cmd.options)
  const required = options.filter((o) => o.required).map((o) => `${o.flag} ${valueOf(o)}`)
  return [
    ...paragraph(`wavenet ${cmd.name}: ${cmd.summary}`),
    '',
    ...paragraph(`${heading('Usage:')} ${['wavenet', cmd.name, ...required, '[options]'].join(' ')}`),
    ...section('Options:', table(options.map(optionRow), width)),
    ...section(GLOBAL_TITLE, table(optionsOf(globals).map(optionRow), width)),
    ...section('Examples:', cmd.examples.flatMap((example) => wrap(example, width - 6).map((line, i) => `${i === 0 ? '  ' : '      '}${line}`))),
  ].join('\n')
}

/** The help of `wavenet` itself: its commands and global options. */
export const rootHelp = (summary: string, commands: readonly Command[], globals: Command['options'], terminal: Terminal): string => {
  const { width, heading, paragraph, section } = page(terminal)
  const { success, failure, usage, interrupted } = ExitCode
  return [
    ...paragraph(`wavenet: ${summary}`),
    '',
    ...paragraph(`${heading('Usage:')} wavenet <command> [options]`),
    ...section('Commands:', table(commands.map((c) => ({ term: c.name, description: c.summary })), width)),
    ...section(GLOBAL_TITLE, table(optionsOf(globals).map(optionRow), width)),
    '',
    ...paragraph(`Exit codes: ${success} success, ${failure} failure, ${usage} bad command line, ${interrupted} interrupted (Ctrl-C, SIGTERM).`),
    ...paragraph("'wavenet <command> --help' lists a command's options and examples."),
  ].join('\n')
}
