/**
 * The `wavenet` command: train, sample, eval and inspect. @effect/cli parses
 * each command's flags, as described by the command's option struct; this
 * module takes out the global options first (`--log-level`, `--log-format`,
 * `--help`, `--version`, accepted before or after the command), renders help,
 * and turns whatever @effect/cli leaves unparsed into a one-line error with
 * the nearest option. Stdout carries only each command's output; logs and
 * progress go to stderr; every failure is one line on stderr.
 */
import { createRequire } from 'node:module'
import { BuiltInOptions, CliConfig, CommandDescriptor as Descriptor, HelpDoc, Options, ValidationError } from '@effect/cli'
import { Cause, Console, Effect, Exit, Logger, Option, Schema } from 'effect'
import type { Terminal as PlatformTerminal } from '@effect/platform'
import { type Command, type CommandServices } from './command.js'
import { evalCommand } from './commands/eval.js'
import { inspectCommand } from './commands/inspect.js'
import { sampleCommand } from './commands/sample.js'
import { trainCommand } from './commands/train.js'
import { type CliError, ExitCode, exitCodeOf, oneLine, UsageError } from './errors.js'
import { commandHelp, rootHelp } from './help.js'
import { logFormats, logger, logLevelNames, logLevels } from './logging.js'
import { choice, decodeOptions, flag, type OptionInfo, optionsOf, withDefault } from './options.js'
import { currentTerminal } from './terminal.js'

const SUMMARY = 'hierarchical (WaveNet-style) character-level language models'
const { version: VERSION } = createRequire(import.meta.url)('../package.json') as { version: string }

/** What the command line runs on: the commands' services, and the terminal @effect/cli's parser asks for. */
export type CliServices = CommandServices | PlatformTerminal.Terminal

const commands: readonly Command[] = [trainCommand, sampleCommand, evalCommand, inspectCommand]

/** Options of every command, taken out of the command line wherever they are. */
const globalOptions = {
  logLevel: withDefault(choice(...logLevelNames), 'info', 'least severe log messages shown on stderr'),
  logFormat: withDefault(choice(...logFormats), 'auto', 'log lines for people (pretty), logfmt or JSON lines; auto is pretty on a terminal, logfmt elsewhere'),
  help: flag('show this help', '-h'),
  version: flag('print the version'),
}

/** Edits from one string to another (Levenshtein distance). */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = row
  }
  return previous[b.length]!
}

/** ", did you mean X?" for the nearest of `candidates` within two edits or a third of the word, else nothing. */
const suggestion = (word: string, candidates: readonly string[]): string => {
  const [nearest] = candidates.map((c) => ({ c, d: distance(word, c) })).sort((x, y) => x.d - y.d)
  return nearest !== undefined && nearest.d <= Math.max(2, Math.floor(word.length / 3)) ? `; did you mean ${nearest.c}?` : ''
}

/** The global options' text, and the command line without them. */
const takeGlobals = (args: readonly string[]): Effect.Effect<{ readonly input: Record<string, unknown>; readonly rest: string[] }, UsageError> => {
  const options = optionsOf(globalOptions)
  const input: Record<string, unknown> = {}
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') {
      rest.push(...args.slice(i))
      break
    }
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const option = options.find((o) => o.flag === name || o.alias === name)
    if (option === undefined) rest.push(arg)
    else if (option.placeholder === undefined) input[option.key] = true
    else {
      const value = inline ?? args[++i]
      if (value === undefined) return Effect.fail(new UsageError({ message: `${option.flag} needs a value` }))
      input[option.key] = value
    }
  }
  return Effect.succeed({ input, rest })
}

/** A command's options as @effect/cli parses them: every one optional, as text, so that their decoding and errors are ours. */
const descriptorOf = (cmd: Command) =>
  Descriptor.make(cmd.name, Options.all(Object.fromEntries(optionsOf(cmd.options).map((o) => {
    const name = o.flag.replace(/^-+/, '')
    return [o.key, o.placeholder === undefined ? Options.boolean(name) : Options.optional(Options.text(name))]
  }))))

const [first, ...others] = commands.map((c) => [c.name, descriptorOf(c)] as const)
const root = Descriptor.make('wavenet').pipe(Descriptor.withSubcommands([first!, ...others]))
const parserConfig = CliConfig.make({ isCaseSensitive: true })

/** What @effect/cli returns for a command's options: text, or true for a switch. */
type Parsed = Readonly<Record<string, Option.Option<string> | boolean>>

/** Parsed text as the option struct's input: numbers where the option is a number. */
const inputOf = (options: readonly OptionInfo[], parsed: Parsed): Record<string, unknown> =>
  Object.fromEntries(options.flatMap((o): [string, unknown][] => {
    const raw = parsed[o.key]
    if (raw === undefined || raw === false) return []
    if (raw === true) return [[o.key, true]]
    if (Option.isNone(raw)) return []
    // Number('') is 0: blank text is no number.
    return [[o.key, o.numeric ? (raw.value.trim() === '' ? Number.NaN : Number(raw.value)) : raw.value]]
  }))

/** The error for the first argument @effect/cli could not place. */
const leftoverError = (cmd: Command, options: readonly OptionInfo[], [arg, next]: readonly string[]): UsageError => {
  const name = arg!.split('=')[0]!
  const known = options.find((o) => o.flag === name)
  if (known !== undefined) {
    const message = known.placeholder !== undefined && next === undefined && !arg!.includes('=') ? `${name} needs a value` : `${name} is given more than once`
    return new UsageError({ message })
  }
  if (!name.startsWith('-')) return new UsageError({ message: `unexpected argument ${JSON.stringify(arg)}: wavenet ${cmd.name} takes options only` })
  const flags = [...options, ...optionsOf(globalOptions)].map((o) => o.flag)
  return new UsageError({ message: `unknown option ${name} for wavenet ${cmd.name}${suggestion(name, flags)}` })
}

/** @effect/cli's report of a bad command line, as one plain line. */
const validationMessage = (e: ValidationError.ValidationError): string =>
  // eslint-disable-next-line no-control-regex
  'error' in e ? oneLine(HelpDoc.toAnsiText(e.error).replace(/\x1b\[[0-9;]*m/g, '')) : 'invalid command line'

/** Shell completions, the one built-in option of @effect/cli kept. */
const completions = (shell: BuiltInOptions.BuiltInOptions.ShellType) =>
  (shell === 'fish' ? Descriptor.getFishCompletions(root, 'wavenet') : shell === 'zsh' ? Descriptor.getZshCompletions(root, 'wavenet') : Descriptor.getBashCompletions(root, 'wavenet'))
    .pipe(Effect.flatMap((lines) => Console.log(lines.join('\n'))))

/** Parses a command line without its global options and runs the command it names. */
const dispatch = (args: readonly string[]): Effect.Effect<void, CliError, CliServices> =>
  Effect.gen(function* () {
    const [name] = args
    if (name === undefined) {
      return yield* Effect.fail(new UsageError({ message: `a command is needed: ${commands.map((c) => c.name).join(', ')} (wavenet --help explains them)` }))
    }
    if (!name.startsWith('-') && !commands.some((c) => c.name === name)) {
      return yield* Effect.fail(new UsageError({ message: `unknown command ${JSON.stringify(name)}${suggestion(name, commands.map((c) => c.name))}` }))
    }
    const directive = yield* Descriptor.parse(root, ['wavenet', ...args], parserConfig).pipe(
      Effect.mapError((e) => new UsageError({ message: validationMessage(e) })),
    )
    // --help, --version and --log-level never reach here: they are global options, taken out first.
    if (directive._tag === 'BuiltIn') {
      return yield* BuiltInOptions.isShowCompletions(directive.option)
        ? completions(directive.option.shellType)
        : Effect.fail(new UsageError({ message: "@effect/cli's wizard is not supported: wavenet --help lists the commands" }))
    }
    const subcommand = Option.getOrUndefined(directive.value.subcommand)
    const cmd = commands.find((c) => c.name === subcommand?.[0])
    if (subcommand === undefined || cmd === undefined) {
      return yield* Effect.fail(new UsageError({ message: `expected a command before ${args[0]}: ${commands.map((c) => c.name).join(', ')}` }))
    }
    const options = optionsOf(cmd.options)
    if (directive.leftover.length > 0) return yield* Effect.fail(leftoverError(cmd, options, directive.leftover))
    yield* cmd.run(inputOf(options, (subcommand[1] as { readonly options: Parsed }).options))
  })

/**
 * The whole program for some arguments (as in `process.argv`): every failure
 * is reported as one line on stderr and returned for its exit code.
 */
export const run = (argv: readonly string[]): Effect.Effect<void, CliError, CliServices> =>
  Effect.gen(function* () {
    const terminal = yield* currentTerminal
    const { input, rest } = yield* takeGlobals(argv.slice(2))
    const { value: globals } = yield* decodeOptions(Schema.Struct(globalOptions), input)
    if (globals.help) {
      const named = rest.find((arg) => commands.some((c) => c.name === arg))
      const cmd = commands.find((c) => c.name === named)
      return yield* Console.log(cmd === undefined ? rootHelp(SUMMARY, commands, globalOptions, terminal) : commandHelp(cmd, globalOptions, terminal))
    }
    if (globals.version) return yield* Console.log(VERSION)
    yield* dispatch(rest).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger(globals.logFormat, terminal))),
      Logger.withMinimumLogLevel(logLevels[globals.logLevel]),
    )
  }).pipe(
    Effect.tapError((e) => Console.error(`wavenet: ${e.message}`)),
    // A bug, not bad input: still one line, and still a failure.
    Effect.tapDefect((cause) => {
      const defect = Cause.squash(cause)
      return Console.error(`wavenet: internal error: ${oneLine(defect instanceof Error ? defect.message : String(defect))}`)
    }),
  )

/** The exit code of a run: 0, 1 for a failure, 2 for a bad command line, 130 when interrupted. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.success
  if (Cause.isInterruptedOnly(exit.cause)) return ExitCode.interrupted
  return Option.match(Cause.failureOption(exit.cause), { onNone: () => ExitCode.failure, onSome: exitCodeOf })
}
