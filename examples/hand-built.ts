/**
 * A model composed by hand from @wavenet/core's layers, trained on a tiny
 * corpus with the core API alone (no CLI, no Effect), then sampled. The
 * model is just its network: its receptive field (4) and its logits follow
 * from the layers, and `encodeCheckpoint` saves it for the CLI's `sample`,
 * `eval` and `inspect`.
 *
 * Run it through the test suite: `pnpm vitest run examples`.
 */
import * as E from 'fp-ts/lib/Either.js'
import {
  backward, batchNorm1d, buildVocabulary, crossEntropy, crossEntropyBackward, embedding, examples, flattenConsecutive,
  forward, initEmbedding, initLinear, layerParameters, linear, minibatch, referenceKernels, sampleWords, seeded,
  sequential, sgd, tanh, withTensors, type Model, type Vocabulary,
} from '@wavenet/core'

/** The words the example trains on. */
export const corpus: readonly string[] = ['anna', 'hannah', 'ava', 'otto', 'bob', 'eve', 'elle', 'ada', 'nan', 'pip', 'abba', 'ana']

/** Trains the hand-built model for `steps` SGD steps; returns the losses, ten sampled words, the model and its vocabulary. */
export const run = (steps = 400): { losses: number[]; words: string[]; model: Model; vocab: Vocabulary } => {
  const vocab = buildVocabulary(corpus)
  const V = vocab.symbols.length
  const data = E.getOrElseW((e) => { throw new Error(`unknown character ${JSON.stringify(e)}`) })(examples(vocab, corpus, 4))

  // Two levels of fusion over a context of 4: (B, 4) → (B, 4, 8) → (B, 2, 16) → (B, 2, 32) → (B, 64) → (B, 32) → (B, V)
  let rng = seeded(1)
  const [table, r1] = initEmbedding(rng, V, 8)
  const [fuse0, r2] = initLinear(r1, 16, 32, { bias: false })
  const [fuse1, r3] = initLinear(r2, 64, 32, { bias: false })
  const [head, r4] = initLinear(r3, 32, V, { gain: 0.1 })
  rng = r4
  let net = sequential(
    [embedding(table.weight), flattenConsecutive(2), linear(fuse0.weight, null), batchNorm1d(32), tanh(),
      flattenConsecutive(2), linear(fuse1.weight, null), batchNorm1d(32), tanh(), head],
  )

  const optimizer = sgd({ lr: 0.1, totalSteps: steps, decayAt: 0.75, decay: 0.1 })
  let state = optimizer.init(layerParameters(net))
  const losses: number[] = []
  for (let step = 0; step < steps; step++) {
    const [batch, next] = minibatch(rng, data, 32)
    rng = next
    const out = forward(referenceKernels, net, batch.contexts, 'train')
    const { loss, tape } = crossEntropy(referenceKernels, out.y, batch.targets)
    const { grads } = backward(referenceKernels, net, out.tape, crossEntropyBackward(referenceKernels, tape))
    const [params, nextState] = optimizer.update(layerParameters(net), grads, state)
    // out.layer carries the batchnorm running statistics this step updated.
    net = withTensors(out.layer, params)
    state = nextState
    losses.push(loss)
  }

  const model: Model = { net }
  const sampled = sampleWords(referenceKernels, model, vocab, rng, 10, { temperature: 0.8 })
  const [words] = E.getOrElseW(() => { throw new Error('no prefix was given') })(sampled)
  return { losses, words, model, vocab }
}
