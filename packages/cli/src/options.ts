/**
 * Options as Schemas. A command's options are the fields of a Schema.Struct:
 * each field's refinements are the option's limits, and its annotations hold
 * its help, its default and how its value reads on the command line. The
 * parser, `--help` and validation all read that one struct, so adding an
 * option, with its default, limit and help, is one field.
 *
 * A field named `groupSize` is the flag `--group-size`; a one-letter field
 * `n` is `-n`.
 */
import { Effect, Either, Option, ParseResult, Schema, SchemaAST as AST } from 'effect'
import { UsageError } from './errors.js'

/** Annotation: how a value is written in help (`FILE`, `N`, `wavenet|mlp`). */
const PlaceholderId = Symbol.for('wavenet/cli/Placeholder')
/** Annotation: a one-letter alias (`-h` for `--help`). */
const AliasId = Symbol.for('wavenet/cli/Alias')
/** Annotation: the names a choice accepts. */
const ChoicesId = Symbol.for('wavenet/cli/Choices')

/** A whole number of at least `min` (at least 1), with the reason for a minimum above 1. */
export const wholeNumber = (min = 1, why?: string): Schema.Schema<number> => {
  const positive = Schema.Number.pipe(
    Schema.int({ message: () => 'must be a whole number' }),
    Schema.positive({ message: () => 'must be positive' }),
  )
  const bounded = min > 1
    ? positive.pipe(Schema.greaterThanOrEqualTo(min, { message: () => `must be at least ${min}${why === undefined ? '' : ` (${why})`}` }))
    : positive
  return bounded.annotations({ [PlaceholderId]: 'N' })
}

/** A whole number of at most 2^53 − 1: a seed. */
export const seedNumber = Schema.Number.pipe(
  Schema.int({ message: () => 'must be a whole number' }),
  Schema.between(0, Number.MAX_SAFE_INTEGER, { message: () => 'must be between 0 and 2^53 − 1' }),
).annotations({ [PlaceholderId]: 'N' })

const finite = Schema.Number.pipe(Schema.finite({ message: () => 'must be a finite number' }))

/** A finite number above 0. */
export const positiveNumber = finite.pipe(Schema.positive({ message: () => 'must be positive' })).annotations({ [PlaceholderId]: 'X' })

/** A finite number of at least 0. */
export const nonNegativeNumber = finite.pipe(Schema.nonNegative({ message: () => 'must not be negative' })).annotations({ [PlaceholderId]: 'X' })

/** A probability of dropping: from 0 up to, not including, 1. */
export const dropProbability = finite.pipe(
  Schema.greaterThanOrEqualTo(0, { message: () => 'must be at least 0 and below 1' }),
  Schema.lessThan(1, { message: () => 'must be at least 0 and below 1' }),
).annotations({ [PlaceholderId]: 'P' })

/** A number from 0 to 1. */
export const fraction = Schema.Number.pipe(Schema.between(0, 1, { message: () => 'must be between 0 and 1' })).annotations({ [PlaceholderId]: 'X' })

/** A file name. */
export const file = Schema.String.pipe(Schema.minLength(1, { message: () => 'needs a file name' })).annotations({ [PlaceholderId]: 'FILE' })

/** Any text. */
export const text = Schema.String.annotations({ [PlaceholderId]: 'TEXT' })

/** One of some names. */
export const choice = <const Names extends readonly [string, ...string[]]>(...names: Names) =>
  Schema.Literal(...names).annotations({
    [PlaceholderId]: 'NAME',
    [ChoicesId]: names,
    message: (issue) => ({ message: `must be one of ${names.join(', ')}, not ${JSON.stringify(issue.actual)}`, override: true }),
  })

/** An option that takes `value` when absent. */
export const withDefault = <A, I>(schema: Schema.Schema<A, I>, value: NoInfer<A>, help: string) =>
  Schema.optionalWith(schema.annotations({ description: help, default: value }), { exact: true, default: () => value })

/** An option that may be absent; `help` says what happens then. */
export const optional = <A, I>(schema: Schema.Schema<A, I>, help: string) =>
  Schema.optionalWith(schema.annotations({ description: help }), { exact: true })

/** An option that must be given. */
export const required = <A, I>(schema: Schema.Schema<A, I>, help: string) => schema.annotations({ description: help })

/** A switch: false unless given. */
export const flag = (help: string, alias?: string) =>
  withDefault(Schema.Boolean.annotations(alias === undefined ? {} : { [AliasId]: alias }), false, help)

/** What the parser and the help need to know of one option. */
export interface OptionInfo {
  /** The field's name. */
  readonly key: string
  /** `--group-size`, or `-n` for a one-letter field. */
  readonly flag: string
  /** `-h` for `--help`. */
  readonly alias: string | undefined
  /** How the value is written; `undefined` for a switch. */
  readonly placeholder: string | undefined
  /** The names a choice accepts. */
  readonly choices: readonly string[] | undefined
  readonly help: string
  /** The default, when there is one (a switch's, false, is not shown). */
  readonly default: Option.Option<unknown>
  readonly required: boolean
  /** Whether the command-line text is read as a number. */
  readonly numeric: boolean
}

/** The flag of a field name: `groupSize` is `--group-size`, `n` is `-n`. */
const flagOf = (key: string): string =>
  key.length === 1 ? `-${key}` : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/** The type under a value's refinements: what its command-line text is read as. */
const base = (ast: AST.AST): AST.AST => (AST.isRefinement(ast) ? base(ast.from) : ast)

/** Every option of a struct, in the order the struct lists them. */
export const optionsOf = (fields: Schema.Struct.Fields): readonly OptionInfo[] => {
  const ast = Schema.Struct(fields).ast
  const literal = AST.isTransformation(ast) ? ast.from : ast
  if (!AST.isTypeLiteral(literal)) throw new TypeError('options must be a struct of fields')
  return literal.propertySignatures.map((p) => {
    const key = String(p.name)
    const isSwitch = AST.isBooleanKeyword(base(p.type))
    return {
      key,
      flag: flagOf(key),
      alias: Option.getOrUndefined(AST.getAnnotation<string>(AliasId)(p.type)),
      placeholder: isSwitch ? undefined : Option.getOrElse(AST.getAnnotation<string>(PlaceholderId)(p.type), () => 'VALUE'),
      choices: Option.getOrUndefined(AST.getAnnotation<readonly string[]>(ChoicesId)(p.type)),
      help: Option.getOrElse(AST.getDescriptionAnnotation(p.type), () => ''),
      default: isSwitch ? Option.none() : AST.getDefaultAnnotation(p.type),
      required: !p.isOptional,
      numeric: AST.isNumberKeyword(base(p.type)),
    }
  })
}

/** Options as decoded: every value, defaults filled in, and the subset the caller gave. */
export interface Decoded<A> {
  readonly value: A
  readonly given: Partial<A>
}

/**
 * Decodes options, refusing the first one out of its limits with a usage
 * error that names its flag ("--steps must be positive"). Fields absent from
 * `input` take their defaults in `value` and are left out of `given`.
 */
export const decodeOptions = <A, I>(schema: Schema.Schema<A, I>, input: I): Effect.Effect<Decoded<A>, UsageError> => {
  const decoded = Schema.decodeUnknownEither(schema, { errors: 'first' })(input)
  if (Either.isRight(decoded)) {
    const [raw, value] = [input as Readonly<Record<string, unknown>>, decoded.right as Readonly<Record<string, unknown>>]
    const given = Object.fromEntries(Object.keys(raw).filter((key) => raw[key] !== undefined && key in value).map((key) => [key, value[key]]))
    return Effect.succeed({ value: decoded.right, given: given as Partial<A> })
  }
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
  const key = issue?.path[0]
  const message = issue === undefined ? 'invalid options'
    : key === undefined ? issue.message
    : `${flagOf(String(key))} ${issue._tag === 'Missing' ? 'is required' : issue.message}`
  return Effect.fail(new UsageError({ message }))
}
