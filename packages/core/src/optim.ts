/**
 * Optimizers as pure update functions (params, grads, state) → (params', state').
 * State is plain data: a step count and named slot tensors (AdamW's moments),
 * so it can be checkpointed by name (`optimizer.m.head.weight`).
 *
 * Each rule is one in-place kernel (`sgdUpdate`, `adamwUpdate`): the pure
 * `update` runs it with the reference kernels on copies, and a training
 * session that owns its buffers runs it in place with its own kernels. One
 * formula, so both give the same bits.
 */
import type { Kernels } from './kernels/kernels.js'
import { referenceKernels } from './kernels/reference.js'
import type { Named } from './layers/layer.js'
import { type FloatArray, type Tensor, tensor } from './tensor.js'

export interface OptimizerState {
  /** Updates taken so far. */
  readonly step: number
  /** Per-parameter state by slot, e.g. `{ m: {...}, v: {...} }` for AdamW; `{}` for SGD. */
  readonly slots: Readonly<Record<string, Named>>
}

export interface Optimizer {
  readonly name: string
  /** The names of the state's slots, in the order `updateInPlace` takes them (`['m', 'v']` for AdamW). */
  readonly slotNames: readonly string[]
  /** The state before the first update. */
  init(params: Named): OptimizerState
  /** One update. Returns new tensors; its arguments are left untouched. */
  update(params: Named, grads: Named, state: OptimizerState): [Named, OptimizerState]
  /**
   * The update from a state at `step`, in place with `kernels`, over n values
   * of flat buffers: the parameters, their gradients and one buffer per slot
   * (in `slotNames` order), all laid out alike. The rule is elementwise, so
   * any number of tensors laid end to end update in one call.
   */
  updateInPlace(
    kernels: Kernels, step: number, params: FloatArray, grads: FloatArray, slots: readonly FloatArray[], n: number,
  ): void
  /** The learning rate the update from `state` uses. */
  learningRate(step: number): number
}

/**
 * A learning-rate schedule over `totalSteps` updates from `lr`:
 * - `step` (the default), the lecture's step decay: `lr` for the first
 *   `decayAt`·`totalSteps` updates, `lr`·`decay` after (lr 0.1, then 0.01
 *   for the last quarter);
 * - `cosine`: from `lr` down to `lr`·`decay` along half a cosine,
 *   lr·(decay + (1 − decay)·(1 + cos(π·t / totalSteps)) / 2) at update t
 *   (`decayAt` unused).
 */
export interface Schedule {
  readonly lr: number
  readonly totalSteps: number
  readonly decayAt: number
  readonly decay: number
  readonly shape?: 'step' | 'cosine'
}

/** The learning rate of each update under a schedule. */
export const learningRateAt = (schedule: Schedule) => (step: number): number => {
  if (schedule.shape === 'cosine') {
    const t = Math.min(step, schedule.totalSteps) / schedule.totalSteps
    return schedule.lr * (schedule.decay + ((1 - schedule.decay) * (1 + Math.cos(Math.PI * t))) / 2)
  }
  return step < schedule.decayAt * schedule.totalSteps ? schedule.lr : schedule.lr * schedule.decay
}

/** `updateInPlace` without its kernels: the optimizer-specific part. */
type InPlace = Optimizer['updateInPlace']

/** The pure `update` of a rule: copies of each parameter and its slots, updated in place by the reference kernels. */
const pureUpdate = (name: string, slotNames: readonly string[], inPlace: InPlace): Optimizer['update'] =>
  (params, grads, state) => {
    const next: Record<string, Tensor> = {}
    const slots: Record<string, Record<string, Tensor>> = Object.fromEntries(slotNames.map((slot) => [slot, {}]))
    for (const [param, p] of Object.entries(params)) {
      const g = grads[param]
      if (g === undefined || g.data.length !== p.data.length) throw new RangeError(`no gradient of the right size for ${param}`)
      const data = p.data.slice()
      const slotData = slotNames.map((slot) => {
        const s = state.slots[slot]?.[param]
        if (s === undefined || s.data.length !== p.data.length) throw new RangeError(`no ${name} state ${slot} for ${param}`)
        const copy = s.data.slice()
        slots[slot]![param] = tensor(s.shape, copy)
        return copy
      })
      inPlace(referenceKernels, state.step, data, g.data, slotData, data.length)
      next[param] = tensor(p.shape, data)
    }
    return [next, { step: state.step + 1, slots }]
  }

/** Plain SGD: p ← p − lr·g, with the schedule's learning rate. */
export const sgd = (schedule: Schedule): Optimizer => {
  const learningRate = learningRateAt(schedule)
  const updateInPlace: InPlace = (kernels, step, params, grads, _slots, n) =>
    kernels.sgdUpdate(params, grads, learningRate(step), n)
  return {
    name: 'sgd',
    slotNames: [],
    learningRate,
    init: () => ({ step: 0, slots: {} }),
    update: pureUpdate('sgd', [], updateInPlace),
    updateInPlace,
  }
}

/** torch.optim.AdamW's defaults. */
export const ADAMW_DEFAULTS = { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 } as const

export interface AdamWOptions {
  readonly betas?: readonly [number, number]
  readonly eps?: number
  readonly weightDecay?: number
}

/**
 * AdamW (Loshchilov and Hutter), as torch.optim.AdamW: with t = step + 1,
 * p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
 * p ← p − lr·(m / (1 − β₁ᵗ)) / (sqrt(v / (1 − β₂ᵗ)) + ε).
 */
export const adamW = (schedule: Schedule, options: AdamWOptions = {}): Optimizer => {
  const [beta1, beta2] = options.betas ?? ADAMW_DEFAULTS.betas
  const eps = options.eps ?? ADAMW_DEFAULTS.eps
  const weightDecay = options.weightDecay ?? ADAMW_DEFAULTS.weightDecay
  const learningRate = learningRateAt(schedule)
  const slotNames = ['m', 'v']
  const zeros = (params: Named): Named =>
    Object.fromEntries(Object.entries(params).map(([name, p]) => [name, tensor(p.shape, new Float32Array(p.data.length))]))
  const updateInPlace: InPlace = (kernels, step, params, grads, slots, n) => {
    const m = slots[0]
    const v = slots[1]
    if (m === undefined || v === undefined) throw new RangeError('AdamW needs its m and v slots')
    const lr = learningRate(step)
    const t = step + 1
    kernels.adamwUpdate(params, grads, m, v, n, lr, beta1, beta2, eps, 1 - lr * weightDecay, 1 - beta1 ** t, 1 - beta2 ** t)
  }
  return {
    name: 'adamw',
    slotNames,
    learningRate,
    init: (params) => ({ step: 0, slots: { m: zeros(params), v: zeros(params) } }),
    update: pureUpdate('AdamW', slotNames, updateInPlace),
    updateInPlace,
  }
}

/** Everything needed to rebuild an optimizer: what a checkpoint records so a run can resume. */
export type OptimizerConfig =
  | ({ readonly kind: 'sgd' } & Schedule)
  | ({ readonly kind: 'adamw'; readonly betas: readonly [number, number]; readonly eps: number; readonly weightDecay: number } & Schedule)

/** The optimizer a configuration describes. */
export const optimizerFrom = (config: OptimizerConfig): Optimizer =>
  config.kind === 'sgd' ? sgd(config) : adamW(config, config)
