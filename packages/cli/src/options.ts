/**
 * Command-line options, validated at the boundary with Schema: a value out of
 * range is a one-line error naming the option, before any work starts.
 */
import { Options } from '@effect/cli'
import { Schema } from 'effect'
import { backendNames } from './backend.js'

const positiveInt = (flag: string) =>
  Schema.Number.pipe(Schema.int({ message: () => `--${flag} must be a whole number` }), Schema.positive({ message: () => `--${flag} must be positive` }))

const positive = (flag: string) => Schema.Number.pipe(Schema.finite({ message: () => `--${flag} must be a finite number` }), Schema.positive({ message: () => `--${flag} must be positive` }))

const nonNegative = (flag: string) =>
  Schema.Number.pipe(Schema.finite({ message: () => `--${flag} must be a finite number` }), Schema.nonNegative({ message: () => `--${flag} must not be negative` }))

const fraction = (flag: string) =>
  Schema.Number.pipe(Schema.between(0, 1, { message: () => `--${flag} must be between 0 and 1` }))

/** A positive whole-number option. */
export const count = (flag: string, description: string) =>
  Options.integer(flag).pipe(Options.withSchema(positiveInt(flag)), Options.withDescription(description))

/** A positive number option. */
export const positiveNumber = (flag: string, description: string) =>
  Options.float(flag).pipe(Options.withSchema(positive(flag)), Options.withDescription(description))

export const nonNegativeNumber = (flag: string, description: string) =>
  Options.float(flag).pipe(Options.withSchema(nonNegative(flag)), Options.withDescription(description))

export const fractionNumber = (flag: string, description: string) =>
  Options.float(flag).pipe(Options.withSchema(fraction(flag)), Options.withDescription(description))

export const seed = (description: string) =>
  Options.integer('seed').pipe(
    Options.withSchema(Schema.Number.pipe(Schema.int({ message: () => '--seed must be a whole number' }), Schema.between(0, Number.MAX_SAFE_INTEGER, { message: () => '--seed must be between 0 and 2^53 − 1' }))),
    Options.withDescription(description),
  )

export const file = (flag: string, description: string) =>
  Options.text(flag).pipe(
    Options.withSchema(Schema.String.pipe(Schema.minLength(1, { message: () => `--${flag} needs a file name` }))),
    Options.withPseudoName('FILE'),
    Options.withDescription(description),
  )

export const json = Options.boolean('json').pipe(Options.withDescription('print one JSON object as the last line of stdout'))

export const backend = Options.choice('backend', backendNames).pipe(
  Options.withDefault('wasm' as const),
  Options.withDescription('compute backend: wasm (WebAssembly SIMD, fast CPU; the default), js (reference kernels), gpu or gpu:<webgpu|headlessgl|webasm|cpu> (gpu.js)'),
)

export const logLevels = ['debug', 'info', 'warning', 'error', 'none'] as const
export type LogLevelName = (typeof logLevels)[number]

export const logLevel = Options.choice('log-level', logLevels).pipe(
  Options.withDefault('info' as const),
  Options.withDescription('least severe log messages shown on stderr (default info)'),
)
