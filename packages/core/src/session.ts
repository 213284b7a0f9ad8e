/**
 * The fast training sessions on the WebAssembly kernels, derived from the
 * pure layers: a session runs the pure step (`gradients`, or the sequence
 * view's `sequenceGradients`: forward, loss, backward) once on recording
 * kernels (`trace.ts`), compiles the calls it made
 * (`kernels/wasm-program.ts`: fusions, in-place reuse, placement) and
 * replays them on buffers reserved once in the WebAssembly memory:
 * parameters, gradients, optimizer slots and running statistics, the batch's
 * ids, every activation. The session addresses them by byte offset, so the
 * memory can still grow while it lives (for an evaluation between steps). A
 * step copies the batch in, replays, and updates every parameter in one
 * optimizer call: it allocates nothing and copies nothing else. No layer is
 * written here: any network the pure step can train, a session trains, with
 * the same bits.
 *
 * Steps of whole words vary in shape (how many words fill the budget): a
 * words session compiles one program per shape, the first time it meets it,
 * all of them sharing one workspace for their activations.
 */
import type { Batch } from './data.js'
import { compile, fill, packed, type Program, workspace } from './compiled.js'
import type { Kernels } from './kernels/kernels.js'
import { type WasmKernels, wasmInternals } from './kernels/wasm.js'
import type { Named } from './layers/layer.js'
import { layerBuffers } from './layers/sequential.js'
import { hasDropout, type Model, receptiveField, trainableParameters, withParameters } from './model.js'
import type { Optimizer, OptimizerState } from './optim.js'
import { type PackedSequence, packWindows, packWords, sequenceGradients, type WindowBatch, type WordBatch } from './sequence.js'
import { indices, type IndexTensor, tensor } from './tensor.js'
import type { Call } from './trace.js'
import { type Gradients, gradients, type TrainingSession } from './train.js'

/** Options of the lean sessions. */
export interface LeanSessionOptions {
  /**
   * Wraps each kernel call of the compiled step, given the call (its kernel
   * and arguments), e.g. to time it by kernel (`bench/step.mjs --breakdown`).
   */
  readonly profile?: (call: Call, run: () => unknown) => () => unknown
}

/**
 * A session that trains `model` with `optimizer`, from `state`, on minibatches
 * of `batchSize` (context, target) examples, its buffers in the memory of
 * `kernels`. Throws when the model cannot take a step at that batch size
 * (with the pure step's own error), or when its buffers do not fit in the
 * memory (`WasmMemoryFull`, naming the size needed; the memory grows to fit
 * unless views handed out by `alloc` are live). `snapshot` copies the
 * current values out; `dispose` frees the buffers.
 */
export const leanSession = (
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, batchSize: number,
  options: LeanSessionOptions = {},
): TrainingSession => {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`)
  const field = receptiveField(model)
  const dropout = hasDropout(model)
  return open(kernels, model, optimizer, state, options, (compile) => {
    const program = compile((recording, live, input) => gradients(recording, live, {
      contexts: indices([batchSize, field], input(batchSize * field, 'token id')), targets: indices([batchSize], input(batchSize, 'target')),
      ...seedPlaceholder(dropout, input),
    }))
    return (batch: Batch) => {
      const { contexts, targets } = batch
      if (contexts.shape.length !== 2 || contexts.shape[0] !== batchSize || contexts.shape[1] !== field) {
        throw new RangeError(`contexts must be (${batchSize}, ${field}), got [${contexts.shape.join(', ')}]`)
      }
      if (targets.data.length !== batchSize) throw new RangeError(`${batchSize} rows of contexts but ${targets.data.length} targets`)
      return program([contexts.data, targets.data, ...seedInput(dropout, batch)])
    }
  })
}

/**
 * A session that trains `model` in the sequence view on batches of whole
 * words (`sequence.ts`), with the same guarantees as `leanSession`: the same
 * bits as the pure `trainWordsStep` on the same kernels.
 */
export const leanWordsSession = (
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, options: LeanSessionOptions = {},
): TrainingSession<WordBatch> => sequenceSession(kernels, model, optimizer, state, options, packWords)

/**
 * A session that trains `model` in the sequence view on windows of running
 * text (`sequence.ts`), with the same guarantees as `leanSession`: the same
 * bits as the pure `trainWindowsStep` on the same kernels.
 */
export const leanWindowsSession = (
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, options: LeanSessionOptions = {},
): TrainingSession<WindowBatch> => sequenceSession(kernels, model, optimizer, state, options, packWindows)

/**
 * A session in the sequence view on batches that `pack` lays out. Batches
 * vary in shape (how many words fill the budget): one program per shape,
 * compiled the first time it is met from a packing whose index lists
 * (fusion sources, skip taps) are the program's inputs, in the order the
 * step asks for them; each step feeds them from the batch's own packing.
 */
const sequenceSession = <B>(
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, options: LeanSessionOptions, pack: (batch: B) => PackedSequence,
): TrainingSession<B> => {
  const dropout = hasDropout(model)
  return open(kernels, model, optimizer, state, options, (compile) => {
    /** A program per shape (tokens, outputs), with how to read each of its index lists from a packing, in input order. */
    const programs = new Map<string, { readonly run: Program; readonly lists: readonly ((packed: PackedSequence) => Int32Array)[] }>()
    return (batch: B) => {
      const packed = pack(batch)
      const shape = `${packed.tokens.data.length}:${packed.outputs.data.length}`
      let found = programs.get(shape)
      if (found === undefined) {
        const lists: ((packed: PackedSequence) => Int32Array)[] = []
        const run = compile((recording, live, input) => {
          const made = new Map<string, IndexTensor | undefined>()
          /** The list `key` as an input of the program, the first time it is asked for (`undefined` where the batch's packing has none). */
          const list = (key: string, read: (p: PackedSequence) => IndexTensor | undefined, what: string): IndexTensor | undefined => {
            if (made.has(key)) return made.get(key)
            const real = read(packed)
            const traced = real === undefined ? undefined : indices(real.shape, input(real.data.length, what))
            if (real !== undefined) lists.push((p) => read(p)!.data)
            made.set(key, traced)
            return traced
          }
          const sources = (group: number, dilation: number): IndexTensor =>
            list(`sources ${group}×${dilation}`, (p) => p.sources(group, dilation), 'source row')!
          const traced: PackedSequence = {
            tokens: indices(packed.tokens.shape, input(packed.tokens.data.length, 'token id')),
            outputs: indices(packed.outputs.shape, input(packed.outputs.data.length, 'output row')),
            targets: indices(packed.targets.shape, input(packed.targets.data.length, 'target')),
            ...seedPlaceholder(dropout, input),
            sources,
            fusion: (_kernels, nodes, group, dilation) => ({ nodes, sources: sources(group, dilation) }),
            at: (stride) => list(`at ${stride}`, (p) => p.at(stride), 'tap row'),
          }
          return sequenceGradients(recording, live, traced)
        })
        found = { run, lists }
        programs.set(shape, found)
      }
      return found.run([packed.tokens.data, packed.outputs.data, packed.targets.data, ...seedInput(dropout, packed), ...found.lists.map((read) => read(packed))])
    }
  })
}

/**
 * Records a pure step and compiles it. The step gets the recording kernels,
 * the model over the session's buffers, and `input`, which gives a new input
 * of n ids (named for errors): the program takes its inputs in the order the
 * step asked for them.
 */
type Compile = (step: (recording: Kernels, model: Model, input: (n: number, what: string) => Int32Array) => Gradients) => Program

/** A model with dropout layers takes the step's seed as a program input (one id), never as a constant of the program. */
const seedPlaceholder = (dropout: boolean, input: (n: number, what: string) => Int32Array): { readonly seed?: IndexTensor } =>
  (dropout ? { seed: indices([1], input(1, 'dropout seed')) } : {})

/** A batch's input for `seedPlaceholder`: its seed, which a model with dropout layers needs. */
const seedInput = (dropout: boolean, batch: { readonly seed?: IndexTensor }): Int32Array[] => {
  if (!dropout) return []
  if (batch.seed === undefined) throw new RangeError('a model with dropout layers trains on batches with a seed (see withStepSeed)')
  return [batch.seed.data]
}

const copies = (named: Named): Named =>
  Object.fromEntries(Object.entries(named).map(([name, t]) => [name, tensor(t.shape, t.data.slice())]))

/**
 * The state every lean session shares (parameters, gradients, optimizer
 * slots, running statistics, one workspace for the programs), and a step
 * that `makeStep` builds from compiled programs; the optimizer update
 * follows every step.
 */
const open = <B>(
  kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState, options: LeanSessionOptions,
  makeStep: (compile: Compile) => (batch: B) => number,
): TrainingSession<B> => {
  const { arena } = wasmInternals(kernels)!
  const mark = arena.mark()
  try {
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
    fill(params.views(), trainable)
    fill(running.views(), layerBuffers(model.net))
    optimizer.slotNames.forEach((slot, s) => fill(slots[s]!.views(), state.slots[slot]!))

    // One workspace for every program's activations and inputs: programs run one at a time, so they may share it.
    const place = workspace(arena)
    const compileStep: Compile = (step) =>
      compile(kernels, arena, place, (recording, temporaries, input) => {
        const [gradViews, runningViews] = [grads.views(), running.views()]
        const traced = step(recording, withParameters(model, { ...params.views(), ...runningViews }), input)
        const bindings = new Map<ArrayBufferView, ArrayBufferView>()
        for (const [name, view] of Object.entries(gradViews)) {
          const grad = traced.grads[name]
          if (grad === undefined || !temporaries.has(grad.data)) throw new RangeError(`the step computes no gradient for ${name}`)
          bindings.set(grad.data, view.data)
        }
        // The running statistics after the step replace those before it, in place.
        for (const [name, after] of Object.entries(layerBuffers(traced.model.net))) {
          const before = runningViews[name]!.data
          if (after.data !== before) bindings.set(after.data, before)
        }
        return { bindings, value: true }
      }, options.profile)

    const stepOf = makeStep(compileStep)
    let step = state.step
    let disposed = false
    return {
      step(batch) {
        if (disposed) throw new Error('the session was disposed')
        const loss = stepOf(batch)
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
        arena.reset(mark)
      },
    }
  } catch (e) {
    arena.reset(mark)
    throw e
  }
}
