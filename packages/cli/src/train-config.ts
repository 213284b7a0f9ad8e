/**
 * The training configuration: every option of a run, with its default, its
 * limits and its help, in one Schema. `wavenet train` parses and explains its
 * flags from it; `train()` decodes what a program passes with it. The
 * defaults are the lecture's recipe: SGD at lr 0.1, then 0.01 for the last
 * quarter of the steps.
 *
 * Limits that involve several options at once (a context too long, a model
 * too large) are checked when the run starts, against the model-size limits
 * of `@wavenet/core` that checkpoint decoding uses too.
 */
import { Schema } from 'effect'
import {
  choice, file, flag, fraction, nonNegativeNumber, optional, positiveNumber, seedNumber, wholeNumber, withDefault,
} from './options.js'

/** Each optimizer's learning rate when `--lr` is not given. */
export const LEARNING_RATES = { sgd: 0.1, adamw: 3e-3 } as const

/** AdamW's moment decay rates and epsilon: torch.optim.AdamW's, not options. */
export const ADAMW_MOMENTS = { betas: [0.9, 0.999], eps: 1e-8 } as const

/** Validation losses in a run when `--eval-every` is not given. */
export const VALIDATIONS_PER_RUN = 10

export const TrainConfig = Schema.Struct({
  data: optional(file, 'training words, one per line (UTF-8); absent, the built-in English first names'),
  val: optional(file, 'validation words; absent, the data is split 80/10/10 with --seed'),
  arch: withDefault(choice('wavenet', 'mlp'), 'wavenet', 'architecture: wavenet, the tree of fusions, or mlp, the flat baseline'),
  levels: withDefault(wholeNumber(), 3, 'fusion levels of --arch wavenet; the model sees group-size^levels characters'),
  groupSize: withDefault(wholeNumber(2, 'a fusion joins neighbours'), 2, 'neighbours fused per level of --arch wavenet'),
  context: withDefault(wholeNumber(), 8, 'characters of context of --arch mlp'),
  embedding: withDefault(wholeNumber(), 24, 'width of a character vector'),
  hidden: withDefault(wholeNumber(), 128, 'width of a fused vector'),
  steps: withDefault(wholeNumber(), 200_000, 'total training steps, counting those of --resume'),
  batch: withDefault(wholeNumber(2, 'batchnorm normalises over the batch'), 32, 'examples per step'),
  optimizer: withDefault(choice('sgd', 'adamw'), 'sgd', 'optimizer'),
  lr: optional(positiveNumber, `learning rate; absent, ${LEARNING_RATES.sgd} for sgd and ${LEARNING_RATES.adamw} for adamw`),
  lrDecayAt: withDefault(fraction, 0.75, 'fraction of the steps after which the learning rate decays'),
  lrDecay: withDefault(nonNegativeNumber, 0.1, 'factor applied to the learning rate at --lr-decay-at'),
  weightDecay: withDefault(nonNegativeNumber, 0.01, 'weight decay of --optimizer adamw'),
  seed: withDefault(seedNumber, 42, "seed of the initialisation, the split and the minibatches; on --resume, the checkpoint's"),
  evalEvery: optional(wholeNumber(), `steps between validation losses; absent, --steps / ${VALIDATIONS_PER_RUN}`),
  saveEvery: withDefault(wholeNumber(), 10_000, 'steps between checkpoints, and one at the end'),
  out: withDefault(file, 'model.safetensors', 'checkpoint to write; on --resume, the file resumed from'),
  force: flag('replace an existing --out'),
  resume: optional(file, 'continue the run saved in this checkpoint, up to --steps in total (give the same data flags)'),
  samples: withDefault(wholeNumber(), 10, 'words sampled at the end'),
})

/** A training configuration as decoded: every option, defaults filled in. */
export type TrainSettings = typeof TrainConfig.Type

/** A training configuration as a program gives it: every option may be left out. */
export type TrainOptions = typeof TrainConfig.Encoded
