/** `wavenet sample`: words drawn from a model, one per line, printed as they come. */
import { seeded } from '@wavenet/core'
import { Console, Effect } from 'effect'
import { BackendService } from '../backend.js'
import { loadCheckpoint } from '../checkpoints.js'
import { backendOption, command, jsonOption, onBackend } from '../command.js'
import { UsageError } from '../errors.js'
import { file, flag, optional, positiveNumber, required, seedNumber, text, wholeNumber, withDefault } from '../options.js'
import { sampleInPieces } from '../pieces.js'

export const sampleCommand = command({
  name: 'sample',
  summary: 'print words sampled from a model, one per line',
  options: {
    model: required(file, 'checkpoint to sample from'),
    n: withDefault(wholeNumber(), 20, 'number of words'),
    temperature: withDefault(positiveNumber, 1, 'below 1 sharpens the distribution, above 1 flattens it'),
    topK: optional(wholeNumber(), 'draw only among the K most likely characters; absent, among all'),
    seed: optional(seedNumber, 'seed of the draws; absent, a new one each run, reported on stderr'),
    prefix: withDefault(text, '', 'every word starts with this text'),
    maxLength: withDefault(wholeNumber(), 64, 'longest word, prefix included'),
    naive: flag('recompute the whole tree for every character instead of keeping the nodes later characters reuse (the same words, slower)'),
    backend: backendOption,
    json: jsonOption,
  },
  examples: [
    'wavenet sample --model model.safetensors -n 10',
    'wavenet sample --model model.safetensors --temperature 0.8 --top-k 5 --seed 1',
    'wavenet sample --model model.safetensors --prefix el --json',
  ],
  run: ({ value: o }) => onBackend(o.backend, Effect.gen(function* () {
    if ([...o.prefix].length > o.maxLength) {
      return yield* Effect.fail(new UsageError({ message: `--prefix is longer than --max-length ${o.maxLength}` }))
    }
    const checkpoint = yield* loadCheckpoint(o.model)
    const { kernels } = yield* BackendService
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31)
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
