/**
 * Skip: WaveNet's skip connections. The layers of `body` run in order, each
 * on the one before's output (one level of the tree each), and the output is
 * the sum of every layer's output at the newest time step: in the tree, each
 * output's last step (the whole output when its time axis is gone); in the
 * sequence view, each output's nodes at the top level's positions (every
 * node, where every level has a node at every position; the rows the
 * packing lists, in windows of text). So the head reads every level at the
 * position it predicts from, in both views alike. Every layer's output must have the same width.
 *
 * The layer adds no tensors and no name: its tensors are body's, as named
 * there (so `fuse.{l}.…` stays the tree's names).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Kernels } from '../kernels/kernels.js'
import { type IndexTensor, type Tensor, tensor } from '../tensor.js'
import type { Activation, Backward, LayerOps, Mode, Named, Packing } from './layer.js'
import { descriptionFields, shapeText } from './layer.js'
import type { Dispatch, Layer, Sequential, SequentialDescription } from './sequential.js'

export interface Skip {
  readonly kind: 'skip'
  readonly body: Sequential
}

export interface SkipDescription {
  readonly kind: 'skip'
  readonly body: SequentialDescription
}

/** The sum of every layer's output at the newest time step (see the module comment). */
export const skip = (body: Sequential): Skip => {
  if (body.layers.length === 0) throw new RangeError('skip needs at least one layer')
  return { kind: 'skip', body }
}

interface SkipTape {
  readonly tapes: readonly unknown[]
  /** Shape of each layer's output. */
  readonly shapes: readonly (readonly number[])[]
  /** Where each layer's output was read. */
  readonly taps: readonly Tap[]
}

/**
 * Where an output is read at the newest step: rows at a stride (each
 * example's last step in the tree; every node in the sequence view), or the
 * rows a packing lists (windows of text, whose levels hold fewer nodes each).
 */
type Tap =
  | { readonly rows: number; readonly width: number; readonly stride: number; readonly offset: number; readonly list?: undefined }
  | { readonly rows: number; readonly width: number; readonly list: IndexTensor }

/** The tap of an output of shape `shape`: the rows `list` names, else every row (`everyRow`, the sequence view) or each example's last step. */
const tapOf = (shape: readonly number[], everyRow: boolean, list: IndexTensor | undefined): Tap => {
  const width = shape[shape.length - 1]!
  if (list !== undefined) return { rows: list.data.length, width, list }
  const size = shape.reduce((n, d) => n * d, 1)
  if (everyRow || shape.length === 2) return { rows: size / width, stride: width, offset: 0, width }
  const steps = shape[shape.length - 2]!
  return { rows: size / (steps * width), stride: steps * width, offset: (steps - 1) * width, width }
}

/** Writes (`first`) or adds the tapped rows of y into `sum` (tap rows × width). */
const collect = (k: Kernels, y: Tensor, t: Tap, sum: Tensor, first: boolean): void => {
  if (t.list === undefined) {
    k.addStrided(y.data, t.stride, t.offset, sum.data, t.width, 0, t.rows, t.width, !first)
    return
  }
  const rows = first ? sum.data : k.alloc(sum.data, t.rows * t.width)
  k.gather(y.data, t.list.data, rows, t.rows, t.width)
  if (!first) k.addStrided(rows, t.width, 0, sum.data, t.width, 0, t.rows, t.width, true)
}

/** The gradient of an output of shape `shape` through its tap: dy on the tapped rows, plus `d` (the gradient from the layer after) when there is one. */
const spread = (k: Kernels, dy: Tensor, t: Tap, shape: readonly number[], d: Tensor | null): Tensor => {
  const size = shape.reduce((n, s) => n * s, 1)
  if (t.list !== undefined) {
    const data = k.alloc(dy.data, size)
    k.scatterAdd(dy.data, t.list.data, data, t.rows, t.width, size / t.width)
    if (d !== null) k.addStrided(data, t.width, 0, d.data, t.width, 0, size / t.width, t.width, true)
    return d ?? tensor(shape, data)
  }
  if (d !== null) {
    k.addStrided(dy.data, t.width, 0, d.data, t.stride, t.offset, t.rows, t.width, true)
    return tensor(shape, d.data)
  }
  // The last layer's output feeds the sum alone.
  if (t.offset !== 0 || t.stride !== t.width) throw new RangeError('skip: the last layer must end the time axis')
  const data = k.alloc(dy.data, size)
  k.addStrided(dy.data, t.width, 0, data, t.stride, t.offset, t.rows, t.width, false)
  return tensor(shape, data)
}

/** A layer's pass, and where its output is read (undefined: as `tapOf` decides without a list). */
type Pass = (child: Layer, x: Activation) => { y: Tensor; tape: unknown; layer: Layer; list?: IndexTensor | undefined }

const run = (k: Kernels, layer: Skip, x: Activation, everyRow: boolean, pass: Pass) => {
  const tapes: unknown[] = []
  const shapes: (readonly number[])[] = []
  const taps: Tap[] = []
  const layers: Layer[] = []
  let input = x
  let sum: Tensor | undefined
  for (const child of layer.body.layers) {
    const out = pass(child, input)
    const t = tapOf(out.y.shape, everyRow, out.list)
    tapes.push(out.tape)
    shapes.push(out.y.shape)
    taps.push(t)
    layers.push(out.layer)
    const first = sum === undefined
    if (sum === undefined) sum = tensor([t.rows, t.width], k.alloc(out.y.data, t.rows * t.width))
    else if (sum.shape[1] !== t.width || sum.shape[0] !== t.rows) {
      throw new RangeError(`skip: layer outputs ${shapeText(sum.shape)} and ${shapeText(out.y.shape)} cannot be summed`)
    }
    collect(k, out.y, t, sum, first)
    input = out.y
  }
  const after = layers.every((l, i) => l === layer.body.layers[i]) ? layer : skip({ ...layer.body, layers })
  return { y: sum!, tape: { tapes, shapes, taps } satisfies SkipTape, layer: after }
}

/** Each layer's gradient: its tap's share of dy, plus (but for the last) the gradient flowing back from the layer after it. */
const back = (k: Kernels, layer: Skip, tape: SkipTape, dy: Tensor, pass: (child: Layer, tape: unknown, dy: Tensor) => Backward): Backward => {
  const grads: Named[] = []
  let d: Tensor | null = null
  for (let i = layer.body.layers.length - 1; i >= 0; i--) {
    const out = pass(layer.body.layers[i]!, tape.tapes[i], spread(k, dy, tape.taps[i]!, tape.shapes[i]!, d))
    grads.push(Object.fromEntries(Object.entries(out.grads).map(([name, g]) => [`${layer.body.names[i]!}.${name}`, g])))
    d = out.dx
    if (d === null && i > 0) throw new RangeError(`no gradient flows into layer ${layer.body.names[i - 1]}: token ids feed only the first layer`)
  }
  return { dx: d, grads: Object.assign({}, ...grads) }
}

/** The layer's ops, over the dispatch of its layers. */
export const skipOps = (d: Dispatch): LayerOps<Skip, SkipTape, SkipDescription> => ({
  forward: (k, layer, x, mode) => run(k, layer, x, false, (child, input) => d.forward(k, child, input, mode)),
  backward: (k, layer, tape, dy) => back(k, layer, tape, dy, (child, t, g) => d.backward(k, child, t, g)),
  sequence: {
    forward(k: Kernels, layer: Skip, x: Activation, stride: number, packing: Packing, mode: Mode) {
      let current = stride
      const out = run(k, layer, x, true, (child, input) => {
        const step = d.sequenceForward(k, child, input, current, packing, mode)
        current = step.stride
        return { ...step, list: packing.at(current) }
      })
      return { ...out, stride: current }
    },
    backward: (k, layer, tape, dy) => back(k, layer, tape as SkipTape, dy, (child, t, g) => d.sequenceBackward(k, child, t, g)),
  },
  parameters: (layer) => d.layerParameters(layer.body),
  buffers: (layer) => d.layerBuffers(layer.body),
  withTensors: (layer, tensors) => skip(d.withTensors(layer.body, tensors)),
  outputShape(layer, input) {
    let shape = input
    let width: number | undefined
    let batch = 0
    for (const child of layer.body.layers) {
      shape = d.outputShape(child, shape)
      const w = shape[shape.length - 1]!
      if (width !== undefined && w !== width) throw new RangeError(`skip: layer outputs of widths ${width} and ${w} cannot be summed`)
      width = w
      batch = shape[0]!
    }
    if (shape.length !== 2) throw new RangeError(`skip: the last layer must end the time axis, got ${shapeText(shape)}`)
    return [batch, width!]
  },
  inputSteps: (layer, steps) => d.inputSteps(layer.body, steps),
  describe: (layer) => ({ kind: 'skip', body: d.describeLayer(layer.body) }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'skip', ['body']),
      E.chain(({ body }) => d.parseLayer(body)),
      E.chain((body) => (body.kind === 'sequential' ? E.right({ kind: 'skip' as const, body }) : E.left('skip: body must be a sequential'))),
    ),
  tensorShapes: (description) => d.tensorShapes(description.body),
  build: (description, tensors) => skip(d.buildLayer(description.body, tensors)),
})
