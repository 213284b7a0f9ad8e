/**
 * Log lines on stderr, in one of three formats: readable lines on a terminal
 * (time, level, message, fields; colour where allowed), logfmt elsewhere, or
 * JSON lines. None carries a fiber id: it means nothing to a user.
 */
import { HashMap, Logger, LogLevel } from 'effect'
import type { Terminal } from './terminal.js'

export const logLevelNames = ['debug', 'info', 'warning', 'error', 'none'] as const
export type LogLevelName = (typeof logLevelNames)[number]

/** `auto` is `pretty` on a terminal and `logfmt` elsewhere. */
export const logFormats = ['auto', 'pretty', 'logfmt', 'json'] as const
export type LogFormat = (typeof logFormats)[number]

/** Effect's level for each `--log-level`. */
export const logLevels: Record<LogLevelName, LogLevel.LogLevel> = {
  debug: LogLevel.Debug, info: LogLevel.Info, warning: LogLevel.Warning, error: LogLevel.Error, none: LogLevel.None,
}

interface Entry {
  readonly time: Date
  readonly level: string
  readonly message: string
  readonly fields: ReadonlyArray<readonly [string, unknown]>
}

const entryOf = (options: Logger.Logger.Options<unknown>): Entry => ({
  time: options.date,
  level: options.logLevel.label,
  message: (Array.isArray(options.message) ? options.message : [options.message]).map(String).join(' '),
  fields: [...HashMap.toEntries(options.annotations)],
})

/** A logfmt value: bare when it can be, else quoted as JSON quotes strings. */
const logfmtValue = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return /^[^\s="\\]+$/.test(text) ? text : JSON.stringify(text)
}

const logfmt = (e: Entry): string =>
  [['timestamp', e.time.toISOString()], ['level', e.level], ['message', e.message], ...e.fields]
    .map(([key, value]) => `${key}=${logfmtValue(value)}`).join(' ')

const json = (e: Entry): string =>
  JSON.stringify({ timestamp: e.time.toISOString(), level: e.level, message: e.message, ...Object.fromEntries(e.fields) })

const SGR = { dim: '\x1b[2m', reset: '\x1b[0m', DEBUG: '\x1b[90m', INFO: '\x1b[32m', WARN: '\x1b[33m', ERROR: '\x1b[31m' } as const

const pretty = (color: boolean) => (e: Entry): string => {
  const paint = (code: string | undefined, text: string) => (color && code !== undefined ? `${code}${text}${SGR.reset}` : text)
  const time = e.time.toTimeString().slice(0, 8)
  const fields = e.fields.map(([key, value]) => `${key}=${logfmtValue(value)}`).join(' ')
  const level = paint((SGR as Record<string, string>)[e.level], e.level.padEnd(5))
  return `${paint(SGR.dim, time)} ${level} ${e.message}${fields === '' ? '' : ` ${paint(SGR.dim, fields)}`}`
}

/** The logger for a format, writing through the Console's error stream (stderr). */
export const logger = (format: LogFormat, terminal: Terminal): Logger.Logger<unknown, void> => {
  const render = format === 'json' ? json
    : format === 'logfmt' || (format === 'auto' && !terminal.interactive) ? logfmt
    : pretty(terminal.stderrColor)
  return Logger.withConsoleError(Logger.make((options) => render(entryOf(options))))
}
