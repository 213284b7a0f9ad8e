/** `wavenet sample`: words drawn from a model, one per line, printed as they come; or a passage of running text from a text model, streamed. */
import { seeded } from '@wavenet/core'
import { Console, Effect } from 'effect'
import { BackendService } from '../backend.js'
import { loadCheckpoint } from '../checkpoints.js'
import { backendOption, command, jsonOption, onBackend } from '../command.js'
import { UsageError } from '../errors.js'
import { file, flag, optional, positiveNumber, required, seedNumber, text, wholeNumber, withDefault } from '../options.js'
import { sampleInPieces, sampleTextInPieces } from '../pieces.js'

/** Characters of a passage of running text when `--chars` is not given. */
const DEFAULT_CHARS = 500

export const sampleCommand = command({
  name: 'sample',
  summary: 'print words sampled from a model, one per line, or a passage from a model trained on running text',
  options: {
    model: required(file, 'checkpoint to sample from'),
    n: withDefault(wholeNumber(), 20, 'number of words'),
    chars: optional(wholeNumber(), `characters of running text, for a model trained on it (streamed as drawn: one document, never the boundary); absent, ${DEFAULT_CHARS}`),
    temperature: withDefault(positiveNumber, 1, 'below 1 sharpens the distribution, above 1 flattens it'),
    topK: optional(wholeNumber(), 'draw only among the K most likely characters; absent, among all'),
    seed: optional(seedNumber, 'seed of the draws; absent, a new one each run, reported on stderr'),
    prefix: withDefault(text, '', 'every word (or the passage) starts with this text'),
    maxLength: withDefault(wholeNumber(), 64, 'longest word, prefix included'),
    naive: flag('recompute the whole tree for every character instead of keeping the nodes later characters reuse (the same words, slower)'),
    backend: backendOption,
    json: jsonOption,
  },
  examples: [
    'wavenet sample --model model.safetensors -n 10',
    'wavenet sample --model model.safetensors --temperature 0.8 --top-k 5 --seed 1',
    'wavenet sample --model speeches.safetensors --chars 2000 --prefix "Fellow-Citizens"',
  ],
  run: ({ value: o, given }) => onBackend(o.backend, Effect.gen(function* () {
    if ([...o.prefix].length > o.maxLength) {
      return yield* Effect.fail(new UsageError({ message: `--prefix is longer than --max-length ${o.maxLength}` }))
    }
    const checkpoint = yield* loadCheckpoint(o.model)
    const { kernels } = yield* BackendService
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31)
    const running = checkpoint.mode === 'text'
    if (running && given.n !== undefined) return yield* Effect.fail(new UsageError({ message: `${o.model} was trained on running text: give --chars N, not -n` }))
    if (!running && o.chars !== undefined) return yield* Effect.fail(new UsageError({ message: `${o.model} was trained on words: give -n N, not --chars` }))
    if (running) {
      if (o.seed === undefined) yield* Effect.logInfo(`seed ${seed}: --seed ${seed} draws this passage again`)
      const pieces: string[] = []
      const options = { temperature: o.temperature, prefix: o.prefix, naive: o.naive, ...o.topK === undefined ? {} : { topK: o.topK } }
      // The passage streams to stdout as each piece is drawn, the prefix first; Ctrl-C is seen between pieces.
      if (!o.json) process.stdout.write(o.prefix)
      yield* sampleTextInPieces(kernels, checkpoint.model, checkpoint.vocab, seeded(seed), o.chars ?? DEFAULT_CHARS, options, (piece) => Effect.sync(() => {
        if (o.json) pieces.push(piece)
        else process.stdout.write(piece)
      })).pipe(Effect.mapError((e) => new UsageError({ message: `--prefix: character ${JSON.stringify(e.character)} is not in the model's vocabulary` })))
      return yield* Console.log(o.json ? JSON.stringify({ text: o.prefix + pieces.join(''), seed }) : '')
    }
    const options = { temperature: o.temperature, prefix: o.prefix, maxLength: o.maxLength, naive: o.naive, ...o.topK === undefined ? {} : { topK: o.topK } }
    const all: string[] = []
    let first = true
    // Words are printed as each piece comes (memory stays bounded, and Ctrl-C is seen between pieces).
    yield* sampleInPieces(kernels, checkpoint.model, checkpoint.vocab, seeded(seed), o.n, options, (words) => Effect.gen(function* () {
      // A seed drawn is told with the first words, so that words worth keeping can be drawn again.
      if (first && o.seed === undefined) yield* Effect.logInfo(`seed ${seed}: --seed ${seed} draws these words again`)
      first = false
      if (o.json) all.push(...words)
      else for (const word of words) yield* Console.log(word)
    })).pipe(Effect.mapError((e) => new UsageError({ message: `--prefix: character ${JSON.stringify(e.character)} is not in the model's vocabulary` })))
    if (o.json) yield* Console.log(JSON.stringify({ words: all, seed }))
  })),
})
