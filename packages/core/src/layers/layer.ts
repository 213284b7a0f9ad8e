/**
 * What every layer kind provides. A layer is plain readonly data tagged by
 * `kind`; its operations live in a `LayerOps` value, collected into one typed
 * record in `sequential.ts`.
 */
import type { Kernels } from '../kernels/kernels.js'
import type { IndexTensor, Tensor } from '../tensor.js'

/** `train` uses batch statistics and updates running ones; `eval` uses the running ones. */
export type Mode = 'train' | 'eval'

/** What flows between layers: float activations, or token ids into an embedding. */
export type Activation = Tensor | IndexTensor

/** Named tensors, e.g. `{ weight, bias }`; nested layers prefix their children's names. */
export type Named = Readonly<Record<string, Tensor>>

export interface Forward<L, T> {
  /** The output. */
  readonly y: Tensor
  /** What backward needs from this forward pass. */
  readonly tape: T
  /** The layer after the pass: a new value when training updated its running statistics. */
  readonly layer: L
}

export interface Backward {
  /** Gradient with respect to the input; `null` for integer inputs (token ids). */
  readonly dx: Tensor | null
  /** Gradient of each trainable parameter, by the names `parameters` uses. */
  readonly grads: Named
}

export interface LayerOps<L, T> {
  forward(kernels: Kernels, layer: L, x: Activation, mode: Mode): Forward<L, T>
  backward(kernels: Kernels, layer: L, tape: T, dy: Tensor): Backward
  /** Trainable tensors by name. */
  parameters(layer: L): Named
  /** Non-trainable state (running statistics) by name. */
  buffers(layer: L): Named
  /** The same layer with some of its parameters and buffers replaced (by the names above). */
  withTensors(layer: L, tensors: Named): L
}

/** The float tensor an activation must be for layers that take no token ids. */
export const floatInput = (x: Activation, kind: string): Tensor => {
  if (x.data instanceof Int32Array) throw new TypeError(`${kind} expects a float tensor, got token ids`)
  return x as Tensor
}

/** The tensor `name` of `tensors` when present, checked to keep the shape of `current`. */
export const replaced = (tensors: Named, name: string, current: Tensor): Tensor => {
  const next = tensors[name]
  if (next === undefined) return current
  if (next.shape.length !== current.shape.length || next.shape.some((d, i) => d !== current.shape[i])) {
    throw new RangeError(`${name}: shape [${next.shape.join(', ')}] does not match [${current.shape.join(', ')}]`)
  }
  return next
}
