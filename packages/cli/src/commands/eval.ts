/** `wavenet eval`: a model's mean cross-entropy over a file of words. */
import { evaluate, receptiveField } from '@wavenet/core'
import { Console, Effect } from 'effect'
import { BackendService } from '../backend.js'
import { loadCheckpoint } from '../checkpoints.js'
import { backendOption, command, jsonOption, onBackend } from '../command.js'
import { encodeExamples, readCorpus } from '../dataset.js'
import { file, required } from '../options.js'

export const evalCommand = command({
  name: 'eval',
  summary: 'mean cross-entropy of a model over every (context, next character) example of a file',
  options: {
    model: required(file, 'checkpoint to evaluate'),
    data: required(file, 'words to evaluate on, one per line'),
    backend: backendOption,
    json: jsonOption,
  },
  examples: [
    'wavenet eval --model model.safetensors --data held-out.txt',
    'wavenet eval --model model.safetensors --data held-out.txt --json',
  ],
  run: ({ value: o }) => onBackend(o.backend, Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(o.model)
    const corpus = yield* readCorpus(o.data)
    const encoded = yield* encodeExamples(checkpoint.vocab, corpus.words, receptiveField(checkpoint.model), o.data, corpus.lines)
    const { kernels } = yield* BackendService
    const loss = evaluate(kernels, checkpoint.model, encoded)
    if (o.json) return yield* Console.log(JSON.stringify({ loss, examples: encoded.count }))
    yield* Console.log(`loss ${loss.toFixed(4)} over ${encoded.count} examples`)
  })),
})
