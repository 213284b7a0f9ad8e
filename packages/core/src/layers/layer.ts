/**
 * What every layer kind provides. A layer is plain readonly data tagged by
 * `kind`; its operations live in a `LayerOps` value, collected into one typed
 * record in `sequential.ts`.
 *
 * A layer's description is the layer without its tensors: its kind and sizes,
 * as JSON. From a description alone follow the names and shapes of the
 * layer's tensors, so a checkpoint can be checked against it before a single
 * tensor is allocated, and the layer rebuilt from the file's tensors.
 */
import * as E from 'fp-ts/lib/Either.js'
import { isJsonObject } from '../json.js'
import type { Kernels } from '../kernels/kernels.js'
import type { IndexTensor, Tensor } from '../tensor.js'

/**
 * `train` uses batch statistics and updates running ones; `eval` uses the
 * running ones and passes through dropout. Training with dropout layers
 * takes the step's seed as data (a whole number in [0, 2^31), one element),
 * from which each dropout layer draws its mask: `{ seed }`.
 */
export type Mode = 'train' | 'eval' | SeededTraining

/** Train mode with the step's seed, for networks with dropout layers. */
export interface SeededTraining {
  readonly seed: IndexTensor
}

/** Train mode, seeded when a seed is given. */
export const trainingMode = (seed: IndexTensor | undefined): Mode => (seed === undefined ? 'train' : { seed })

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

/** Tensor shapes by name, e.g. `{ weight: [out, in], bias: [out] }`. */
export type TensorShapes = Readonly<Record<string, readonly number[]>>

/**
 * Where the nodes of the sequence view come from (`sequence.ts`). For a
 * fusion of `group` neighbours `dilation` time steps apart over the nodes x
 * (N, C) of the level below: the table of nodes it reads (x itself when
 * training on whole words; x with the past nodes a generator keeps) and, for
 * each node of its level, the rows of the table it fuses, oldest first ((M·group)
 * row indices for M nodes). It may call kernels to build the table.
 */
export interface Packing {
  fusion(kernels: Kernels, x: Tensor, group: number, dilation: number): { readonly nodes: Tensor; readonly sources: IndexTensor }
  /**
   * The rows of a level of nodes `stride` steps apart that stand at the
   * positions of the top level's nodes, in the top level's order: what a
   * skip connection reads of the level. `undefined` when the level has a
   * node at every position the top has, row for row (whole words, a
   * generator). Windows of running text compute a level's nodes only where
   * its whole field lies in the window, fewer at each level up.
   */
  at(stride: number): IndexTensor | undefined
}

/** A pass in the sequence view: the output nodes, and the time between neighbouring nodes at the output. */
export interface SequencePass<L, T> extends Forward<L, T> {
  readonly stride: number
}

/**
 * A layer in the sequence view, where time is an axis of nodes rather than
 * of each example: the tree's nodes are computed once each and shared by
 * every later position that sees them.
 */
export interface SequenceOps<L, T> {
  /** Nodes x (N, C) whose neighbours are `stride` steps apart → this layer's nodes. */
  forward(kernels: Kernels, layer: L, x: Activation, stride: number, packing: Packing, mode: Mode): SequencePass<L, T>
  backward(kernels: Kernels, layer: L, tape: T, dy: Tensor): Backward
}

export interface LayerOps<L, T, D> {
  forward(kernels: Kernels, layer: L, x: Activation, mode: Mode): Forward<L, T>
  backward(kernels: Kernels, layer: L, tape: T, dy: Tensor): Backward
  /** Trainable tensors by name. */
  parameters(layer: L): Named
  /** Non-trainable state (running statistics) by name. */
  buffers(layer: L): Named
  /** The same layer with some of its parameters and buffers replaced (by the names above). */
  withTensors(layer: L, tensors: Named): L
  /**
   * The shape of the output for an input of shape `input` (axis 0 is the
   * batch); a RangeError that names the mismatch when the layer cannot take
   * that input. The layer's forward checks its input with it.
   */
  outputShape(layer: L, input: readonly number[]): readonly number[]
  /** Time steps of input the layer needs to give `steps` time steps of output. */
  inputSteps(layer: L, steps: number): number
  /** The layer's description: its kind and sizes, JSON, without tensors. */
  describe(layer: L): D
  /** A description read from untrusted JSON, every field checked; `Left` says what is wrong. */
  parse(json: unknown): E.Either<string, D>
  /** The names and shapes of the parameters and buffers of the described layer, computed without allocating. */
  tensorShapes(description: D): TensorShapes
  /** The described layer over the given tensors (named as `tensorShapes` names them, each of that shape). */
  build(description: D, tensors: Named): L
  /**
   * The layer in the sequence view. Absent for layers that act on each
   * position alone: the sequence view runs their own forward and backward on
   * its (N, C) matrices of nodes.
   */
  readonly sequence?: SequenceOps<L, unknown>
}

/** The ops of a kind without tensors that maps each value alone: its output has its input's shape. */
export const elementwiseOps = <L, D>(): Pick<LayerOps<L, unknown, D>, 'parameters' | 'buffers' | 'withTensors' | 'outputShape' | 'inputSteps' | 'tensorShapes'> => ({
  parameters: () => ({}),
  buffers: () => ({}),
  withTensors: (layer) => layer,
  outputShape: (_layer, input) => input,
  inputSteps: (_layer, steps) => steps,
  tensorShapes: () => ({}),
})

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

/** A shape as text: `[2, 3]`, or with a named axis `[B, 3]`. */
export const shapeText = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`

/** The tensor `name` of `tensors`, which must be present with shape `shape`. */
export const tensorOfShape = (tensors: Named, name: string, shape: readonly number[]): Tensor => {
  const t = tensors[name]
  if (t === undefined) throw new RangeError(`missing tensor "${name}"`)
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`tensor "${name}" has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`)
  }
  return t
}

/** A value of untrusted JSON in an error message: short and on one line. */
const shown = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

/**
 * The fields of a description of kind `kind`: an object whose keys are
 * exactly `kind` and `fields`. Unknown fields are refused rather than
 * ignored: a field this version does not know may change what the layer
 * computes.
 */
export const descriptionFields = (
  json: unknown, kind: string, fields: readonly string[],
): E.Either<string, Readonly<Record<string, unknown>>> => {
  if (!isJsonObject(json)) return E.left(`a ${kind} description must be an object`)
  if (json['kind'] !== kind) return E.left(`a ${kind} description needs "kind": "${kind}"`)
  const unknown = Object.keys(json).find((key) => key !== 'kind' && !fields.includes(key))
  if (unknown !== undefined) return E.left(`${kind}: unknown field ${shown(unknown)}`)
  const missing = fields.find((field) => !Object.hasOwn(json, field))
  return missing === undefined ? E.right(json) : E.left(`${kind}: missing field "${missing}"`)
}

/** The field `name` of a description of kind `kind`, a whole number from 1 to `max`. */
export const sizeField = (kind: string, fields: Readonly<Record<string, unknown>>, name: string, max: number): E.Either<string, number> => {
  const value = fields[name]
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max
    ? E.right(value)
    : E.left(`${kind}: ${name} must be a whole number from 1 to ${max}, got ${shown(value)}`)
}

/** The field `name` of a description of kind `kind`, a finite number that `valid` accepts (as `what` says). */
export const numberField = (
  kind: string, fields: Readonly<Record<string, unknown>>, name: string, what: string, valid: (x: number) => boolean,
): E.Either<string, number> => {
  const value = fields[name]
  return typeof value === 'number' && Number.isFinite(value) && valid(value)
    ? E.right(value)
    : E.left(`${kind}: ${name} must be ${what}, got ${shown(value)}`)
}
