/** `wavenet sample`: words drawn from a model, one per line, printed as they come. */
import { sampleWords, seeded } from '@wavenet/core'
import { Console, Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { BackendService } from '../backend.js'
import { loadCheckpoint } from '../checkpoints.js'
import { backendOption, command, jsonOption, onBackend } from '../command.js'
import { UsageError } from '../errors.js'
import { eventLoopTurn } from '../event-loop.js'
import { file, flag, optional, positiveNumber, required, seedNumber, text, wholeNumber, withDefault } from '../options.js'

/** Words sampled per batch: memory stays bounded and Ctrl-C is seen between batches. */
const SAMPLE_CHUNK = 1024

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
    let rng = seeded(seed)
    const all: string[] = []
    for (let done = 0; done < o.n; done += SAMPLE_CHUNK) {
      const sampled = sampleWords(kernels, checkpoint.model, checkpoint.vocab, rng, Math.min(SAMPLE_CHUNK, o.n - done), options)
      if (E.isLeft(sampled)) {
        return yield* Effect.fail(new UsageError({ message: `--prefix: character ${JSON.stringify(sampled.left.character)} is not in the model's vocabulary` }))
      }
      const [words, next] = sampled.right
      rng = next
      // A seed drawn is told with the first words, so that words worth keeping can be drawn again.
      if (done === 0 && o.seed === undefined) yield* Effect.logInfo(`seed ${seed}: --seed ${seed} draws these words again`)
      if (o.json) all.push(...words)
      else for (const word of words) yield* Console.log(word)
      yield* eventLoopTurn
    }
    if (o.json) yield* Console.log(JSON.stringify({ words: all, seed }))
  })),
})
