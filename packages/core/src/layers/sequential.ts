/**
 * Sequential: layers applied in order. Forward folds over the layers, backward
 * folds over them in reverse. Every layer kind is dispatched through one typed
 * record, `layerOps`: adding a kind is one file and one entry here.
 *
 * Parameter names are the child's name, a dot, and the child's own name for
 * the tensor (`fuse.0.linear.weight`).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { isJsonObject, jsonDepth } from '../json.js'
import type { Kernels } from '../kernels/kernels.js'
import { MAX_DESCRIPTION_DEPTH, MAX_LAYERS, MAX_PARAMETERS } from '../limits.js'
import { size, type Tensor } from '../tensor.js'
import { type BatchNorm1d, type BatchNormDescription, batchNormOps } from './batchnorm.js'
import { type Dropout, type DropoutDescription, dropoutOps } from './dropout.js'
import { type Embedding, type EmbeddingDescription, embeddingOps } from './embedding.js'
import { type FlattenConsecutive, type FlattenDescription, flattenOps } from './flatten.js'
import type { Activation, Backward, Forward, LayerOps, Mode, Named, Packing, SequencePass, TensorShapes } from './layer.js'
import { descriptionFields } from './layer.js'
import { type Linear, type LinearDescription, linearOps } from './linear.js'
import { type Residual, type ResidualDescription, residualOps } from './residual.js'
import { type Skip, type SkipDescription, skipOps } from './skip.js'
import { type Tanh, type TanhDescription, tanhOps } from './tanh.js'

export interface Sequential {
  readonly kind: 'sequential'
  readonly layers: readonly Layer[]
  /** One name per layer: the prefix of its tensors' names. */
  readonly names: readonly string[]
}

/** Every layer kind. */
export type Layer = Embedding | FlattenConsecutive | Linear | BatchNorm1d | Tanh | Dropout | Sequential | Residual | Skip

export interface SequentialDescription {
  readonly kind: 'sequential'
  readonly names: readonly string[]
  readonly layers: readonly LayerDescription[]
}

/** The description of every layer kind: its kind and sizes, without tensors (JSON). */
export type LayerDescription =
  | EmbeddingDescription | FlattenDescription | LinearDescription | BatchNormDescription | TanhDescription | DropoutDescription
  | SequentialDescription | ResidualDescription | SkipDescription

/** The description type of a layer type. */
export type DescriptionOf<L extends Layer> = Extract<LayerDescription, { readonly kind: L['kind'] }>

/** The layer type of a description type. */
export type LayerOf<D extends LayerDescription> = Extract<Layer, { readonly kind: D['kind'] }>

/**
 * Why `names` cannot name a Sequential's layers, or undefined when they can:
 * one non-empty name per layer, and no tensor name that two layers could
 * both claim — so no name is another's followed by a dot (`a` and `a.b`
 * would both own `a.b.weight`).
 */
const namingProblem = (names: readonly string[], count: number): string | undefined => {
  if (names.length !== count) return 'sequential needs one name per layer'
  if (names.some((name) => name === '')) return 'sequential layer names must not be empty'
  if (new Set(names).size !== names.length) return 'sequential layer names must be distinct'
  // Each name's prefixes up to a dot, looked up: linear in the names' length, for hostile files of thousands of layers.
  const taken = new Set(names)
  const clash = names.flatMap((name) => [...name.matchAll(/\./g)].map((dot) => name.slice(0, dot.index))).find((prefix) => taken.has(prefix))
  return clash === undefined ? undefined : `sequential layer name "${clash}" followed by a dot begins another layer's name`
}

/** Layers in order, named by `names` (default: their positions). */
export const sequential = (layers: readonly Layer[], names: readonly string[] = layers.map((_, i) => `${i}`)): Sequential => {
  const problem = namingProblem(names, layers.length)
  if (problem !== undefined) throw new RangeError(problem)
  return { kind: 'sequential', layers: [...layers], names: [...names] }
}

export type SequentialTape = readonly unknown[]

type OpsRecord = {
  readonly [K in Layer['kind']]: LayerOps<Extract<Layer, { kind: K }>, unknown, Extract<LayerDescription, { kind: K }>>
}

const prefixed = (prefix: string, named: Named): Named =>
  Object.fromEntries(Object.entries(named).map(([name, t]) => [`${prefix}.${name}`, t]))

const childTensors = (prefix: string, named: Named): Named =>
  Object.fromEntries(
    Object.entries(named)
      .filter(([name]) => name.startsWith(`${prefix}.`))
      .map(([name, t]) => [name.slice(prefix.length + 1), t]),
  )

const collect = (layer: Sequential, pick: (child: Layer) => Named): Named =>
  Object.assign({}, ...layer.layers.map((child, i) => prefixed(layer.names[i]!, pick(child))))

/** Runs `f` on the child named `name`, saying which child a RangeError comes from. */
const inChild = <A>(name: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(`layer "${name}": ${e.message}`)
    throw e
  }
}

const parseSequential = (json: unknown): E.Either<string, SequentialDescription> => {
  // Checked first, without recursion: the children are parsed recursively.
  if (jsonDepth(json) > MAX_DESCRIPTION_DEPTH) return E.left(`sequential: the description nests deeper than ${MAX_DESCRIPTION_DEPTH} levels`)
  return pipe(
    descriptionFields(json, 'sequential', ['names', 'layers']),
    E.chain(({ names, layers }) => {
      if (!Array.isArray(layers) || layers.length > MAX_LAYERS) return E.left(`sequential: layers must be a list of at most ${MAX_LAYERS} descriptions`)
      if (!Array.isArray(names) || !names.every((n): n is string => typeof n === 'string')) return E.left('sequential: names must be a list of strings')
      const problem = namingProblem(names, layers.length)
      if (problem !== undefined) return E.left(problem)
      const children: LayerDescription[] = []
      for (const [i, child] of layers.entries()) {
        const parsed = parseLayer(child)
        if (E.isLeft(parsed)) return E.left(`layer "${names[i]!}": ${parsed.left}`)
        children.push(parsed.right)
      }
      return E.right({ kind: 'sequential' as const, names, layers: children })
    }),
  )
}

/** One child's pass, as both views run it: the output (with what else the view threads along), its tape, the child after. */
interface ChildPass<X> {
  readonly out: X
  readonly tape: unknown
  readonly layer: Layer
}

/** Runs the children in order, each on the previous one's output; the layer after is the same value when no child changed. */
const foldForward = <X>(layer: Sequential, x: X, pass: (child: Layer, x: X) => ChildPass<X>) => {
  const tapes: unknown[] = []
  const layers: Layer[] = []
  let out = x
  for (const child of layer.layers) {
    const step = pass(child, out)
    tapes.push(step.tape)
    layers.push(step.layer)
    out = step.out
  }
  const after: Sequential = layers.every((l, i) => l === layer.layers[i]) ? layer : { ...layer, layers }
  return { out, tape: tapes as SequentialTape, layer: after }
}

/** Runs the children's gradients in reverse; each child's parameter gradients prefixed by its name. */
const foldBackward = (layer: Sequential, tape: SequentialTape, dy: Tensor, pass: (child: Layer, tape: unknown, dy: Tensor) => Backward): Backward => {
  const grads: Named[] = []
  let d: Tensor | null = dy
  for (let i = layer.layers.length - 1; i >= 0; i--) {
    if (d === null) throw new RangeError(`no gradient flows into layer ${layer.names[i]}: token ids feed only the first layer`)
    const out: Backward = pass(layer.layers[i]!, tape[i], d)
    grads.push(prefixed(layer.names[i]!, out.grads))
    d = out.dx
  }
  return { dx: d, grads: Object.assign({}, ...grads) }
}

const sequentialOps: LayerOps<Sequential, SequentialTape, SequentialDescription> = {
  forward(k, layer, x, mode) {
    const { out, tape, layer: after } = foldForward<Activation>(layer, x, (child, input) => {
      const step = forward(k, child, input, mode)
      return { out: step.y, tape: step.tape, layer: step.layer }
    })
    return { y: out as Tensor, tape, layer: after }
  },

  backward: (k, layer, tape, dy) => foldBackward(layer, tape, dy, (child, t, d) => backward(k, child, t, d)),

  sequence: {
    forward(k, layer, x, stride, packing, mode) {
      const { out, tape, layer: after } = foldForward(layer, { x: x as Activation, stride }, (child, input) => {
        const step = sequenceForward(k, child, input.x, input.stride, packing, mode)
        return { out: { x: step.y as Activation, stride: step.stride }, tape: step.tape, layer: step.layer }
      })
      return { y: out.x as Tensor, tape, layer: after, stride: out.stride }
    },
    backward: (k, layer, tape, dy) => foldBackward(layer, tape as SequentialTape, dy, (child, t, d) => sequenceBackward(k, child, t, d)),
  },

  parameters: (layer) => collect(layer, layerParameters),
  buffers: (layer) => collect(layer, layerBuffers),
  withTensors: (layer, tensors) => ({
    ...layer,
    layers: layer.layers.map((child, i) => withTensors(child, childTensors(layer.names[i]!, tensors))),
  }),
  outputShape: (layer, input) => layer.layers.reduce((shape, child, i) => inChild(layer.names[i]!, () => outputShape(child, shape)), input),
  inputSteps: (layer, steps) => layer.layers.reduceRight((s, child) => inputSteps(child, s), steps),
  describe: (layer) => ({ kind: 'sequential', names: [...layer.names], layers: layer.layers.map(describeLayer) }),
  parse: parseSequential,
  tensorShapes: (d) =>
    Object.fromEntries(d.layers.flatMap((child, i) => Object.entries(tensorShapes(child)).map(([name, shape]) => [`${d.names[i]!}.${name}`, shape]))),
  build: (d, tensors) =>
    sequential(d.layers.map((child, i) => inChild(d.names[i]!, () => buildLayer(child, childTensors(d.names[i]!, tensors)))), d.names),
}

/**
 * The generic operations, for layer kinds that hold other layers (defined in
 * their own files, which cannot import this one at load time).
 */
export interface Dispatch {
  readonly forward: typeof forward
  readonly backward: typeof backward
  readonly sequenceForward: typeof sequenceForward
  readonly sequenceBackward: typeof sequenceBackward
  readonly layerParameters: typeof layerParameters
  readonly layerBuffers: typeof layerBuffers
  readonly withTensors: typeof withTensors
  readonly outputShape: typeof outputShape
  readonly inputSteps: typeof inputSteps
  readonly describeLayer: typeof describeLayer
  readonly parseLayer: typeof parseLayer
  readonly tensorShapes: typeof tensorShapes
  readonly buildLayer: typeof buildLayer
}

// Each entry calls the function by name when used, after this module has loaded.
const dispatch: Dispatch = {
  forward: (...a) => forward(...a),
  backward: (...a) => backward(...a),
  sequenceForward: (...a) => sequenceForward(...a),
  sequenceBackward: (...a) => sequenceBackward(...a),
  layerParameters: (...a) => layerParameters(...a),
  layerBuffers: (...a) => layerBuffers(...a),
  withTensors: (...a) => withTensors(...a),
  outputShape: (...a) => outputShape(...a),
  inputSteps: (...a) => inputSteps(...a),
  describeLayer: (...a) => describeLayer(...a),
  parseLayer: (...a) => parseLayer(...a),
  tensorShapes: (...a) => tensorShapes(...a),
  buildLayer: (...a) => buildLayer(...a),
}

/** The operations of every layer kind, by `kind`. */
export const layerOps: OpsRecord = {
  embedding: embeddingOps,
  flatten: flattenOps,
  linear: linearOps,
  batchnorm: batchNormOps,
  tanh: tanhOps,
  dropout: dropoutOps,
  sequential: sequentialOps,
  residual: residualOps(dispatch),
  skip: skipOps(dispatch),
}

const opsOf = <L extends Layer>(layer: L): LayerOps<L, unknown, DescriptionOf<L>> =>
  layerOps[layer.kind] as unknown as LayerOps<L, unknown, DescriptionOf<L>>

const describedOps = <D extends LayerDescription>(description: D): LayerOps<LayerOf<D>, unknown, D> =>
  layerOps[description.kind] as unknown as LayerOps<LayerOf<D>, unknown, D>

/** Runs any layer forward: the output, the tape for backward, and the layer after the pass. */
export const forward = <L extends Layer>(kernels: Kernels, layer: L, x: Activation, mode: Mode): Forward<L, unknown> =>
  opsOf(layer).forward(kernels, layer, x, mode)

/**
 * Runs any layer forward in the sequence view (`sequence.ts`): on nodes x
 * (N, C) whose neighbours are `stride` steps apart. A layer that acts on each
 * position alone runs its own forward on the nodes.
 */
export const sequenceForward = <L extends Layer>(
  kernels: Kernels, layer: L, x: Activation, stride: number, packing: Packing, mode: Mode,
): SequencePass<L, unknown> => {
  const ops = opsOf(layer)
  if (ops.sequence !== undefined) return ops.sequence.forward(kernels, layer, x, stride, packing, mode)
  return { ...ops.forward(kernels, layer, x, mode), stride }
}

/** Runs any layer backward in the sequence view, from the tape of its `sequenceForward`. */
export const sequenceBackward = <L extends Layer>(kernels: Kernels, layer: L, tape: unknown, dy: Tensor): Backward => {
  const ops = opsOf(layer)
  return ops.sequence !== undefined ? ops.sequence.backward(kernels, layer, tape, dy) : ops.backward(kernels, layer, tape, dy)
}

/** Runs any layer backward from the tape of its forward pass and the gradient of its output. */
export const backward = <L extends Layer>(kernels: Kernels, layer: L, tape: unknown, dy: Tensor): Backward =>
  opsOf(layer).backward(kernels, layer, tape, dy)

/** The trainable tensors of any layer, by name. */
export const layerParameters = (layer: Layer): Named => opsOf(layer).parameters(layer)

/** The running statistics of any layer, by name. */
export const layerBuffers = (layer: Layer): Named => opsOf(layer).buffers(layer)

/** Any layer with some of its parameters and buffers replaced, by name. */
export const withTensors = <L extends Layer>(layer: L, tensors: Named): L => opsOf(layer).withTensors(layer, tensors)

/**
 * The shape of any layer's output for an input of shape `input` (axis 0 is
 * the batch); a RangeError naming the layer and the mismatch when it cannot
 * take that input.
 */
export const outputShape = (layer: Layer, input: readonly number[]): readonly number[] => opsOf(layer).outputShape(layer, input)

/**
 * Time steps of input any layer needs to give `steps` time steps of output:
 * FlattenConsecutive(n) needs n·steps, a Sequential folds its layers in
 * reverse. A network's receptive field is `inputSteps(net, 1)`.
 */
export const inputSteps = (layer: Layer, steps: number): number => opsOf(layer).inputSteps(layer, steps)

/** Any layer's description: its kind and sizes as JSON, without tensors. */
export const describeLayer = <L extends Layer>(layer: L): DescriptionOf<L> => opsOf(layer).describe(layer)

/** Scalars held by tensors of these shapes. */
export const scalarCount = (shapes: TensorShapes): number => Object.values(shapes).reduce((n, shape) => n + size(shape), 0)

/**
 * A layer description read from untrusted JSON: a known kind, every field
 * checked (whole sizes from 1 up, no unknown fields), and no more than
 * MAX_PARAMETERS scalars in its tensors. Never throws.
 */
export const parseLayer = (json: unknown): E.Either<string, LayerDescription> => {
  const kind = isJsonObject(json) ? json['kind'] : undefined
  if (typeof kind !== 'string' || !Object.hasOwn(layerOps, kind)) {
    return E.left(`unknown layer kind ${JSON.stringify(kind ?? null).slice(0, 40)} (known: ${Object.keys(layerOps).join(', ')})`)
  }
  return pipe(
    layerOps[kind as Layer['kind']].parse(json) as E.Either<string, LayerDescription>,
    E.filterOrElse(
      (d) => scalarCount(tensorShapes(d)) <= MAX_PARAMETERS,
      (d) => `${d.kind}: its tensors would hold ${scalarCount(tensorShapes(d))} scalars, more than ${MAX_PARAMETERS}`,
    ),
  )
}

/** The names and shapes of a described layer's parameters and buffers (as `layerParameters` and `layerBuffers` name them). */
export const tensorShapes = (description: LayerDescription): TensorShapes =>
  describedOps(description).tensorShapes(description)

/**
 * The described layer over `tensors`, named as `tensorShapes` names them;
 * a RangeError when one is missing or of another shape. Tensors are used as
 * given, not copied.
 */
export const buildLayer = <D extends LayerDescription>(description: D, tensors: Named): LayerOf<D> =>
  describedOps(description).build(description, tensors)
