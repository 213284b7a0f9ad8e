/** A run's shared parts: the optimizer its settings configure, the built-in names, its data's generator and split, its steps and its data digest. */
import { createHash } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  buildVocabulary, dataDigest, dataGenerator, digestText, distinctLowerCase, examples, exampleSteps, LR_DECAY_AT, minibatch, optimizerConfig, pureSession,
  pureWordsSession, RECIPES, referenceKernels, seeded, sgd, shuffleSplit, split, splitRunWords, trainableParameters, wavenet, wordBatch,
  pureWindowsSession, receptiveField, stepSeed, textStream, windowBatch, windowSteps, wordSteps,
} from '../src/index.js'

const words = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']

describe('run', () => {
  it('configures each mode\'s recipe: the lecture\'s SGD per example, AdamW on a cosine in sequence mode', () => {
    expect(optimizerConfig({ ...RECIPES.example, steps: 2000, lrDecayAt: LR_DECAY_AT, weightDecay: 0 }))
      .toEqual({ kind: 'sgd', lr: 0.1, totalSteps: 2000, decayAt: 0.75, decay: 0.1, shape: 'step' })
    expect(optimizerConfig({ ...RECIPES.sequence, lr: 1e-3, steps: 100, lrDecayAt: 0.5, weightDecay: 0.05 }))
      .toEqual({ kind: 'adamw', lr: 1e-3, totalSteps: 100, decayAt: 0.5, decay: 0.02, shape: 'cosine', betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05 })
  })

  it('lower-cases words and keeps the first of each', () => {
    expect(distinctLowerCase(['Emma', 'ava', 'emma', 'Ava', 'Zoë'])).toEqual(['emma', 'ava', 'zoë'])
  })

  it('splits the words with the generator split off the seed\'s, not the seed\'s own', () => {
    expect(dataGenerator(3)).toEqual(split(seeded(3))[0])
    expect(splitRunWords(3, words)).toEqual(shuffleSplit(split(seeded(3))[0], words))
    expect(splitRunWords(3, words)[0].train).not.toEqual(shuffleSplit(seeded(3), words)[0].train)
  })

  it('steps on the batch the generator draws, and hands back the generator after the draw', () => {
    const vocab = buildVocabulary(words)
    const model = wavenet({ vocab: vocab.symbols.length, levels: 2, embedding: 4, hidden: 8, seed: 1 })
    const optimizer = sgd({ lr: 0.1, totalSteps: 10, decayAt: 0.75, decay: 0.1 })
    const state = optimizer.init(trainableParameters(model))
    const data = E.getOrElseW(() => { throw new Error('unknown character') })(examples(vocab, words, 4))
    const rng = seeded(5)
    const [loss, next] = exampleSteps(pureSession(referenceKernels, model, optimizer, state), model, data, 6)(rng)
    const [batch, after] = minibatch(rng, data, 6)
    expect(next).toEqual(after)
    expect(loss).toBe(pureSession(referenceKernels, model, optimizer, state).step(batch))

    const ids = words.map((w) => Int32Array.from([...w], (ch) => vocab.symbols.indexOf(ch)))
    const [wordsLoss, wordsNext] = wordSteps(pureWordsSession(referenceKernels, model, optimizer, state), model, ids, 20)(rng)
    const [wordsBatch, wordsAfter] = wordBatch(rng, ids, 20)
    expect(wordsNext).toEqual(wordsAfter)
    expect(wordsLoss).toBe(pureWordsSession(referenceKernels, model, optimizer, state).step(wordsBatch))

    const field = receptiveField(model)
    const stream = textStream(ids, field)
    const [windowsLoss, windowsNext] = windowSteps(pureWindowsSession(referenceKernels, model, optimizer, state), model, stream, field, 5, 3)(rng)
    const [windowsBatch, windowsAfter] = windowBatch(rng, stream, field, 5, 3)
    expect(windowsNext).toEqual(windowsAfter)
    expect(windowsLoss).toBe(pureWindowsSession(referenceKernels, model, optimizer, state).step(windowsBatch))
  })

  it("with dropout, draws the step's seed after the batch from the same generator", () => {
    const vocab = buildVocabulary(words)
    const model = wavenet({ vocab: vocab.symbols.length, levels: 2, embedding: 4, hidden: 8, dropout: 0.2, seed: 1 })
    const optimizer = sgd({ lr: 0.1, totalSteps: 10, decayAt: 0.75, decay: 0.1 })
    const state = optimizer.init(trainableParameters(model))
    const ids = words.map((w) => Int32Array.from([...w], (ch) => vocab.symbols.indexOf(ch)))
    const rng = seeded(5)
    const [loss, next] = wordSteps(pureWordsSession(referenceKernels, model, optimizer, state), model, ids, 20)(rng)
    const [batch, afterBatch] = wordBatch(rng, ids, 20)
    const [seed, afterSeed] = stepSeed(afterBatch)
    expect(next).toEqual(afterSeed)
    expect(loss).toBe(pureWordsSession(referenceKernels, model, optimizer, state).step({ ...batch, seed }))
  })

  it('digests the words as 16 hexadecimal digits of the SHA-256 of the training words, a NUL and the validation words', () => {
    // Two validation words, so that their separator counts too, and a digest with a byte below 0x10 among its first 8 (0x05), so that
    // every byte's two digits count.
    const [train, val] = [['ava', 'émile'], ['mia', 'zoee']]
    const sha = createHash('sha256').update('ava\némile').update('\0').update('mia\nzoee').digest()
    expect(sha.subarray(0, 8).some((byte) => byte < 0x10)).toBe(true)
    expect(dataDigest(createHash('sha256').update(digestText(train, val)).digest())).toBe(sha.toString('hex').slice(0, 16))
  })
})
