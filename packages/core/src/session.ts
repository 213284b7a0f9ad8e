/**
 * A lean training session on the WebAssembly kernels: every buffer a step
 * touches (parameters, gradients, activations, tapes, optimizer slots, the
 * batch's ids and targets, kernel scratch) lives in the WebAssembly memory,
 * allocated once when the session starts and reused by every step. A step
 * copies the batch in, then only calls kernels on those buffers: it
 * allocates nothing and copies nothing else.
 *
 * It calls the kernels `trainStep` calls through `Kernels`, in the same order
 * on the same values, so it computes the same bits as a `pureSession` over the
 * same WebAssembly kernels; what it leaves out is the checking, staging and
 * allocating around each call. The step is planned once from the model's
 * layers (`model.net.layers`, by kind) as a list of kernel calls on fixed
 * buffers: the layer maths stay in the kernels. Two liberties keep the
 * buffers few (so that a step's working set stays in the caches) without
 * changing a bit: a batchnorm and the tanh after it run as one fused kernel
 * each way, and a kernel writes over its input where nothing reads that
 * input again (a tanh over a linear's output, a backward call over dy).
 * The optimizer updates every parameter in one call, in place.
 */
import type { Batch } from './data.js'
import type { WasmKernelExports, WasmKernels } from './kernels/wasm.js'
import type { Named } from './layers/layer.js'
import type { BatchNorm1d } from './layers/batchnorm.js'
import { layerBuffers, type Layer } from './layers/sequential.js'
import { type Model, receptiveField, trainableParameters, withParameters } from './model.js'
import type { Optimizer, OptimizerState } from './optim.js'
import { size, tensor } from './tensor.js'
import type { TrainingSession } from './train.js'

/**
 * A session that trains `model` with `optimizer`, from `state`, on minibatches
 * of `batchSize` examples, its buffers in the memory of `kernels` (size it
 * with `createWasmKernels({ memoryBytes })`: the session throws when its
 * buffers do not fit). The model must be a flat Sequential that starts with
 * an embedding and ends in (B, vocab) logits, as `wavenet` and `flatMlp` build.
 * `snapshot` copies the current values out; `dispose` frees the buffers by
 * resetting the arena to where it stood when the session started.
 */
export const leanSession = (
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, batchSize: number,
): TrainingSession => {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`)
  const mark = kernels.arena.mark()
  const layout = newLayout()
  const plan = planStep(kernels.exports, model, optimizer, batchSize, layout)
  const block = kernels.alloc(new Float32Array(0), layout.count())
  if (!kernels.owns(block)) {
    throw new RangeError(
      `the session's ${layout.count() * 4} bytes do not fit in the WebAssembly memory: create the kernels with a larger memoryBytes`,
    )
  }
  layout.place(block)
  const buffers = plan.load(block, state)
  const field = receptiveField(model)
  let step = state.step
  let disposed = false

  return {
    step(batch: Batch) {
      if (disposed) throw new Error('the session was disposed')
      const { contexts, targets } = batch
      if (contexts.shape.length !== 2 || contexts.shape[0] !== batchSize || contexts.shape[1] !== field) {
        throw new RangeError(`contexts must be (${batchSize}, ${field}), got [${contexts.shape.join(', ')}]`)
      }
      if (targets.data.length !== batchSize) throw new RangeError(`${batchSize} rows of contexts but ${targets.data.length} targets`)
      // The kernels index memory with these unchecked.
      inRange('token id', contexts.data, plan.vocab)
      inRange('target', targets.data, plan.classes)
      buffers.ids.set(contexts.data)
      buffers.targets.set(targets.data)
      const loss = plan.run()
      optimizer.updateInPlace(kernels, step, buffers.params, buffers.grads, buffers.slots, buffers.params.length)
      step += 1
      return loss
    },

    snapshot() {
      const copies = (named: Named): Named =>
        Object.fromEntries(Object.entries(named).map(([name, t]) => [name, tensor(t.shape, t.data.slice())]))
      return {
        model: withParameters(model, { ...copies(buffers.paramTensors), ...copies(buffers.runningTensors) }),
        state: { step, slots: Object.fromEntries(optimizer.slotNames.map((slot, s) => [slot, copies(buffers.slotTensors[s]!)])) },
      }
    },

    dispose() {
      if (disposed) return
      disposed = true
      kernels.arena.reset(mark)
    },
  }
}

const inRange = (what: string, values: Int32Array, bound: number): void => {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (!(v >= 0 && v < bound)) throw new RangeError(`${what} ${v} outside [0, ${bound})`)
  }
}

/** A buffer of `count` 4-byte elements (float32 or int32) at byte offset `at`, set when the layout is placed. */
interface Region {
  count: number
  at: number
}

/**
 * The session's buffers as one block: groups of regions, the regions of a
 * group end to end (so one kernel call sweeps a whole group, as the
 * optimizer sweeps every parameter), each group starting on a 64-byte line.
 */
interface Layout {
  /** Regions of these sizes, end to end. */
  group(counts: readonly number[]): Region[]
  region(count: number): Region
  /** Elements of the whole block, padding included. */
  count(): number
  /** Sets every region's byte offset inside `block` (which `alloc` started on a line). */
  place(block: Float32Array): void
}

const LINE_ELEMENTS = 16

const newLayout = (): Layout => {
  const groups: Region[][] = []
  const group = (counts: readonly number[]): Region[] => {
    const regions = counts.map((count) => ({ count, at: -1 }))
    groups.push(regions)
    return regions
  }
  const padded = (regions: readonly Region[]): number =>
    Math.ceil(regions.reduce((n, r) => n + r.count, 0) / LINE_ELEMENTS) * LINE_ELEMENTS
  return {
    group,
    region: (count) => group([count])[0]!,
    count: () => groups.reduce((n, regions) => n + padded(regions), 0),
    place(block) {
      let start = block.byteOffset
      for (const regions of groups) {
        let at = start
        for (const r of regions) {
          r.at = at
          at += r.count * 4
        }
        start += padded(regions) * 4
      }
    },
  }
}

/** The buffers the session reads and writes from JavaScript. */
interface Buffers {
  readonly ids: Int32Array
  readonly targets: Int32Array
  /** Every parameter end to end, in `trainableParameters` order; `grads` and each slot (in `slotNames` order) alike. */
  readonly params: Float32Array
  readonly grads: Float32Array
  readonly slots: readonly Float32Array[]
  /** Views of each parameter, of each slot's tensors and of the running statistics, by checkpoint name. */
  readonly paramTensors: Named
  readonly slotTensors: readonly Named[]
  readonly runningTensors: Named
}

/** An activation (or the token ids that enter the model): where it is and its shape. */
interface Value {
  readonly region: Region
  readonly shape: readonly number[]
  readonly tokens: boolean
  /**
   * Whether a backward call reads this region (a tanh's output is its tape).
   * When not, the layer it feeds, its only reader in forward, may overwrite it.
   */
  readonly kept: boolean
}

/** A kernel call on fixed regions. */
type Call = () => void

/** A parameter's value and gradient. */
interface Param {
  readonly value: Region
  readonly grad: Region
}

/** What a layer's planner reserves and records through. */
interface Planning {
  readonly k: WasmKernelExports
  readonly layout: Layout
  /** The forward calls, in order. */
  readonly forward: Call[]
  param(name: string): Param
  running(name: string): Region
  /** The scratch region every call shares, made at least `bytes` long. */
  scratch(bytes: number): Region
}

/** A planned layer: its output, and the planner of its backward calls from dy (which returns dx; null for token ids). */
interface Planned {
  readonly y: Value
  backward(dy: Value, calls: Call[]): Value | null
  /** Set when the plan covers the next layer too (a batchnorm fused with the tanh after it). */
  readonly coversNext?: true
}

/** Plans a layer on input x; `next` is the layer after it, if any. */
type Planner<L extends Layer> = (p: Planning, layer: L, prefix: string, x: Value, next: Layer | undefined) => Planned

const floats = (x: Value, kind: string): void => {
  if (x.tokens) throw new TypeError(`${kind} expects a float tensor, got token ids`)
}

const lastAxis = (x: Value, width: number, what: string): number => {
  if (x.shape[x.shape.length - 1] !== width) throw new RangeError(`${what} got input [${x.shape.join(', ')}]`)
  return size(x.shape) / width
}

/** The planners of every layer kind, by `kind`: each makes the calls its layer's `forward` and `backward` make. */
const planners: { readonly [K in Layer['kind']]: Planner<Extract<Layer, { kind: K }>> } = {
  embedding(p, layer, prefix, x) {
    if (!x.tokens) throw new TypeError('embedding expects token ids')
    const [vocab, dim] = layer.weight.shape as [number, number]
    const count = size(x.shape)
    const w = p.param(`${prefix}.weight`)
    const y = p.layout.region(count * dim)
    const { k } = p
    p.forward.push(() => k.gather(w.value.at, x.region.at, y.at, count, dim))
    return {
      y: { region: y, shape: [...x.shape, dim], tokens: false, kept: false },
      backward(dy, calls) {
        calls.push(() => k.scatterAdd(dy.region.at, x.region.at, w.grad.at, count, dim, vocab))
        return null
      },
    }
  },

  flatten(_p, layer, _prefix, x) {
    floats(x, 'flatten')
    if (x.shape.length !== 3) throw new RangeError(`flatten expects (B, T, C), got [${x.shape.join(', ')}]`)
    const [b, t, c] = x.shape as [number, number, number]
    if (t % layer.n !== 0) throw new RangeError(`flatten(${layer.n}): time axis ${t} is not a multiple of ${layer.n}`)
    const steps = t / layer.n
    // A reshape: the same region, seen with another shape, both ways.
    return {
      y: { ...x, shape: steps === 1 ? [b, c * layer.n] : [b, steps, c * layer.n] },
      backward: (dy) => ({ ...dy, shape: x.shape }),
    }
  },

  linear(p, layer, prefix, x) {
    floats(x, 'linear')
    const [fanOut, fanIn] = layer.weight.shape as [number, number]
    const rows = lastAxis(x, fanIn, `linear(${fanIn} → ${fanOut})`)
    const w = p.param(`${prefix}.weight`)
    const b = layer.bias === null ? null : p.param(`${prefix}.bias`)
    const y = p.layout.region(rows * fanOut)
    const { k } = p
    const s = p.scratch(k.matmulScratchBytes(fanOut, fanIn))
    // y (rows, out) = x (rows, in) · Wᵀ (in, out), on top of the bias rows when there is a bias.
    p.forward.push(b === null
      ? () => k.matmul(rows, fanOut, fanIn, x.region.at, 0, w.value.at, 1, y.at, 0, s.at)
      : () => {
        k.broadcastRows(b.value.at, y.at, rows, fanOut)
        k.matmul(rows, fanOut, fanIn, x.region.at, 0, w.value.at, 1, y.at, 1, s.at)
      })
    return {
      y: { region: y, shape: [...x.shape.slice(0, -1), fanOut], tokens: false, kept: false },
      backward(dy, calls) {
        const dx = p.layout.region(rows * fanIn)
        p.scratch(k.matmulScratchBytes(fanIn, fanOut))
        p.scratch(k.matmulScratchBytes(fanIn, rows))
        calls.push(() => {
          // dx (rows, in) = dy (rows, out) · W (out, in); dW (out, in) = dyᵀ (out, rows) · x (rows, in); db = Σ_rows dy
          k.matmul(rows, fanIn, fanOut, dy.region.at, 0, w.value.at, 0, dx.at, 0, s.at)
          k.matmul(fanOut, fanIn, rows, dy.region.at, 1, x.region.at, 0, w.grad.at, 0, s.at)
          if (b !== null) k.sumRows(dy.region.at, b.grad.at, rows, fanOut)
        })
        return { region: dx, shape: x.shape, tokens: false, kept: false }
      },
    }
  },

  batchnorm: (p, layer, prefix, x, next) => planBatchNorm(p, layer, prefix, x, next?.kind === 'tanh'),

  tanh(p, _layer, _prefix, x) {
    floats(x, 'tanh')
    const n = size(x.shape)
    // In place where nothing else reads the input; backward in place over dy.
    const y = x.kept ? p.layout.region(n) : x.region
    const { k } = p
    p.forward.push(() => k.tanhForward(x.region.at, y.at, n))
    return {
      y: { region: y, shape: x.shape, tokens: false, kept: true },
      backward(dy, calls) {
        calls.push(() => k.tanhBackward(y.at, dy.region.at, dy.region.at, n))
        return { ...dy, shape: x.shape }
      },
    }
  },

  sequential() {
    throw new RangeError('leanSession plans a flat Sequential: nested Sequential layers are not supported')
  },
}

/**
 * A batchnorm, or (`thenTanh`) a batchnorm and the tanh after it as one fused
 * call each way (`normalizeTanh`, `tanhNormalizeBackward`: the same bits as
 * the separate calls, without the values in between). xhat overwrites the
 * input where nothing else reads it; backward runs in place over dy.
 */
const planBatchNorm = (p: Planning, layer: BatchNorm1d, prefix: string, x: Value, thenTanh: boolean): Planned => {
  floats(x, 'batchnorm')
  const cols = layer.weight.shape[0]!
  const rows = lastAxis(x, cols, `batchnorm(${cols})`)
  if (rows < 2) throw new RangeError('batchnorm in training mode needs more than one value per channel')
  const gamma = p.param(`${prefix}.weight`)
  const beta = p.param(`${prefix}.bias`)
  const runningMean = p.running(`${prefix}.running_mean`)
  const runningVar = p.running(`${prefix}.running_var`)
  const n = rows * cols
  const [mean, variance] = [p.layout.region(cols), p.layout.region(cols)]
  const xhat = x.kept ? p.layout.region(n) : x.region
  const y = p.layout.region(n)
  const { k } = p
  const s = p.scratch(Math.max(k.normalizeScratchBytes(cols), k.normalizeBackwardScratchBytes(cols)))
  // running ← (1 − m)·running + (m·scale)·batch, the variance's scale n/(n − 1) making it unbiased.
  const keep = 1 - layer.momentum
  const weight = (scale: number): number => layer.momentum * scale
  const [meanWeight, varWeight] = [weight(1), weight(rows / (rows - 1))]
  const normalize = thenTanh ? k.normalizeTanh : k.normalize
  p.forward.push(() => {
    k.columnMoments(x.region.at, mean.at, variance.at, rows, cols)
    normalize(x.region.at, mean.at, variance.at, gamma.value.at, beta.value.at, layer.eps, xhat.at, y.at, rows, cols, s.at)
    k.movingAverage(runningMean.at, mean.at, keep, meanWeight, cols)
    k.movingAverage(runningVar.at, variance.at, keep, varWeight, cols)
  })
  const gradients = (dy: Value): Call => thenTanh
    ? () => k.tanhNormalizeBackward(
      dy.region.at, y.at, xhat.at, variance.at, gamma.value.at, layer.eps, 1, dy.region.at, gamma.grad.at, beta.grad.at, rows, cols, s.at,
    )
    : () => k.normalizeBackward(
      dy.region.at, xhat.at, variance.at, gamma.value.at, layer.eps, 1, dy.region.at, gamma.grad.at, beta.grad.at, rows, cols, s.at,
    )
  const planned: Planned = {
    y: { region: y, shape: x.shape, tokens: false, kept: thenTanh },
    backward(dy, calls) {
      calls.push(gradients(dy))
      return { ...dy, shape: x.shape }
    },
  }
  return thenTanh ? { ...planned, coversNext: true } : planned
}

const plan = <L extends Layer>(p: Planning, layer: L, prefix: string, x: Value, next: Layer | undefined): Planned =>
  (planners[layer.kind] as Planner<L>)(p, layer, prefix, x, next)

interface StepPlan {
  /** Rows of the embedding table: token ids must be below it. */
  readonly vocab: number
  /** Columns of the logits: targets must be below it. */
  readonly classes: number
  /** Fills the placed block with the model's and the state's values; views of what the session reads and writes. */
  load(block: Float32Array, state: OptimizerState): Buffers
  /** Forward (with the running statistics' updates), loss and backward on the batch in place; returns the loss. */
  run(): number
}

/**
 * Reserves every buffer of the step in `layout` and lists its kernel calls:
 * forward layer by layer, the loss and its gradient, backward layer by layer
 * in reverse, as `trainStep` makes them.
 */
const planStep = (k: WasmKernelExports, model: Model, optimizer: Optimizer, batchSize: number, layout: Layout): StepPlan => {
  const { layers, names } = model.net
  const first = layers[0]
  if (first?.kind !== 'embedding') throw new RangeError('the model must start with an embedding')
  const params = trainableParameters(model)
  const paramNames = Object.keys(params)
  const sizes = paramNames.map((name) => params[name]!.data.length)
  const paramRegions = layout.group(sizes)
  const gradRegions = layout.group(sizes)
  const slotRegions = optimizer.slotNames.map(() => layout.group(sizes))
  const running = layerBuffers(model.net)
  const runningNames = Object.keys(running)
  const runningRegions = layout.group(runningNames.map((name) => running[name]!.data.length))
  const scratch: Region = layout.region(0)
  const ids = layout.region(batchSize * receptiveField(model))

  const planning: Planning = {
    k,
    layout,
    forward: [],
    param(name) {
      const i = paramNames.indexOf(name)
      return { value: paramRegions[i]!, grad: gradRegions[i]! }
    },
    running: (name) => runningRegions[runningNames.indexOf(name)]!,
    scratch(bytes) {
      scratch.count = Math.max(scratch.count, Math.ceil(bytes / 4))
      return scratch
    },
  }
  /** Each planned layer (a batchnorm and its tanh count as one) and the name of its first layer. */
  const planned: { readonly name: string; readonly layer: Planned }[] = []
  let x: Value = { region: ids, shape: [batchSize, receptiveField(model)], tokens: true, kept: false }
  for (let i = 0; i < layers.length; i++) {
    const name = names[i]!
    const out = plan(planning, layers[i]!, name, x, layers[i + 1])
    if (out.coversNext === true) i += 1
    planned.push({ name, layer: out })
    x = out.y
  }
  if (x.tokens || x.shape.length !== 2) throw new RangeError(`the model must end in (B, vocab) logits, got [${x.shape.join(', ')}]`)
  const logits = x.region
  const [rows, classes] = x.shape as [number, number]
  const targets = layout.region(rows)
  const probs = layout.region(rows * classes)
  const dlogits = layout.region(rows * classes)
  const backward: Call[] = []
  let dy: Value | null = { region: dlogits, shape: x.shape, tokens: false, kept: false }
  for (const { name, layer } of planned.reverse()) {
    if (dy === null) throw new RangeError(`no gradient flows into layer ${name}: token ids feed only the first layer`)
    dy = layer.backward(dy, backward)
  }
  const forward = planning.forward

  return {
    vocab: first.weight.shape[0]!,
    classes,

    load(block, state) {
      const view = (r: Region): Float32Array => new Float32Array(block.buffer, r.at, r.count)
      const whole = (regions: readonly Region[]): Float32Array =>
        new Float32Array(block.buffer, regions[0]?.at ?? block.byteOffset, regions.reduce((n, r) => n + r.count, 0))
      const tensors = (names: readonly string[], regions: readonly Region[], shapes: Named): Named =>
        Object.fromEntries(names.map((name, i) => [name, tensor(shapes[name]!.shape, view(regions[i]!))]))
      const paramTensors = tensors(paramNames, paramRegions, params)
      const runningTensors = tensors(runningNames, runningRegions, running)
      const slotTensors = optimizer.slotNames.map((slot, s) => {
        const named = state.slots[slot] ?? {}
        for (const name of paramNames) {
          if (named[name]?.data.length !== params[name]!.data.length) throw new RangeError(`no ${optimizer.name} state ${slot} for ${name}`)
        }
        return tensors(paramNames, slotRegions[s]!, named)
      })
      const fill = (views: Named, values: Named): void => {
        for (const [name, t] of Object.entries(views)) t.data.set(values[name]!.data)
      }
      fill(paramTensors, params)
      fill(runningTensors, running)
      optimizer.slotNames.forEach((slot, s) => fill(slotTensors[s]!, state.slots[slot]!))
      return {
        ids: new Int32Array(block.buffer, ids.at, ids.count),
        targets: new Int32Array(block.buffer, targets.at, targets.count),
        params: whole(paramRegions),
        grads: whole(gradRegions),
        slots: slotRegions.map(whole),
        paramTensors,
        slotTensors,
        runningTensors,
      }
    },

    run() {
      for (const call of forward) call()
      const loss = k.softmaxCrossEntropy(logits.at, targets.at, probs.at, rows, classes)
      k.softmaxCrossEntropyBackward(probs.at, targets.at, 1 / rows, dlogits.at, rows, classes)
      for (const call of backward) call()
      return loss
    },
  }
}
