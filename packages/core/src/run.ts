/**
 * The pure parts of a training run that every front end shares (the command
 * line, the web page), so that the same seed, words and recipe give the same
 * bits wherever a run trains: the per-mode recipes, the optimizer they
 * configure, the built-in names, the generator and the split of the data,
 * the step on the batch a generator draws, and the digest of the words a
 * checkpoint records.
 *
 * A run's seed initialises the model (`wavenet({ seed })`); the data's
 * generator is split off the seed's, shuffles and splits the words, and
 * then draws every batch.
 */
import type { TrainingMode } from './checkpoint.js'
import { type Examples, minibatch, shuffleSplit, type Split, windowBatch, wordBatch } from './data.js'
import { ADAMW_DEFAULTS, type OptimizerConfig } from './optim.js'
import { type Rng, seeded, split } from './random.js'
import type { Model } from './model.js'
import type { WindowBatch, WordBatch } from './sequence.js'
import { type TrainingSession, withStepSeed } from './train.js'

/** Each optimizer's learning rate when none is given. */
export const LEARNING_RATES = { sgd: 0.1, adamw: 3e-3 } as const

/**
 * Each mode's recipe for the options that depend on the mode: per example,
 * the lecture's (200,000 steps of 32 examples, SGD at 0.1, then 0.01 for
 * the last quarter); in sequence mode, the recipe that reaches val 2.00 on
 * the names fastest (8,000 steps of 256 target characters, AdamW at 3e-3 on
 * a cosine down to 2%); on running text, the State of the Union anchor's
 * (../shared/anchors/text/sotu_dilated.py: 3,000 steps of 16 windows, AdamW
 * at 3e-3 on a cosine down to 0).
 */
export const RECIPES = {
  example: { steps: 200_000, batch: 32, optimizer: 'sgd', lrSchedule: 'step', lrDecay: 0.1 },
  sequence: { steps: 8_000, batch: 256, optimizer: 'adamw', lrSchedule: 'cosine', lrDecay: 0.02 },
  text: { steps: 3_000, batch: 16, optimizer: 'adamw', lrSchedule: 'cosine', lrDecay: 0 },
} as const satisfies Record<TrainingMode, object>

/** The fraction of the steps after which the step schedule decays the learning rate, when none is given: the lecture's. */
export const LR_DECAY_AT = 0.75

/** What configures a run's optimizer and its learning-rate schedule. */
export interface OptimizerSettings {
  readonly optimizer: 'sgd' | 'adamw'
  /** Absent: the optimizer's entry in `LEARNING_RATES`. */
  readonly lr?: number | undefined
  /** Steps of the whole run: the schedule's length. */
  readonly steps: number
  readonly lrSchedule: 'step' | 'cosine'
  readonly lrDecayAt: number
  readonly lrDecay: number
  /** AdamW's only. */
  readonly weightDecay: number
}

/** The optimizer configuration (recorded in checkpoints) of a run's settings. */
export const optimizerConfig = (settings: OptimizerSettings): OptimizerConfig => {
  const lr = settings.lr ?? LEARNING_RATES[settings.optimizer]
  const schedule = { totalSteps: settings.steps, decayAt: settings.lrDecayAt, decay: settings.lrDecay, shape: settings.lrSchedule }
  return settings.optimizer === 'sgd'
    ? { kind: 'sgd', lr, ...schedule }
    : { kind: 'adamw', lr, ...schedule, betas: ADAMW_DEFAULTS.betas, eps: ADAMW_DEFAULTS.eps, weightDecay: settings.weightDecay }
}

/**
 * Words lower-cased and deduplicated, in first-seen order: how the built-in
 * names are made from @stdlib's lists of female and male first names.
 */
export const distinctLowerCase = (words: readonly string[]): string[] => [...new Set(words.map((word) => word.toLowerCase()))]

/** The generator of a run's data (its split and its batches): split off the generator of the seed, which initialises the model. */
export const dataGenerator = (seed: number): Rng => split(seeded(seed))[0]

/** A run's words shuffled and split 80/10/10 by its seed, and the generator after the shuffle, which draws the batches. */
export const splitRunWords = <A>(seed: number, words: readonly A[]): [Split<A>, Rng] => shuffleSplit(dataGenerator(seed), words)

/** One step of a run: the loss of the batch drawn from the generator, and the generator after the draw. */
export type Advance = (rng: Rng) => readonly [number, Rng]

/**
 * Steps of `session`, training `model`, on minibatches of `size` examples drawn uniformly with replacement (`minibatch`), each
 * followed by the step's dropout seed when the model has dropout layers (`withStepSeed`).
 */
export const exampleSteps = (session: TrainingSession, model: Model, data: Examples, size: number): Advance => {
  const seeded = withStepSeed(model)
  return (rng) => {
    const [batch, next] = seeded(minibatch(rng, data, size))
    return [session.step(batch), next]
  }
}

/** Steps of `session`, training `model`, in the sequence view, on whole words filling `budget` outputs (`wordBatch`), seeded as `exampleSteps`'s. */
export const wordSteps = (session: TrainingSession<WordBatch>, model: Model, words: readonly Int32Array[], budget: number): Advance => {
  const seeded = withStepSeed(model)
  return (rng) => {
    const [batch, next] = seeded(wordBatch(rng, words, budget))
    return [session.step(batch), next]
  }
}

/**
 * Steps of `session`, training `model`, in the sequence view, on `count` windows of `window` target characters drawn from a stream of
 * running text (`windowBatch`), seeded as `exampleSteps`'s.
 */
export const windowSteps = (
  session: TrainingSession<WindowBatch>, model: Model, stream: Int32Array, field: number, window: number, count: number,
): Advance => {
  const seeded = withStepSeed(model)
  return (rng) => {
    const [batch, next] = seeded(windowBatch(rng, stream, field, window, count))
    return [session.step(batch), next]
  }
}

/**
 * The text whose SHA-256 is a run's data digest: the training words and the
 * validation words, each list joined by newlines, with a NUL between them.
 * Core hashes nothing itself (it has no hash function): the caller's does,
 * node:crypto's or a browser's SubtleCrypto.
 */
export const digestText = (train: readonly string[], val: readonly string[]): string => `${train.join('\n')}\0${val.join('\n')}`

/** The data digest checkpoints record (`TrainingRecord.data`) from the SHA-256 of `digestText`: its first 16 hexadecimal digits. */
export const dataDigest = (sha256: Uint8Array): string =>
  Array.from(sha256.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join('')
