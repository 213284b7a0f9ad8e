/**
 * Optimizers as pure update functions (params, grads, state) → (params', state').
 * State is plain data: a step count and named slot tensors (AdamW's moments),
 * so it can be checkpointed by name (`optimizer.m.head.weight`).
 */
import type { Named } from './layers/layer.js'
import { type Tensor, tensor } from './tensor.js'

export interface OptimizerState {
  /** Updates taken so far. */
  readonly step: number
  /** Per-parameter state by slot, e.g. `{ m: {...}, v: {...} }` for AdamW; `{}` for SGD. */
  readonly slots: Readonly<Record<string, Named>>
}

export interface Optimizer {
  readonly name: string
  /** The state before the first update. */
  init(params: Named): OptimizerState
  /** One update. Returns new tensors; its arguments are left untouched. */
  update(params: Named, grads: Named, state: OptimizerState): [Named, OptimizerState]
  /** The learning rate the update from `state` uses. */
  learningRate(step: number): number
}

/**
 * The lecture's step decay: `lr` for the first `decayAt`·`totalSteps`
 * updates, `lr`·`decay` after (lr 0.1, then 0.01 for the last quarter).
 */
export interface Schedule {
  readonly lr: number
  readonly totalSteps: number
  readonly decayAt: number
  readonly decay: number
}

export const stepDecay = (schedule: Schedule) => (step: number): number =>
  step < schedule.decayAt * schedule.totalSteps ? schedule.lr : schedule.lr * schedule.decay

const mapParams = (params: Named, f: (name: string, p: Tensor) => Tensor): Named =>
  Object.fromEntries(Object.entries(params).map(([name, p]) => [name, f(name, p)]))

const gradOf = (grads: Named, name: string, p: Tensor): Tensor => {
  const g = grads[name]
  if (g === undefined || g.data.length !== p.data.length) throw new RangeError(`no gradient of the right size for ${name}`)
  return g
}

/** Plain SGD: p ← p − lr·g, with the schedule's learning rate. */
export const sgd = (schedule: Schedule): Optimizer => {
  const learningRate = stepDecay(schedule)
  return {
    name: 'sgd',
    learningRate,
    init: () => ({ step: 0, slots: {} }),
    update(params, grads, state) {
      const lr = learningRate(state.step)
      const next = mapParams(params, (name, p) => {
        const g = gradOf(grads, name, p).data
        return tensor(p.shape, p.data.map((v, i) => v - lr * g[i]!))
      })
      return [next, { step: state.step + 1, slots: {} }]
    },
  }
}

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
  const [beta1, beta2] = options.betas ?? [0.9, 0.999]
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0.01
  const learningRate = stepDecay(schedule)
  const zeros = (params: Named): Named => mapParams(params, (_, p) => tensor(p.shape, new Float32Array(p.data.length)))
  return {
    name: 'adamw',
    learningRate,
    init: (params) => ({ step: 0, slots: { m: zeros(params), v: zeros(params) } }),
    update(params, grads, state) {
      const lr = learningRate(state.step)
      const t = state.step + 1
      const c1 = 1 - beta1 ** t
      const c2 = 1 - beta2 ** t
      const m: Record<string, Tensor> = {}
      const v: Record<string, Tensor> = {}
      const next = mapParams(params, (name, p) => {
        const g = gradOf(grads, name, p).data
        const m0 = state.slots['m']?.[name]?.data
        const v0 = state.slots['v']?.[name]?.data
        if (m0 === undefined || v0 === undefined) throw new RangeError(`no AdamW state for ${name}`)
        const m1 = m0.map((mi, i) => beta1 * mi + (1 - beta1) * g[i]!)
        const v1 = v0.map((vi, i) => beta2 * vi + (1 - beta2) * g[i]! * g[i]!)
        m[name] = tensor(p.shape, m1)
        v[name] = tensor(p.shape, v1)
        return tensor(p.shape, p.data.map((pi, i) => pi * (1 - lr * weightDecay) - (lr * (m1[i]! / c1)) / (Math.sqrt(v1[i]! / c2) + eps)))
      })
      return [next, { step: t, slots: { m, v } }]
    },
  }
}

/** Everything needed to rebuild an optimizer: what a checkpoint records so a run can resume. */
export type OptimizerConfig =
  | ({ readonly kind: 'sgd' } & Schedule)
  | ({ readonly kind: 'adamw'; readonly betas: readonly [number, number]; readonly eps: number; readonly weightDecay: number } & Schedule)

/** The optimizer a configuration describes. */
export const optimizerFrom = (config: OptimizerConfig): Optimizer =>
  config.kind === 'sgd' ? sgd(config) : adamW(config, config)
