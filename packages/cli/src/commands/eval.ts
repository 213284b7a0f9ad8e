/** `wavenet eval`: a model's mean cross-entropy over a file of words, or over running text for a model trained on it. */
import { documentWindows, receptiveField } from '@wavenet/core'
import { Console, Effect } from 'effect'
import { BackendService } from '../backend.js'
import { loadCheckpoint } from '../checkpoints.js'
import { backendOption, command, jsonOption, onBackend } from '../command.js'
import { encodeDocuments, encodeWords, readCorpus, readDocuments } from '../dataset.js'
import { CheckpointError } from '../errors.js'
import { file, required } from '../options.js'
import { evaluateInPieces, evaluateWindowsInPieces } from '../pieces.js'

export const evalCommand = command({
  name: 'eval',
  summary: 'mean cross-entropy of a model over every (context, next character) example of a file (of running text: a file or folder of documents)',
  options: {
    model: required(file, 'checkpoint to evaluate'),
    data: required(file, 'words to evaluate on, one per line; for a model trained on running text, a document or a folder of .txt documents'),
    backend: backendOption,
    json: jsonOption,
  },
  examples: [
    'wavenet eval --model model.safetensors --data held-out.txt',
    'wavenet eval --model model.safetensors --data held-out.txt --json',
  ],
  run: ({ value: o }) => onBackend(o.backend, Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(o.model)
    const notFinite = () => new CheckpointError({ path: o.model, message: `${o.model}: its loss over ${o.data} is not finite (its weights overflow)` })
    if (checkpoint.mode === 'text') {
      // Running text: every character of every document once, after R boundary tokens, as in training.
      const documents = yield* encodeDocuments(checkpoint.vocab, yield* readDocuments(o.data))
      const { kernels } = yield* BackendService
      const loss = yield* evaluateWindowsInPieces(kernels, checkpoint.model, documentWindows(documents, receptiveField(checkpoint.model)))
      if (!Number.isFinite(loss)) return yield* Effect.fail(notFinite())
      const characters = documents.reduce((n, d) => n + d.length, 0)
      const bitsPerChar = loss / Math.LN2
      if (o.json) return yield* Console.log(JSON.stringify({ loss, bitsPerChar, characters }))
      return yield* Console.log(`loss ${loss.toFixed(4)} (${bitsPerChar.toFixed(4)} bits per character) over ${characters} characters`)
    }
    const corpus = yield* readCorpus(o.data)
    const words = yield* encodeWords(checkpoint.vocab, corpus.words, o.data, corpus.lines)
    const { kernels } = yield* BackendService
    // Each node of the tree once per word (the sequence view): the per-example mean, without the per-example cost.
    const loss = yield* evaluateInPieces(kernels, checkpoint.model, words)
    if (!Number.isFinite(loss)) return yield* Effect.fail(notFinite())
    const examples = words.reduce((n, w) => n + w.length + 1, 0)
    if (o.json) return yield* Console.log(JSON.stringify({ loss, examples }))
    yield* Console.log(`loss ${loss.toFixed(4)} over ${examples} examples`)
  })),
})
