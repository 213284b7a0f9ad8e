/**
 * What a training run will allocate, counted before it allocates it, and the
 * limits it must fit: the per-example contexts of the training split, and
 * the training memory (parameters, gradients, optimizer state and a step's
 * activations). A run beyond either is refused with one line naming the
 * size, where it would otherwise exhaust memory minutes later.
 */
import type { ModelConfig, TrainingMode } from '@wavenet/core'
import { UsageError } from './errors.js'

/** Most token ids the per-example contexts of a run may hold: 2^28 (1 GiB of int32). */
export const MAX_CONTEXT_IDS = 2 ** 28

/** Most scalars a run may train with at once: 2^29 (2 GiB of float32). */
export const MAX_TRAINING_SCALARS = 2 ** 29

const GIB = 2 ** 30

/** A size in bytes, as people read it. */
const bytes = (n: number): string => (n >= GIB ? `${(n / GIB).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`)

/**
 * Scalars of a step's forward activations (B, the batch): the embeddings
 * (B, T, E), each fusion's linear, normalised and tanh outputs (B, T/g^(l+1),
 * H) and its dropout's, the logits and probabilities (B, V). In sequence
 * mode each node is computed once per position: B outputs take about 2B rows (tokens and
 * boundaries) at every level. On running text, `batch` windows of R − 1 +
 * `window` tokens have at most that many nodes at every level.
 */
export const stepActivations = (recipe: ModelConfig, mode: TrainingMode, batch: number, window: number): number => {
  const { embedding: e, hidden: h, vocab: v } = recipe
  const levels = recipe.kind === 'wavenet' ? recipe.levels : 1
  const perNode = recipe.kind === 'wavenet' && recipe.dropout !== undefined ? 4 : 3
  const field = recipe.kind === 'wavenet' ? recipe.groupSize ** recipe.levels : recipe.context
  if (mode === 'sequence') return 2 * batch * (e + perNode * levels * h + 2 * v)
  if (mode === 'text') return batch * ((field - 1 + window) * (e + perNode * levels * h) + 2 * window * v)
  let fused = 0
  if (recipe.kind === 'wavenet') for (let steps = field / recipe.groupSize; steps >= 1; steps /= recipe.groupSize) fused += steps
  else fused = 1
  return batch * (field * e + perNode * fused * h + 2 * v)
}

/**
 * Refuses per-example contexts that would not fit: `examples` rows of
 * `field` token ids each. `flags` names what sets the context.
 */
export const checkContexts = (examples: number, field: number, flags: string): UsageError | undefined => {
  const ids = examples * field
  if (ids <= MAX_CONTEXT_IDS) return undefined
  return new UsageError({
    message: `${flags} a context of ${field} characters: the contexts of ${examples} training examples would take ${ids} token ids ` +
      `(${bytes(4 * ids)}), more than ${MAX_CONTEXT_IDS} (${bytes(4 * MAX_CONTEXT_IDS)}); use a shorter context, or --mode sequence, which builds none`,
  })
}

/**
 * Refuses a run whose training memory would not fit: the model's `scalars`
 * (parameters and running statistics) with their gradients and `slots`
 * optimizer moments each, and a step's activations when the recipe is known.
 */
export const checkTrainingMemory = (
  scalars: number, slots: number, recipe: ModelConfig | undefined, mode: TrainingMode, batch: number, window: number,
): UsageError | undefined => {
  const activations = recipe === undefined ? 0 : stepActivations(recipe, mode, batch, window)
  const total = scalars * (2 + slots) + activations
  if (total <= MAX_TRAINING_SCALARS) return undefined
  return new UsageError({
    message: `this run needs about ${bytes(4 * total)} (${scalars} parameters with their gradients${slots > 0 ? ' and optimizer moments' : ''}, ` +
      `and ${activations} activations a step at --batch ${batch}), more than the ${bytes(4 * MAX_TRAINING_SCALARS)} a run may take; ` +
      'use a smaller --batch, --embedding or --hidden, or fewer --levels',
  })
}
