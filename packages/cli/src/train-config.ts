/**
 * The training configuration: every option of a run, with its default, its
 * limits and its help, in one Schema. `wavenet train` parses and explains its
 * flags from it; `train()` decodes what a program passes with it. Options
 * that depend on the mode take that mode's recipe (core's `RECIPES`) when absent:
 * per example, the lecture's (SGD at lr 0.1, then 0.01 for the last quarter
 * of the steps); in sequence mode, the recipe that reaches val 2.00 on the
 * names fastest (the README's results).
 *
 * Limits that involve several options at once (a context too long, a model
 * too large) are checked when the run starts, against the model-size limits
 * of `@wavenet/core` that checkpoint decoding uses too.
 */
import { ADAMW_DEFAULTS, LEARNING_RATES, LR_DECAY_AT, RECIPES, type TrainingMode } from '@wavenet/core'
import { Schema } from 'effect'
import {
  choice, dropProbability, file, flag, fraction, nonNegativeNumber, optional, positiveNumber, seedNumber, wholeNumber, withDefault,
} from './options.js'

/** Help for an option that takes its mode's recipe when absent. */
const perMode = (help: string, key: keyof (typeof RECIPES)['example']): string =>
  `${help}; absent, ${RECIPES.example[key]} per example, ${RECIPES.sequence[key]} in sequence mode and ${RECIPES.text[key]} on running text`

/** Validation losses in a run when `--eval-every` is not given. */
export const VALIDATIONS_PER_RUN = 10

export const TrainConfig = Schema.Struct({
  data: optional(file, 'training data (UTF-8): words, one per line; or running text (--format text), a file a document or a folder of .txt files; absent, --dataset'),
  val: optional(file, 'validation words (or documents); absent, words are split 80/10/10 with --seed, documents by index (8 of 10 train, 9th test, 10th validation)'),
  dataset: withDefault(choice('names', 'sotu'), 'names', 'built-in data when there is no --data: names, English first names; sotu, the State of the Union addresses (running text)'),
  format: optional(choice('words', 'text'), 'words, one per line, or text, running text trained on windows in the sequence view; absent, text for --dataset sotu, else words'),
  window: withDefault(wholeNumber(), 128, 'target characters of a training window on running text'),
  arch: withDefault(choice('wavenet', 'mlp'), 'wavenet', 'architecture: wavenet, the tree of fusions, or mlp, the flat baseline'),
  levels: withDefault(wholeNumber(), 3, 'fusion levels of --arch wavenet; the model sees group-size^levels characters'),
  groupSize: withDefault(wholeNumber(2, 'a fusion joins neighbours'), 2, 'neighbours fused per level of --arch wavenet'),
  residual: flag('residual connections (--arch wavenet): each level above the first adds its newest input'),
  skip: flag('skip connections (--arch wavenet): the head reads the sum of every level\'s fusion output at the newest step (with --residual, the top level\'s output already is)'),
  dropout: withDefault(dropProbability, 0,
    'dropout after each level\'s tanh (--arch wavenet), in training only: the probability of dropping a value; 0, no dropout layers'),
  context: withDefault(wholeNumber(), 8, 'characters of context of --arch mlp'),
  embedding: withDefault(wholeNumber(), 24, 'width of a character vector'),
  hidden: withDefault(wholeNumber(), 128, 'width of a fused vector'),
  mode: withDefault(choice('example', 'sequence'), 'example',
    'what a step trains on: example, minibatches of (context, next character) examples; sequence, whole words with each node of the tree computed once'),
  steps: optional(wholeNumber(), perMode('total training steps, counting those of --resume', 'steps')),
  batch: optional(wholeNumber(2, 'batchnorm normalises over the batch'),
    perMode('examples per step; in sequence mode, target characters per step (n + 1 for a word of n), filled with whole words; on running text, windows per step', 'batch')),
  optimizer: optional(choice('sgd', 'adamw'), perMode('optimizer', 'optimizer')),
  lr: optional(positiveNumber, `learning rate; absent, ${LEARNING_RATES.sgd} for sgd and ${LEARNING_RATES.adamw} for adamw`),
  lrSchedule: optional(choice('step', 'cosine'), perMode('learning-rate schedule: step decays once at --lr-decay-at; cosine falls to lr · --lr-decay along half a cosine', 'lrSchedule')),
  lrDecayAt: withDefault(fraction, LR_DECAY_AT, 'fraction of the steps after which the step schedule decays the learning rate'),
  lrDecay: optional(nonNegativeNumber, perMode('factor of the learning rate after the decay (step) or at the end (cosine)', 'lrDecay')),
  weightDecay: withDefault(nonNegativeNumber, ADAMW_DEFAULTS.weightDecay, 'weight decay of --optimizer adamw'),
  seed: withDefault(seedNumber, 42, "seed of the initialisation, the split and the minibatches; on --resume, the checkpoint's"),
  evalEvery: optional(wholeNumber(), `steps between validation losses; absent, --steps / ${VALIDATIONS_PER_RUN}`),
  stopAtVal: optional(positiveNumber, 'stop at the first validation loss (nats) at or below this: time to quality'),
  saveEvery: withDefault(wholeNumber(), 10_000, 'steps between checkpoints, and one at the end'),
  out: withDefault(file, 'model.safetensors', 'checkpoint to write; on --resume, the file resumed from'),
  force: flag('replace an existing --out; on --resume, also continue with another --batch, other data or another --backend'),
  resume: optional(file, 'continue the run saved in this checkpoint, up to --steps in total (give the same data flags)'),
  samples: withDefault(wholeNumber(), 10, 'words sampled at the end'),
})

/** A training configuration as decoded: every option, defaults filled in. */
export type TrainSettings = typeof TrainConfig.Type

/** The settings of a run in a mode: the options its recipe decides, filled in. */
export type RunSettings = Omit<TrainSettings, 'mode'> & { readonly mode: TrainingMode } & Required<Pick<TrainSettings, keyof (typeof RECIPES)['example']>>

/** The format of a run's data: as given; absent, running text for the built-in speeches, else words. */
export const formatOf = (value: TrainSettings): 'words' | 'text' => value.format ?? (value.data === undefined && value.dataset === 'sotu' ? 'text' : 'words')

/** The settings of a run in `mode`: each option absent takes the mode's recipe. */
export const inMode = (value: TrainSettings, mode: TrainingMode): RunSettings => {
  const recipe = RECIPES[mode]
  return {
    ...value, mode, steps: value.steps ?? recipe.steps, batch: value.batch ?? recipe.batch, optimizer: value.optimizer ?? recipe.optimizer,
    lrSchedule: value.lrSchedule ?? recipe.lrSchedule, lrDecay: value.lrDecay ?? recipe.lrDecay,
  }
}

/** A training configuration as a program gives it: every option may be left out. */
export type TrainOptions = typeof TrainConfig.Encoded
