/**
 * One training step and evaluation, as pure functions over values: the
 * building blocks of any training loop (the CLI's, or a user's own).
 */
import { type Batch, type Examples, allExamples } from './data.js'
import type { Kernels } from './kernels/kernels.js'
import { type Named, trainingMode } from './layers/layer.js'
import { packWindows, packWords, sequenceGradients, type WindowBatch, type WordBatch } from './sequence.js'
import { backward } from './layers/sequential.js'
import { crossEntropy, crossEntropyBackward } from './loss.js'
import { hasDropout, type Model, modelForward, trainableParameters, withParameters } from './model.js'
import type { Optimizer, OptimizerState } from './optim.js'
import { drawWith, type Rng } from './random.js'
import { type IndexTensor, indices } from './tensor.js'

export interface StepResult {
  /** The model after the update, with its batchnorm running statistics updated. */
  readonly model: Model
  readonly state: OptimizerState
  /** The minibatch loss before the update. */
  readonly loss: number
}

export interface Gradients {
  /** The minibatch loss. */
  readonly loss: number
  /** The gradient of the loss with respect to each trainable parameter, by name. */
  readonly grads: Named
  /** The model after the forward pass: its batchnorm running statistics updated. */
  readonly model: Model
}

/**
 * Forward in train mode, cross-entropy and backward: the part of a step that
 * the layers define (the fast session records it once and replays it).
 * Its results may live in the kernels' working memory.
 */
export const gradients = (kernels: Kernels, model: Model, batch: Batch): Gradients => {
  const out = modelForward(kernels, model, batch.contexts, trainingMode(batch.seed))
  const { loss, tape } = crossEntropy(kernels, out.y, batch.targets)
  const { grads } = backward(kernels, model.net, out.tape, crossEntropyBackward(kernels, tape))
  return { loss, grads, model: out.layer }
}

/** A dropout seed for one step, drawn from `rng`: one whole number in [0, 2^31). */
export const stepSeed = (rng: Rng): [IndexTensor, Rng] => drawWith(rng, (draws) => indices([1], Int32Array.of(draws.uint32() >>> 1)))

/**
 * For `model`, a function of a batch and the generator after drawing it
 * that gives the batch the step's dropout seed, drawn next from that
 * generator, when the model has dropout layers (asked once, not per step).
 * Without them nothing more is drawn, so such runs draw exactly as they
 * always did. The seed comes from the run's generator, which a checkpoint
 * keeps: a resumed run draws the same masks.
 */
export const withStepSeed = (model: Model): (<B extends { readonly seed?: IndexTensor }>(drawn: readonly [B, Rng]) => [B, Rng]) =>
  hasDropout(model)
    ? ([batch, rng]) => {
      const [seed, next] = stepSeed(rng)
      return [{ ...batch, seed }, next]
    }
    : ([batch, rng]) => [batch, rng]

/** A pure training step from a way to compute the gradients: one optimizer update, its working memory reclaimed as it returns. */
const stepWith = <B>(compute: (kernels: Kernels, model: Model, batch: B) => Gradients) =>
  (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState, batch: B): StepResult =>
    kernels.scope(() => {
      const { loss, grads, model: after } = compute(kernels, model, batch)
      const [params, next] = optimizer.update(trainableParameters(model), grads, state)
      return { model: withParameters(after, params), state: next, loss }
    })

/**
 * Forward in train mode, cross-entropy, backward, one optimizer update. The
 * working memory it takes from the kernels is reclaimed before it returns.
 */
export const trainStep: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState, batch: Batch) => StepResult =
  stepWith(gradients)

/** `trainStep` in the sequence view, on a batch of whole words (`sequence.ts`). */
export const trainWordsStep: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState, batch: WordBatch) => StepResult =
  stepWith((kernels, model, batch: WordBatch) => sequenceGradients(kernels, model, packWords(batch)))

/** `trainStep` in the sequence view, on windows of running text (`sequence.ts`). */
export const trainWindowsStep: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState, batch: WindowBatch) => StepResult =
  stepWith((kernels, model, batch: WindowBatch) => sequenceGradients(kernels, model, packWindows(batch)))

/** Mean cross-entropy of a batch in eval mode. */
export const batchLoss = (kernels: Kernels, model: Model, batch: Batch): number =>
  kernels.scope(() => crossEntropy(kernels, modelForward(kernels, model, batch.contexts, 'eval').y, batch.targets).loss)

/** How `evaluate` runs. */
export interface EvaluateOptions {
  /** Examples per forward pass (default 1024). */
  readonly chunk?: number
}

/**
 * Mean cross-entropy over every example in eval mode (the lecture's
 * `split_loss`), computed in chunks so memory stays bounded.
 */
export const evaluate = (kernels: Kernels, model: Model, data: Examples, options: EvaluateOptions = {}): number => {
  if (data.count === 0) return Number.NaN
  const chunk = options.chunk ?? 1024
  const all = allExamples(data)
  let total = 0
  for (let start = 0; start < data.count; start += chunk) {
    const end = Math.min(start + chunk, data.count)
    const batch: Batch = {
      contexts: indices([end - start, data.blockSize], all.contexts.data.subarray(start * data.blockSize, end * data.blockSize)),
      targets: indices([end - start], all.targets.data.subarray(start, end)),
    }
    total += batchLoss(kernels, model, batch) * (end - start)
  }
  return total / data.count
}

/**
 * A training run's working state: it owns the current model and optimizer
 * state and advances them one batch at a time (minibatches of examples, or
 * `WordBatch`es in the sequence view). Implementations may keep
 * preallocated buffers and update them in place (the values they hand out
 * through `snapshot` are copies, never mutated afterwards), so a loop written
 * against this interface runs on any backend.
 */
export interface TrainingSession<B = Batch> {
  /** One step (forward, loss, backward, update) on the batch; returns the loss before the update. */
  step(batch: B): number
  /** The current model and optimizer state as immutable values. */
  snapshot(): { readonly model: Model; readonly state: OptimizerState }
  /** Releases what the session holds (buffers in a backend's memory). */
  dispose(): void
}

/** A session over a pure step: works with any kernels. */
const sessionOf = <B>(step: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState, batch: B) => StepResult) =>
  (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState): TrainingSession<B> => {
    let current = { model, state }
    return {
      step(batch) {
        const result = step(kernels, current.model, optimizer, current.state, batch)
        current = { model: result.model, state: result.state }
        return result.loss
      },
      snapshot: () => current,
      dispose: () => undefined,
    }
  }

/** A session over the pure `trainStep`: works with any kernels. */
export const pureSession: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState) => TrainingSession =
  sessionOf(trainStep)

/** A session over the pure `trainWordsStep`, the sequence view on whole words: works with any kernels. */
export const pureWordsSession: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState) => TrainingSession<WordBatch> =
  sessionOf(trainWordsStep)

/** A session over the pure `trainWindowsStep`, the sequence view on windows of running text: works with any kernels. */
export const pureWindowsSession: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState) => TrainingSession<WindowBatch> =
  sessionOf(trainWindowsStep)
