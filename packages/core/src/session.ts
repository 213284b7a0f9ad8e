/**
 * The fast training session on the WebAssembly kernels, derived from the
 * pure layers: the session runs the pure step (`gradients`: forward, loss,
 * backward) once on recording kernels (`trace.ts`), compiles the calls it
 * made (`kernels/wasm-program.ts`: fusions, in-place reuse, placement) and
 * replays them every step on buffers allocated once in the WebAssembly
 * memory: parameters, gradients, optimizer slots and running statistics,
 * the batch's ids and targets, every activation. The session addresses them
 * by byte offset, so the memory can still grow while it lives (for an
 * evaluation between steps). A step copies the batch in,
 * replays, and updates every parameter in one optimizer call: it allocates
 * nothing and copies nothing else. No layer is written here: any network the
 * pure step can train, the session trains, with the same bits.
 */
import type { Batch } from './data.js'
import { type ArrayArg, arraysOf, type KernelName } from './kernels/kernels.js'
import { type WasmKernels, wasmInternals } from './kernels/wasm.js'
import type { Arena } from './kernels/wasm-arena.js'
import { compileProgram } from './kernels/wasm-program.js'
import type { Named } from './layers/layer.js'
import { layerBuffers } from './layers/sequential.js'
import { type Model, receptiveField, trainableParameters, withParameters } from './model.js'
import type { Optimizer, OptimizerState } from './optim.js'
import { indices, tensor } from './tensor.js'
import { type Call, recorder } from './trace.js'
import { gradients, type TrainingSession } from './train.js'

/** Options of {@link leanSession}. */
export interface LeanSessionOptions {
  /**
   * Wraps each kernel call of the compiled step, given the call (its kernel
   * and arguments), e.g. to time it by kernel (`bench/step.mjs --breakdown`).
   */
  readonly profile?: (call: Call, run: () => unknown) => () => unknown
}

/**
 * A session that trains `model` with `optimizer`, from `state`, on minibatches
 * of `batchSize` examples, its buffers in the memory of `kernels`. Throws
 * when the model cannot take a step at that batch size (with the pure step's
 * own error), or when its buffers do not fit in the memory (`WasmMemoryFull`,
 * naming the size needed; the memory grows to fit unless views handed out
 * by `alloc` are live). `snapshot` copies the current values out;
 * `dispose` frees the buffers by resetting the arena to where it stood when
 * the session started.
 */
export const leanSession = (
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, batchSize: number,
  options: LeanSessionOptions = {},
): TrainingSession => {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`)
  const mark = kernels.arena.mark()
  try {
    return open(kernels, model, optimizer, state, batchSize, options, () => kernels.arena.reset(mark))
  } catch (e) {
    kernels.arena.reset(mark)
    throw e
  }
}

/**
 * Named tensors laid end to end in a region of the memory, addressed by byte
 * offset: views are made only for the moment they are used, so the region
 * never stops the memory from growing.
 */
interface Packed {
  readonly at: number
  readonly count: number
  /** A view of the whole region. */
  all(): Float32Array
  /** A view of each tensor, by name. */
  views(): Named
}

const packed = (arena: Arena, shapes: Named): Packed => {
  const entries = Object.entries(shapes)
  const count = entries.reduce((n, [, t]) => n + t.data.length, 0)
  const at = arena.reserveMovable(count * 4)
  const all = () => new Float32Array(arena.buffer(), at, count)
  return {
    at,
    count,
    all,
    views() {
      const whole = all()
      let offset = 0
      return Object.fromEntries(entries.map(([name, t]) => {
        const view = whole.subarray(offset, offset + t.data.length)
        offset += t.data.length
        return [name, tensor(t.shape, view)]
      }))
    },
  }
}

const fill = (views: Named, values: Named): void => {
  for (const [name, t] of Object.entries(views)) t.data.set(values[name]!.data)
}

const copies = (named: Named): Named =>
  Object.fromEntries(Object.entries(named).map(([name, t]) => [name, tensor(t.shape, t.data.slice())]))

/** The tightest bound the recorded calls put on the ids in `array`, if any reads it. */
const idBound = (calls: readonly Call[], array: Int32Array): number =>
  Math.min(...calls.flatMap((call) =>
    arraysOf(call.kernel as KernelName, call.args as never)
      .filter((a: ArrayArg) => call.args[a.at] === array && a.bound !== undefined)
      .map((a) => a.bound!)))

const inRange = (what: string, values: Int32Array, bound: number): void => {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (!(v >= 0 && v < bound)) throw new RangeError(`${what} ${v} outside [0, ${bound})`)
  }
}

const open = (
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, batchSize: number,
  options: LeanSessionOptions, free: () => void,
): TrainingSession => {
  const { arena } = wasmInternals(kernels)!
  const field = receptiveField(model)
  const trainable = trainableParameters(model)
  for (const slot of optimizer.slotNames) {
    for (const [name, p] of Object.entries(trainable)) {
      if (state.slots[slot]?.[name]?.data.length !== p.data.length) throw new RangeError(`no ${optimizer.name} state ${slot} for ${name}`)
    }
  }
  // Parameters, gradients and each optimizer slot end to end, laid out alike: one update call sweeps them all.
  const params = packed(arena, trainable)
  const grads = packed(arena, trainable)
  const slots = optimizer.slotNames.map(() => packed(arena, trainable))
  const running = packed(arena, layerBuffers(model.net))
  const ids = arena.reserveMovable(batchSize * field * 4)
  const targets = arena.reserveMovable(batchSize * 4)
  const idsView = () => new Int32Array(arena.buffer(), ids, batchSize * field)
  const targetsView = () => new Int32Array(arena.buffer(), targets, batchSize)
  // Zeros until the first batch: the recording below checks them, and the memory may hold old values.
  idsView().fill(0)
  targetsView().fill(0)
  fill(params.views(), trainable)
  fill(running.views(), layerBuffers(model.net))
  optimizer.slotNames.forEach((slot, s) => fill(slots[s]!.views(), state.slots[slot]!))

  // The pure step, recorded once on views of those buffers.
  const recording = recorder()
  const [paramViews, gradViews, runningViews, idsArray, targetsArray] = [params.views(), grads.views(), running.views(), idsView(), targetsView()]
  const traced = gradients(recording.kernels, withParameters(model, { ...paramViews, ...runningViews }), {
    contexts: indices([batchSize, field], idsArray), targets: indices([batchSize], targetsArray),
  })
  const bindings = new Map<ArrayBufferView, ArrayBufferView>()
  for (const [name, view] of Object.entries(gradViews)) {
    const grad = traced.grads[name]
    if (grad === undefined || !recording.temporaries.has(grad.data)) throw new RangeError(`the step computes no gradient for ${name}`)
    bindings.set(grad.data, view.data)
  }
  // The running statistics after the step replace those before it, in place.
  for (const [name, after] of Object.entries(layerBuffers(traced.model.net))) {
    const before = runningViews[name]!.data
    if (after.data !== before) bindings.set(after.data, before)
  }
  if (recording.valued.length !== 1) throw new RangeError('the step must compute exactly one loss')
  const idsBound = idBound(recording.calls, idsArray)
  const targetsBound = idBound(recording.calls, targetsArray)
  const program = compileProgram(kernels, recording.calls, recording.temporaries, bindings, recording.valued[0]!, options.profile)
  let step = state.step
  let disposed = false

  return {
    step(batch: Batch) {
      if (disposed) throw new Error('the session was disposed')
      const { contexts, targets: given } = batch
      if (contexts.shape.length !== 2 || contexts.shape[0] !== batchSize || contexts.shape[1] !== field) {
        throw new RangeError(`contexts must be (${batchSize}, ${field}), got [${contexts.shape.join(', ')}]`)
      }
      if (given.data.length !== batchSize) throw new RangeError(`${batchSize} rows of contexts but ${given.data.length} targets`)
      // The compiled kernels index memory with these unchecked.
      inRange('token id', contexts.data, idsBound)
      inRange('target', given.data, targetsBound)
      idsView().set(contexts.data)
      targetsView().set(given.data)
      const loss = program.run()
      optimizer.updateInPlace(kernels, step, params.all(), grads.all(), slots.map((s) => s.all()), params.count)
      step += 1
      return loss
    },

    snapshot() {
      return {
        model: withParameters(model, { ...copies(params.views()), ...copies(running.views()) }),
        state: { step, slots: Object.fromEntries(optimizer.slotNames.map((slot, s) => [slot, copies(slots[s]!.views())])) },
      }
    },

    dispose() {
      if (disposed) return
      disposed = true
      free()
    },
  }
}
