/**
 * Evaluation and sampling in pieces of bounded work, with a turn of Node's
 * event loop between pieces: a model of any size is evaluated or sampled
 * while Ctrl-C and SIGTERM are still seen within a fraction of a second.
 * How a piece is cut depends on the model and the options alone, never on
 * time, so the same model, data and seed give the same numbers and words.
 */
import {
  evaluateWords, type Kernels, type Model, parameterCount, receptiveField, type Rng, sampleText, sampleWords, type SampleOptions, type UnknownCharacter,
  type Vocabulary, type WindowBatch, windowsLoss,
} from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { eventLoopTurn } from './event-loop.js'

/**
 * Work of one piece, in parameter-outputs (every parameter used once for
 * one output, or one character of one word): about 0.05 s on the wasm
 * kernels, 0.5 s on the reference kernels.
 */
const PIECE_WORK = 1e9

/** Outputs of one evaluation piece, at most: core's default chunk, whose nodes stay in the caches. */
const MAX_EVALUATION_PIECE = 2048

/** Words of one sampling piece, at most. */
const MAX_SAMPLING_PIECE = 1024

const clamp = (n: number, most: number): number => Math.max(1, Math.min(most, Math.floor(n)))

/** Outputs an evaluation piece holds for this model. */
export const evaluationPiece = (model: Model): number => clamp(PIECE_WORK / parameterCount(model), MAX_EVALUATION_PIECE)

/** Words a sampling piece holds for this model: each may take `maxLength` characters, each of which the naive generator computes the whole tree for. */
export const samplingPiece = (model: Model, maxLength: number, naive: boolean): number =>
  clamp(PIECE_WORK / (parameterCount(model) * maxLength * (naive ? receptiveField(model) : 1)), MAX_SAMPLING_PIECE)

/**
 * `evaluateWords` (mean cross-entropy over every output of every word, in
 * eval mode) a piece of whole words at a time: the same grouping as core's
 * chunks of `evaluationPiece(model)` outputs.
 */
export const evaluateInPieces = (kernels: Kernels, model: Model, words: readonly Int32Array[]): Effect.Effect<number> =>
  Effect.gen(function* () {
    const chunk = evaluationPiece(model)
    let total = 0
    let outputs = 0
    for (let first = 0; first < words.length;) {
      let last = first
      let count = 0
      while (last < words.length && (last === first || count + words[last]!.length + 1 <= chunk)) count += words[last++]!.length + 1
      total += evaluateWords(kernels, model, words.slice(first, last), { chunk }) * count
      outputs += count
      first = last
      yield* eventLoopTurn
    }
    return outputs === 0 ? Number.NaN : total / outputs
  })

/**
 * Mean cross-entropy (nats) over every target of some windows of running
 * text (`evaluateText`'s windows, or a sample of them), a window at a time.
 */
export const evaluateWindowsInPieces = (kernels: Kernels, model: Model, windows: Iterable<WindowBatch>): Effect.Effect<number> =>
  Effect.gen(function* () {
    let total = 0
    let count = 0
    for (const window of windows) {
      const loss = windowsLoss(kernels, model, window)
      total += loss.total
      count += loss.count
      yield* eventLoopTurn
    }
    return count === 0 ? Number.NaN : total / count
  })

/**
 * `count` words sampled a piece at a time (`samplingPiece` words side by
 * side), each piece given to `each` as it comes; the generator after the
 * last. Fails only with a prefix character outside the vocabulary.
 */
export const sampleInPieces = <E, R>(
  kernels: Kernels, model: Model, vocab: Vocabulary, rng: Rng, count: number, options: SampleOptions,
  each: (words: readonly string[]) => Effect.Effect<void, E, R>,
): Effect.Effect<Rng, UnknownCharacter | E, R> =>
  Effect.gen(function* () {
    const piece = samplingPiece(model, options.maxLength ?? 64, options.naive ?? false)
    let current = rng
    for (let done = 0; done < count; done += piece) {
      const sampled = sampleWords(kernels, model, vocab, current, Math.min(piece, count - done), options)
      if (E.isLeft(sampled)) return yield* Effect.fail(sampled.left)
      const [words, next] = sampled.right
      current = next
      yield* each(words)
      yield* eventLoopTurn
    }
    return current
  })

/** Characters of running text in one sampling piece, at most. */
const MAX_TEXT_PIECE = 2048

/**
 * Characters a piece of running text holds for this model: at least its
 * receptive field, since each piece after the first starts by pushing the
 * last R characters through the generator again.
 */
export const textPiece = (model: Model, naive: boolean): number =>
  Math.max(receptiveField(model), clamp(PIECE_WORK / (parameterCount(model) * (naive ? receptiveField(model) : 1)), MAX_TEXT_PIECE))

/**
 * `sampleText` a piece at a time, each piece given to `each` as it comes;
 * the generator after the last. Each piece continues from the last R
 * characters before it (the prefix and what was drawn), which is all the
 * next character sees, so the passage is the one a single `sampleText`
 * draws. Fails only with a prefix character outside the vocabulary.
 */
export const sampleTextInPieces = <E, R>(
  kernels: Kernels, model: Model, vocab: Vocabulary, rng: Rng, chars: number, options: Omit<SampleOptions, 'maxLength'>,
  each: (text: string) => Effect.Effect<void, E, R>,
): Effect.Effect<Rng, UnknownCharacter | E, R> =>
  Effect.gen(function* () {
    const field = receptiveField(model)
    const piece = textPiece(model, options.naive ?? false)
    let context = [...(options.prefix ?? '')]
    let current = rng
    for (let left = chars; left > 0;) {
      const drawn: string[] = []
      const count = Math.min(piece, left)
      const sampled = sampleText(kernels, model, vocab, current, count, { ...options, prefix: context.slice(-field).join('') }, (text) => { drawn.push(text) })
      if (E.isLeft(sampled)) return yield* Effect.fail(sampled.left)
      current = sampled.right
      const text = [...drawn.join('')]
      yield* each(text.join(''))
      left -= count
      context = [...context, ...text].slice(-field)
      yield* eventLoopTurn
    }
    return current
  })
