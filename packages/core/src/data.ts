/**
 * Data: words from text, a vocabulary of Unicode code points, encoding, the
 * lecture's (context, next character) examples, a seeded shuffle and split,
 * and minibatches.
 *
 * Index 0 is the word boundary. It is no character of the data (so data may
 * contain `.`), and is displayed as `.`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { drawWith, integers, type Rng } from './random.js'
import type { WindowBatch, WordBatch } from './sequence.js'
import { type IndexTensor, indices } from './tensor.js'

/** The symbols in index order; `symbols[0]` is the boundary, `''`. */
export interface Vocabulary {
  readonly symbols: readonly string[]
}

/** The boundary's token id. */
export const BOUNDARY = 0

/** How the boundary (index 0) is displayed. */
export const BOUNDARY_DISPLAY = '.'

/** The words of a text, one per line, with their 1-based line numbers. */
export interface Corpus {
  readonly words: readonly string[]
  readonly lines: readonly number[]
}

/**
 * Splits text into words, one per line. Accepts LF and CRLF; white space at
 * the end of a line is trimmed (it would become invisible characters of the
 * vocabulary, ending sampled words); lines that are empty or only white
 * space (leading and trailing blank lines included) are skipped.
 */
export const parseCorpus = (text: string): Corpus => {
  const words: string[] = []
  const lines: number[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const word = line.trimEnd()
    if (word === '') return
    words.push(word)
    lines.push(i + 1)
  })
  return { words, lines }
}

/** The vocabulary of some words: the boundary, then every code point in them, sorted by code point. */
export const buildVocabulary = (words: readonly string[]): Vocabulary => {
  const points = new Set<number>()
  for (const w of words) for (const ch of w) points.add(ch.codePointAt(0)!)
  return { symbols: ['', ...[...points].sort((a, b) => a - b).map((p) => String.fromCodePoint(p))] }
}

/** A vocabulary from saved symbols; `undefined` unless index 0 is `''` and the rest are distinct single code points. */
export const vocabularyFromSymbols = (symbols: readonly unknown[]): Vocabulary | undefined => {
  if (symbols[0] !== '') return undefined
  const rest = symbols.slice(1)
  if (!rest.every((s): s is string => typeof s === 'string' && [...s].length === 1)) return undefined
  if (new Set(rest).size !== rest.length) return undefined
  return { symbols: ['', ...rest] }
}

/** A character that is not in the vocabulary. */
export interface UnknownCharacter {
  readonly kind: 'unknown-character'
  readonly character: string
  /** Index of the word in the list given (0-based). */
  readonly word: number
  /** Position of the character in the word (0-based, in code points). */
  readonly position: number
}

const indexOf = (vocab: Vocabulary): ReadonlyMap<string, number> => new Map(vocab.symbols.map((s, i) => [s, i]))

/** The ids of a word's characters, or the first character outside the vocabulary. */
export const encode = (vocab: Vocabulary, word: string, wordIndex = 0): E.Either<UnknownCharacter, Int32Array> =>
  encodeWith(indexOf(vocab), word, wordIndex)

const encodeWith = (index: ReadonlyMap<string, number>, word: string, wordIndex: number): E.Either<UnknownCharacter, Int32Array> => {
  const chars = [...word]
  const ids = new Int32Array(chars.length)
  for (let i = 0; i < chars.length; i++) {
    const id = index.get(chars[i]!)
    if (id === undefined || id === 0) {
      return E.left({ kind: 'unknown-character', character: chars[i]!, word: wordIndex, position: i })
    }
    ids[i] = id
  }
  return E.right(ids)
}

/** The text of some ids; the boundary is shown as `.`. */
export const decode = (vocab: Vocabulary, ids: ArrayLike<number>): string =>
  Array.from(ids, (id) => (id === 0 ? BOUNDARY_DISPLAY : vocab.symbols[id] ?? '�')).join('')

/** (context, next character) pairs: `contexts` is (count, blockSize), `targets` is (count). */
export interface Examples {
  readonly contexts: Int32Array
  readonly targets: Int32Array
  readonly count: number
  readonly blockSize: number
}

/**
 * The examples of some words, exactly as the lecture builds them: the context
 * starts as `blockSize` boundaries; for each character of the word and then
 * the closing boundary, emit (context, character) and slide the character in.
 */
export const examples = (vocab: Vocabulary, words: readonly string[], blockSize: number): E.Either<UnknownCharacter, Examples> => {
  const index = indexOf(vocab)
  const encoded: Int32Array[] = []
  for (let w = 0; w < words.length; w++) {
    const ids = encodeWith(index, words[w]!, w)
    if (E.isLeft(ids)) return ids
    encoded.push(ids.right)
  }
  const count = encoded.reduce((n, ids) => n + ids.length + 1, 0)
  const contexts = new Int32Array(count * blockSize)
  const targets = new Int32Array(count)
  let row = 0
  for (const ids of encoded) {
    const context = new Int32Array(blockSize)
    for (let i = 0; i <= ids.length; i++) {
      const next = i < ids.length ? ids[i]! : 0
      contexts.set(context, row * blockSize)
      targets[row] = next
      context.copyWithin(0, 1)
      context[blockSize - 1] = next
      row++
    }
  }
  return E.right({ contexts, targets, count, blockSize })
}

/** A Fisher–Yates shuffle with the generator; the input is left untouched. */
export const shuffle = <A>(rng: Rng, items: readonly A[]): [A[], Rng] =>
  drawWith(rng, (draws) => {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = draws.below(i + 1)
      ;[out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  })

export interface Split<A> {
  readonly train: readonly A[]
  readonly val: readonly A[]
  readonly test: readonly A[]
}

/** Shuffles then splits 80/10/10 as the lecture: the first ⌊0.8n⌋, the next up to ⌊0.9n⌋, the rest. */
export const shuffleSplit = <A>(rng: Rng, items: readonly A[]): [Split<A>, Rng] => {
  const [shuffled, next] = shuffle(rng, items)
  const n1 = Math.floor(0.8 * shuffled.length)
  const n2 = Math.floor(0.9 * shuffled.length)
  return [{ train: shuffled.slice(0, n1), val: shuffled.slice(n1, n2), test: shuffled.slice(n2) }, next]
}

/**
 * Documents of running text split as the State of the Union anchor splits
 * its speeches: in the order given (file-name order), index % 10 = 8 to
 * test, index % 10 = 9 to validation, the rest to training. Fewer than 10
 * documents are split by position instead: the first 90% of each
 * document's characters to training, the rest to validation, none to test.
 */
export const splitDocuments = (documents: readonly string[]): Split<string> => {
  if (documents.length >= 10) {
    return {
      train: documents.filter((_, i) => i % 10 < 8),
      val: documents.filter((_, i) => i % 10 === 9),
      test: documents.filter((_, i) => i % 10 === 8),
    }
  }
  const parts = documents.map((document) => {
    const chars = [...document]
    const cut = Math.floor(0.9 * chars.length)
    return [chars.slice(0, cut).join(''), chars.slice(cut).join('')] as const
  })
  return { train: parts.map(([train]) => train), val: parts.map(([, val]) => val).filter((val) => val !== ''), test: [] }
}

export interface Batch {
  /** (B, blockSize) */
  readonly contexts: IndexTensor
  /** (B) */
  readonly targets: IndexTensor
  /** (1): the step's dropout seed, for a model with dropout layers (see `withStepSeed`). */
  readonly seed?: IndexTensor
}

/**
 * Whole words for a step of the sequence view: words drawn uniformly with
 * replacement while their outputs (n + 1 for a word of n characters) fit in
 * `budget`. A drawn word that does not fit is left for the next step (the
 * generator returned is the one before that draw), so the batches depend on
 * the generator alone.
 */
export const wordBatch = (rng: Rng, words: readonly Int32Array[], budget: number): [WordBatch, Rng] => {
  if (words.length === 0) throw new RangeError('no words to draw a batch from')
  const drawn: Int32Array[] = []
  let used = 0
  let current = rng
  for (;;) {
    const [[index], next] = integers(current, 1, words.length)
    const word = words[index!]!
    if (used + word.length + 1 > budget) {
      if (drawn.length > 0) return [{ words: drawn }, current]
      throw new RangeError(`a word of ${word.length} characters does not fit in a batch of ${budget} outputs`)
    }
    drawn.push(word)
    used += word.length + 1
    current = next
  }
}

/**
 * Documents of running text as one stream of tokens: each document preceded
 * by `field` boundary tokens (the model's receptive field), so a window
 * crosses from one document into the next only through them.
 */
export const textStream = (documents: readonly Int32Array[], field: number): Int32Array => {
  const stream = new Int32Array(documents.reduce((n, d) => n + field + d.length, 0))
  let at = 0
  for (const document of documents) {
    stream.fill(BOUNDARY, at, at + field)
    stream.set(document, at + field)
    at += field + document.length
  }
  return stream
}

/**
 * `count` windows of `field` − 1 + `window` consecutive tokens of a stream
 * (`textStream`), each with the `window` characters that follow its last
 * `window` positions, at starts drawn uniformly with replacement.
 */
export const windowBatch = (rng: Rng, stream: Int32Array, field: number, window: number, count: number): [WindowBatch, Rng] => {
  const width = field - 1 + window
  if (stream.length <= width) throw new RangeError(`a stream of ${stream.length} tokens is too short for windows of ${width} tokens and their targets`)
  const [starts, next] = integers(rng, count, stream.length - width)
  const tokens = new Int32Array(count * width)
  const targets = new Int32Array(count * window)
  starts.forEach((start, b) => {
    tokens.set(stream.subarray(start, start + width), b * width)
    targets.set(stream.subarray(start + field, start + width + 1), b * window)
  })
  return [{ tokens, targets, windows: count }, next]
}

/** `size` examples drawn uniformly with replacement (as torch.randint in the lecture). */
export const minibatch = (rng: Rng, data: Examples, size: number): [Batch, Rng] => {
  if (data.count === 0) throw new RangeError('no examples to draw a batch from')
  return drawWith(rng, (draws) => {
    const contexts = new Int32Array(size * data.blockSize)
    const targets = new Int32Array(size)
    for (let b = 0; b < size; b++) {
      const row = draws.below(data.count)
      contexts.set(data.contexts.subarray(row * data.blockSize, (row + 1) * data.blockSize), b * data.blockSize)
      targets[b] = data.targets[row]!
    }
    return { contexts: indices([size, data.blockSize], contexts), targets: indices([size], targets) }
  })
}

/** All the examples as one batch (for evaluation). */
export const allExamples = (data: Examples): Batch => ({
  contexts: indices([data.count, data.blockSize], data.contexts),
  targets: indices([data.count], data.targets),
})
