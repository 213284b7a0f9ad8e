/**
 * The pure training functions (`train.ts`): `evaluate` is the mean of each
 * example's own loss in eval mode, whatever the chunking; a step reports the
 * loss before its update and returns the updated model and state.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  batchLoss, buildVocabulary, evaluate, examples, type Examples, gradients, indices, minibatch, modelForward, type Model, pureSession,
  referenceKernels as k, seeded, sgd, trainableParameters, trainStep, wavenet, withParameters,
} from '../src/index.js'

const words = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'charlotte', 'amelia', 'harper', 'evelyn', 'abigail']
const vocab = buildVocabulary(words)
const data: Examples = E.getOrElseW(() => { throw new Error('did not encode') })(examples(vocab, words, 4))
const model = (seed: number): Model => wavenet({ vocab: vocab.symbols.length, levels: 2, embedding: 3, hidden: 6, seed })

/** −log softmax(logits)[target] of one row, in float64, written out by hand. */
const rowLoss = (logits: ArrayLike<number>, target: number): number => {
  const row = Array.from(logits)
  const max = Math.max(...row)
  return Math.log(row.reduce((s, l) => s + Math.exp(l - max), 0)) - (row[target]! - max)
}

/** Each example's loss computed on its own (a batch of one, eval mode), in example order. */
const exampleLosses = (m: Model, d: Examples): number[] =>
  Array.from({ length: d.count }, (_, i) => {
    const context = indices([1, d.blockSize], d.contexts.slice(i * d.blockSize, (i + 1) * d.blockSize))
    return rowLoss(modelForward(k, m, context, 'eval').y.data, d.targets[i]!)
  })

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

describe('evaluate', () => {
  it('is the mean over every example of its own eval-mode loss, for any chunk size', () => {
    const m = model(5)
    const losses = exampleLosses(m, data)
    // The examples' losses differ, so a chunk weighted wrongly or an example dropped or repeated shows.
    expect(Math.max(...losses) - Math.min(...losses)).toBeGreaterThan(0.1)
    const expected = mean(losses)
    expect(data.count % 7).not.toBe(0)
    for (const chunk of [undefined, 1, 2, 7, data.count - 1, data.count, data.count + 5]) {
      const got = evaluate(k, m, data, chunk === undefined ? {} : { chunk })
      expect(Math.abs(got - expected), `chunk ${chunk}`).toBeLessThan(1e-5)
    }
    expect(evaluate(k, m, data)).toBe(evaluate(k, m, data, {}))
  })

  it('of a single example is that example\'s loss', () => {
    const m = model(6)
    const one: Examples = { ...data, count: 1, contexts: data.contexts.slice(4 * data.blockSize, 5 * data.blockSize), targets: data.targets.slice(4, 5) }
    expect(evaluate(k, m, one)).toBeCloseTo(exampleLosses(m, data)[4]!, 5)
  })

  it('is NaN when there is nothing to evaluate', () => {
    expect(evaluate(k, model(1), { contexts: new Int32Array(0), targets: new Int32Array(0), count: 0, blockSize: 4 })).toBeNaN()
  })
})

describe('batchLoss', () => {
  it('is the mean eval-mode loss of the batch, with the running statistics, not the batch ones', () => {
    const m = model(2)
    const [batch] = minibatch(seeded(9), data, 12)
    const contexts = batch.contexts.data
    const expected = mean(Array.from({ length: 12 }, (_, i) =>
      rowLoss(modelForward(k, m, indices([1, 4], contexts.slice(i * 4, i * 4 + 4)), 'eval').y.data, batch.targets.data[i]!)))
    expect(batchLoss(k, m, batch)).toBeCloseTo(expected, 5)
    // In train mode the batch statistics give another loss: the difference is what the check above sees.
    const trainLogits = modelForward(k, m, batch.contexts, 'train').y.data
    const trainLoss = mean(Array.from({ length: 12 }, (_, i) => rowLoss(trainLogits.subarray(i * vocab.symbols.length, (i + 1) * vocab.symbols.length), batch.targets.data[i]!)))
    expect(Math.abs(trainLoss - expected)).toBeGreaterThan(1e-3)
  })
})

describe('trainStep and pureSession', () => {
  it('report the loss before the update and return the updated parameters, running statistics and state', () => {
    const m = model(3)
    const optimizer = sgd({ lr: 0.5, totalSteps: 10, decayAt: 1, decay: 1 })
    const state = optimizer.init(trainableParameters(m))
    const [batch] = minibatch(seeded(4), data, 16)
    const g = gradients(k, m, batch)
    const step = trainStep(k, m, optimizer, state, batch)
    expect(step.loss).toBe(g.loss)
    expect(step.state.step).toBe(1)
    // Each parameter moved by −lr·g, computed here independently.
    const before = trainableParameters(m)
    const after = trainableParameters(step.model)
    for (const [name, p] of Object.entries(before)) {
      const grad = g.grads[name]!.data
      expect(Array.from(after[name]!.data), name).toEqual(Array.from(p.data, (v, i) => Math.fround(v - 0.5 * grad[i]!)))
    }
    // The batchnorm running statistics are those of the forward pass, not the model's old ones.
    expect(step.model.net).not.toBe(m.net)
    const running = (x: Model): number[] => Array.from(modelForward(k, x, batch.contexts, 'eval').y.data)
    expect(running(withParameters(g.model, after))).toEqual(running(step.model))
    expect(running(withParameters(m, after))).not.toEqual(running(step.model))
    // A session advances the same way, step after step.
    const session = pureSession(k, m, optimizer, state)
    expect(session.step(batch)).toBe(step.loss)
    expect(session.snapshot().state).toEqual(step.state)
    expect(running(session.snapshot().model)).toEqual(running(step.model))
    const second = trainStep(k, step.model, optimizer, step.state, batch)
    expect(session.step(batch)).toBe(second.loss)
    expect(second.loss).toBeLessThan(step.loss)
    expect(session.snapshot().state.step).toBe(2)
    session.dispose()
  })
})
