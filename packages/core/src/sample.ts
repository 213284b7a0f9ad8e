/**
 * Generation: words drawn character by character from the model in eval
 * mode, with temperature, top-k, an optional prefix and a maximum length.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { BOUNDARY, encode, type UnknownCharacter, type Vocabulary } from './data.js'
import type { Kernels } from './kernels/kernels.js'
import { cachedGenerator, type Generator, naiveGenerator } from './generate.js'
import { type Model, receptiveField } from './model.js'
import { drawWith, type Draws, type Rng } from './random.js'

export interface SampleOptions {
  /** Logits are divided by it: below 1 sharpens, above 1 flattens. Default 1. */
  readonly temperature?: number
  /** Draw only among the k most likely characters. Default: all. */
  readonly topK?: number
  /** Every word starts with it. Default: none. */
  readonly prefix?: string
  /** Words stop at this many characters (prefix included) even if the boundary never comes. Default 64. */
  readonly maxLength?: number
  /**
   * Recompute the whole tree for every character instead of keeping the
   * nodes later characters reuse (`generate.ts`): the same words, slower.
   */
  readonly naive?: boolean
}

/**
 * The next-character distribution from one row of logits: softmax(logits / T)
 * restricted to the k largest logits (ties broken by lower index).
 */
export const nextDistribution = (logits: ArrayLike<number>, temperature: number, topK: number): Float64Array => {
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b)
  const kept = order.slice(0, Math.max(1, Math.min(topK, logits.length)))
  const max = logits[kept[0]!]!
  const probs = new Float64Array(logits.length)
  let sum = 0
  for (const i of kept) {
    probs[i] = Math.exp((logits[i]! - max) / temperature)
    sum += probs[i]!
  }
  for (const i of kept) probs[i]! /= sum
  return probs
}

const draw = (draws: Draws, probs: Float64Array): number => {
  const u = draws.float()
  let cumulative = 0
  let last = 0
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! === 0) continue
    cumulative += probs[i]!
    last = i
    if (u < cumulative) return i
  }
  return last
}

/**
 * `count` words from the model, generated side by side (each a row of the
 * generator); the same generator of random numbers gives the same words.
 * Fails only when the prefix has a character outside the vocabulary.
 */
export const sampleWords = (
  kernels: Kernels, model: Model, vocab: Vocabulary, rng: Rng, count: number, options: SampleOptions = {},
): E.Either<UnknownCharacter, [string[], Rng]> => {
  const maxLength = options.maxLength ?? 64
  // Rows in chunks sized to the receptive field, the same either way, so that deep models stay within memory.
  const chunk = Math.max(1, Math.floor(GENERATION_CHUNK_TOKENS / receptiveField(model)))
  return pipe(
    settingsOf(vocab, options),
    E.map(({ temperature, topK, prefix, make }) => drawWith(rng, (draws) => {
      const words: number[][] = []
      for (let first = 0; first < count; first += chunk) {
        const rows = Math.min(chunk, count - first)
        words.push(...kernels.scope(() => generate(make(kernels, model, rows), rows, prefix, maxLength, (logits) =>
          draw(draws, nextDistribution(logits, temperature, topK)))))
      }
      return words.map((ids) => ids.map((id) => vocab.symbols[id]!).join(''))
    })),
  )
}

/** The options both samplers share, checked: a bad temperature or top-k throws, a prefix outside the vocabulary is the error returned. */
const settingsOf = (vocab: Vocabulary, options: Omit<SampleOptions, 'maxLength'>) => {
  const temperature = options.temperature ?? 1
  const topK = options.topK ?? vocab.symbols.length
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`)
  if (!(Number.isInteger(topK) && topK >= 1)) throw new RangeError(`top-k must be a positive integer, got ${topK}`)
  const make = options.naive === true ? naiveGenerator : cachedGenerator
  return E.map((prefix: Int32Array) => ({ temperature, topK, prefix, make }))(encode(vocab, options.prefix ?? ''))
}

/** Characters `sampleText` gives `emit` at a time, at most. */
const TEXT_PIECE = 64

/**
 * A passage of running text from the model: the prefix, then `chars`
 * characters drawn one at a time. The passage is one document: the
 * boundary, which separates documents, is never drawn (the distribution is
 * renormalised over the characters). The characters drawn are given to `emit`
 * as they come, a few at a time (the prefix is not). Returns the generator
 * after the draws, or the first prefix character outside the vocabulary.
 */
export const sampleText = (
  kernels: Kernels, model: Model, vocab: Vocabulary, rng: Rng, chars: number, options: Omit<SampleOptions, 'maxLength'>, emit: (text: string) => void,
): E.Either<UnknownCharacter, Rng> =>
  pipe(
    settingsOf(vocab, options),
    E.map(({ temperature, topK, prefix, make }) => drawWith(rng, (draws) => kernels.scope(() => {
      const generator = make(kernels, model, 1)
      const row = [0]
      for (const id of prefix) generator.push(row, Int32Array.of(id))
      let pending = ''
      for (let i = 0; i < chars; i++) {
        const logits = generator.logits(row)
        // The passage is one document: never the boundary, which a model trained on documents each after a run of R
        // boundary tokens expects after boundary tokens nearly always (R − 1 times of R), and at a document's end.
        logits[BOUNDARY] = Number.NEGATIVE_INFINITY
        const id = draw(draws, nextDistribution(logits, temperature, topK))
        pending += vocab.symbols[id]!
        if (pending.length >= TEXT_PIECE) {
          emit(pending)
          pending = ''
        }
        generator.push(row, Int32Array.of(id))
      }
      if (pending !== '') emit(pending)
    }))[1]),
  )

/** Context tokens of the rows generated together, at most: rows = this / R (at least 1). */
const GENERATION_CHUNK_TOKENS = 1 << 16

/** `rows` words, token ids, each the prefix then characters drawn by `next` from its logits until the boundary or `maxLength`. */
const generate = (
  generator: Generator, rows: number, prefix: Int32Array, maxLength: number, next: (logits: Float32Array) => number,
): number[][] => {
  const words = Array.from({ length: rows }, () => [...prefix])
  const all = words.map((_, i) => i)
  for (const id of prefix) generator.push(all, new Int32Array(rows).fill(id))
  let active = all.filter((w) => words[w]!.length < maxLength)
  while (active.length > 0) {
    const logits = generator.logits(active)
    const classes = logits.length / active.length
    active = active.filter((w, row) => {
      const id = next(logits.subarray(row * classes, (row + 1) * classes))
      if (id === 0) return false
      words[w]!.push(id)
      return words[w]!.length < maxLength
    })
    if (active.length > 0) generator.push(active, Int32Array.from(active, (w) => words[w]![words[w]!.length - 1]!))
  }
  return words
}
