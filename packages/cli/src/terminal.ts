/**
 * The terminal: how wide stdout is, where colour is allowed, and the live
 * status line on stderr. Every line written to stdout or stderr goes through
 * the Console this module builds, which lifts the status line out of the way
 * first (clear it, write the line, redraw it), so a log line and the progress
 * line never share a line.
 */
import { Console, Context, Effect, Option } from 'effect'

export interface Terminal {
  /** Width for text on stdout: `$COLUMNS`, else the terminal's, else 80. */
  readonly columns: number
  /** Whether stdout may carry colour: a terminal, and `NO_COLOR` unset. */
  readonly stdoutColor: boolean
  /** Whether stderr is a terminal: progress is then one live line, logs are for people. */
  readonly interactive: boolean
  /** Whether stderr may carry colour. */
  readonly stderrColor: boolean
  /** Shows `text` as the live line on stderr, redrawn at most `REDRAWS_PER_SECOND` times a second. */
  status(text: string): Effect.Effect<void>
  /** Leaves the live line's last text on the screen and ends the line. */
  readonly endStatus: Effect.Effect<void>
}

export class TerminalService extends Context.Tag('wavenet/Terminal')<TerminalService, Terminal>() {}

/**
 * Redraws of the status line per second, at most: enough to see it move,
 * below the 10 a second past which redrawing is flicker that costs time.
 */
export const REDRAWS_PER_SECOND = 8

type Env = Readonly<Record<string, string | undefined>>

interface Stream {
  readonly isTTY?: boolean
  readonly columns?: number
}

/** Colour where it is allowed: on a terminal, unless `NO_COLOR` (https://no-color.org) is set or the terminal is dumb. */
const colorAllowed = (stream: Stream, env: Env): boolean =>
  stream.isTTY === true && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb'

/** `$COLUMNS` when set (as Python's argparse reads it), else the terminal's width, else 80. */
const columnsOf = (stream: Stream, env: Env): number => {
  const fromEnv = Number(env['COLUMNS'])
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv
  return stream.isTTY === true && stream.columns !== undefined && stream.columns > 0 ? stream.columns : 80
}

/** A terminal that is none: 80 columns, no colour, no live line. */
export const plainTerminal: Terminal = {
  columns: 80, stdoutColor: false, interactive: false, stderrColor: false, status: () => Effect.void, endStatus: Effect.void,
}

/** The terminal a program runs on, or `plainTerminal` where none is provided (a program using the library). */
export const currentTerminal: Effect.Effect<Terminal> = Effect.map(Effect.serviceOption(TerminalService), Option.getOrElse(() => plainTerminal))

const CLEAR_LINE = '\r\x1b[2K'

/** This process's terminal, and a Console that writes around its live line. */
const nodeTerminal = (console: Console.Console, env: Env): { readonly terminal: Terminal; readonly console: Console.Console } => {
  const stderr = process.stderr
  const interactive = stderr.isTTY === true
  /** The live line's latest text, and the text on the screen (undefined when it is not). */
  let text: string | undefined
  let shown: string | undefined
  let lastDraw = Number.NEGATIVE_INFINITY
  const mayDraw = () => performance.now() - lastDraw >= 1000 / REDRAWS_PER_SECOND
  const draw = (line: string) => {
    // One column short of the width: a line that wraps cannot be cleared with a carriage return.
    stderr.write(`${CLEAR_LINE}${[...line].slice(0, columnsOf(stderr, env) - 1).join('')}`)
    shown = line
    lastDraw = performance.now()
  }
  /** Writes a whole line with the live line lifted out of its way. */
  const around = (write: () => void) => {
    if (shown !== undefined) stderr.write(CLEAR_LINE)
    shown = undefined
    write()
    if (text !== undefined && mayDraw()) draw(text)
  }
  const terminal: Terminal = {
    columns: columnsOf(process.stdout, env),
    stdoutColor: colorAllowed(process.stdout, env),
    interactive,
    stderrColor: colorAllowed(stderr, env),
    status: (line) => Effect.sync(() => {
      if (!interactive) return
      text = line
      if (mayDraw()) draw(line)
    }),
    endStatus: Effect.sync(() => {
      if (text !== undefined) {
        if (shown !== text) draw(text)
        stderr.write('\n')
      }
      text = undefined
      shown = undefined
    }),
  }
  const log = (...args: ReadonlyArray<unknown>) => around(() => console.unsafe.log(...args))
  const error = (...args: ReadonlyArray<unknown>) => around(() => console.unsafe.error(...args))
  return {
    terminal,
    console: {
      ...console,
      log: (...args) => Effect.sync(() => log(...args)),
      error: (...args) => Effect.sync(() => error(...args)),
      unsafe: { ...console.unsafe, log, error },
    },
  }
}

/** Runs a program on this process's terminal: its Console and its live line. */
export const withNodeTerminal = <A, E, R>(effect: Effect.Effect<A, E, R>, env: Env = process.env): Effect.Effect<A, E, Exclude<R, TerminalService>> =>
  Console.consoleWith((console) => {
    const node = nodeTerminal(console, env)
    return effect.pipe(Effect.provideService(TerminalService, node.terminal), Console.withConsole(node.console))
  })
