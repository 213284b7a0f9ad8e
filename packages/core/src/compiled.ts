/**
 * Pure computations compiled for the WebAssembly kernels, the pieces every
 * compiled user shares (the training sessions, the cached generator): tensors
 * laid out in the arena by byte offset, one workspace for programs that run
 * one at a time, and a computation recorded once (`trace.ts`) and compiled
 * (`kernels/wasm-program.ts`) into a program that copies its ids in, checks
 * them against the bounds its kernel calls put on them, and replays.
 */
import { arraysOf, type KernelName, type Kernels } from './kernels/kernels.js'
import { type Arena, alignUp } from './kernels/wasm-arena.js'
import type { WasmKernels } from './kernels/wasm.js'
import { compileProgram } from './kernels/wasm-program.js'
import type { Named } from './layers/layer.js'
import { tensor } from './tensor.js'
import { type Call, recorder } from './trace.js'

/** Named tensors laid end to end in a region of the memory, addressed by byte offset. */
export interface Packed {
  readonly at: number
  readonly count: number
  /** A view of the whole region, made for the moment it is used. */
  all(): Float32Array
  /** A view of each tensor, by name. */
  views(): Named
}

/** A region holding tensors of these shapes (their values unset: `fill` them). */
export const packed = (arena: Arena, shapes: Named): Packed => {
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

/** Copies each tensor's values into the view of the same name. */
export const fill = (views: Named, values: Named): void => {
  for (const [name, t] of Object.entries(views)) t.data.set(values[name]!.data)
}

/**
 * Placement in one workspace for the buffers of programs that run one at a
 * time: each program's buffers start at the workspace's start, which is
 * reserved anew, larger, when a program needs more.
 */
export const workspace = (arena: Arena) => {
  let region = { at: 0, bytes: 0 }
  return (sizes: readonly number[]): number[] => {
    const total = sizes.reduce((n, bytes) => n + alignUp(bytes), 0)
    if (total > region.bytes) region = { at: arena.reserveMovable(total), bytes: total }
    let at = region.at
    return sizes.map((bytes) => {
      const offset = at
      at += alignUp(bytes)
      return offset
    })
  }
}

/** A compiled program: copies its inputs in, replays, returns the value of its one valued call (a loss), or NaN. */
export type Program = (inputs: readonly Int32Array[]) => number

/** What a recorded computation gives the compiler. */
export interface Recorded {
  /** Temporaries to place in the caller's buffers (outputs the caller reads, state updated in place). */
  readonly bindings: ReadonlyMap<ArrayBufferView, ArrayBufferView>
  /** Whether the computation gives a value (a loss), which `run` returns: it must then come from one kernel call. */
  readonly value: boolean
  /** The caller's buffers that keep their values while the program lives (see `CompileOptions.constants`). */
  readonly constants?: ReadonlySet<ArrayBufferView>
}

/**
 * Records `computation` once and compiles it. The computation gets the
 * recording kernels, the placeholders they allocate (to check what it
 * returns), and `input`, which gives a new input of n ids (named for errors):
 * the program takes its inputs in the order the computation asked for them.
 */
export const compile = (
  kernels: WasmKernels,
  arena: Arena,
  place: (sizes: readonly number[]) => readonly number[],
  computation: (recording: Kernels, temporaries: ReadonlySet<ArrayBufferView>, input: (n: number, what: string) => Int32Array) => Recorded,
  wrap?: (call: Call, run: () => unknown) => () => unknown,
): Program => {
  const recording = recorder()
  const placeholders: { readonly ids: Int32Array; readonly what: string }[] = []
  const input = (n: number, what: string): Int32Array => {
    const ids = new Int32Array(n)
    placeholders.push({ ids, what })
    return ids
  }
  const { bindings, value, constants } = computation(recording.kernels, recording.temporaries, input)
  if (recording.valued.length !== (value ? 1 : 0)) {
    throw new RangeError(value ? 'the step must compute exactly one loss' : 'the computation gives a value it does not declare')
  }
  // The bounds first: compiling may grow the memory, which detaches the views whose lengths give them.
  const bounds = placeholders.map(({ ids }) => idBound(recording.calls, ids))
  const program = compileProgram(kernels, recording.calls, recording.temporaries, bindings, recording.valued[0] ?? -1, {
    inputs: new Set(placeholders.map((p) => p.ids)), place, ...(wrap === undefined ? {} : { wrap }), ...(constants === undefined ? {} : { constants }),
  })
  const slots = placeholders.map(({ ids, what }, i) => ({ at: program.offsetOf(ids), count: ids.length, bound: bounds[i]!, what }))
  return (inputs) => {
    slots.forEach(({ at, count, bound, what }, i) => {
      const values = inputs[i]!
      if (values.length !== count) throw new RangeError(`${values.length} ${what}s where the step takes ${count}`)
      // The compiled kernels index memory with these unchecked.
      inRange(what, values, bound)
      if (at !== undefined) new Int32Array(arena.buffer(), at, count).set(values)
    })
    return program.run()
  }
}

/** The tightest bound the recorded calls put on the ids in `array`, if any reads it. */
const idBound = (calls: readonly Call[], array: Int32Array): number =>
  Math.min(...calls.flatMap((call) =>
    arraysOf(call.kernel as KernelName, call.args as never)
      .filter((a) => call.args[a.at] === array && a.bound !== undefined)
      .map((a) => a.bound!)))

const inRange = (what: string, values: Int32Array, bound: number): void => {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (!(v >= 0 && v < bound)) throw new RangeError(`${what} ${v} outside [0, ${bound})`)
  }
}
