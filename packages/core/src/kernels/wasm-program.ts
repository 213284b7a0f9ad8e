/**
 * A recorded computation (`trace.ts`) compiled for the WebAssembly kernels:
 * generic passes over the list of calls, then every call bound to its export
 * with fixed pointers, so that a replay allocates, checks and copies nothing.
 *
 * The passes know kernels, never layers:
 * 1. Bindings: a temporary the caller names (a gradient, an updated running
 *    statistic) is placed in the caller's buffer. When that buffer is also
 *    read, only as the call that writes the temporary may run in place.
 * 2. Fusion: two calls joined by a temporary that only they touch become one
 *    fused kernel with the same bits (a normalize and the tanh of its output;
 *    a tanh's backward and the normalize's backward of its result), so the
 *    values in between never reach memory.
 * 3. In place: a kernel that may write its output over an input does so
 *    where that input is a temporary read by no later call.
 * 4. Placement: every remaining temporary gets its own region of the arena,
 *    and all calls share one scratch region.
 */
import type { Call } from '../trace.js'
import { type ArrayArg, arraysOf, type KernelName } from './kernels.js'
import { type FusedKernel, type WasmKernels, wasmInternals } from './wasm.js'

/** The array arguments of a call, for `Kernels` and for the fused kernels. */
const arraysOfCall = (call: Call): readonly ArrayArg[] => {
  const arrays = (fusedArrays as Record<string, ((args: readonly unknown[]) => readonly ArrayArg[]) | undefined>)[call.kernel]
  return arrays === undefined ? arraysOf(call.kernel as KernelName, call.args as never) : arrays(call.args)
}

const arg = (at: number, name: string, count: number, use: ArrayArg['use']): ArrayArg => ({ at, name, count, use })

const fusedArrays: { readonly [K in FusedKernel]: (args: readonly unknown[]) => readonly ArrayArg[] } = {
  normalizeTanh: (args) => arraysOf('normalize', args as never),
  tanhNormalizeBackward: (args) => {
    const [rows, cols] = args.slice(-2) as [number, number]
    return [
      arg(0, 'dh', rows * cols, 'in'), arg(1, 'h', rows * cols, 'in'), arg(2, 'xhat', rows * cols, 'in'), arg(3, 'variance', cols, 'in'),
      arg(4, 'gamma', cols, 'in'), arg(7, 'dx', rows * cols, 'out'), arg(8, 'dgamma', cols, 'out'), arg(9, 'dbeta', cols, 'out'),
    ]
  },
}

/** Pairs (output position, input position) that a kernel may alias: it reads each input element before writing that output element. */
const inPlace: Readonly<Record<string, readonly (readonly [number, number])[]>> = {
  tanhForward: [[1, 0]],
  tanhBackward: [[2, 1]],
  dropout: [[2, 0]],
  normalize: [[6, 0]],
  normalizeTanh: [[6, 0]],
  normalizeBackward: [[6, 0]],
  tanhNormalizeBackward: [[7, 0]],
  movingAverage: [[2, 0]],
}

interface Fusion {
  readonly first: KernelName
  readonly second: KernelName
  /** The first call's output position and the second call's input position of the temporary that joins them. */
  readonly via: readonly [number, number]
  readonly fused: FusedKernel
  /** Where the fused call goes: the first call's place or the second's. */
  readonly at: 'first' | 'second'
  readonly args: (first: readonly unknown[], second: readonly unknown[]) => readonly unknown[]
}

const fusions: readonly Fusion[] = [
  {
    // normalize(x, mean, var, γ, β, eps, xhat, y, rows, cols); tanhForward(y, h, n) → normalizeTanh(…, xhat, h, rows, cols)
    first: 'normalize', second: 'tanhForward', via: [7, 0], fused: 'normalizeTanh', at: 'first',
    args: (first, second) => [...first.slice(0, 7), second[1], ...first.slice(8)],
  },
  {
    // tanhBackward(h, dh, dy, n); normalizeBackward(dy, xhat, var, γ, eps, batch, dx, dγ, dβ, rows, cols)
    // → tanhNormalizeBackward(dh, h, xhat, …)
    first: 'tanhBackward', second: 'normalizeBackward', via: [2, 0], fused: 'tanhNormalizeBackward', at: 'second',
    args: (first, second) => [first[1], first[0], ...second.slice(1)],
  },
]

type View = ArrayBufferView

/** Where each array is read and written, by call index. */
const accesses = (calls: readonly Call[]): Map<View, { reads: number[]; writes: number[] }> => {
  const map = new Map<View, { reads: number[]; writes: number[] }>()
  calls.forEach((call, i) => {
    for (const a of arraysOfCall(call)) {
      const array = call.args[a.at] as View
      const entry = map.get(array) ?? { reads: [], writes: [] }
      if (a.use !== 'out') entry.reads.push(i)
      if (a.use !== 'in') entry.writes.push(i)
      map.set(array, entry)
    }
  })
  return map
}

const uses = (entry: { reads: number[]; writes: number[] } | undefined): number[] =>
  entry === undefined ? [] : [...new Set([...entry.reads, ...entry.writes])].sort((a, b) => a - b)

/** Every occurrence of the arrays in `renamed` replaced by what they map to. */
const rename = (calls: readonly Call[], renamed: ReadonlyMap<View, View>): Call[] =>
  calls.map((call) => ({ ...call, args: call.args.map((a) => (ArrayBuffer.isView(a) ? renamed.get(a) ?? a : a)) }))

/** Whether call `i` may write its argument at `out` over its argument at `input`. */
const mayAlias = (call: Call, out: number, input: number): boolean =>
  (inPlace[call.kernel] ?? []).some(([o, i]) => o === out && i === input)

const bind = (calls: readonly Call[], bindings: ReadonlyMap<View, View>): Call[] => {
  const access = accesses(calls)
  for (const [temporary, target] of bindings) {
    const written = access.get(temporary)?.writes[0]
    const targetUses = uses(access.get(target))
    if (written === undefined || targetUses.length === 0) continue
    const call = calls[written]!
    const last = targetUses[targetUses.length - 1]!
    const out = call.args.indexOf(temporary)
    const input = call.args.indexOf(target)
    if (last !== written || !uses(access.get(temporary)).every((u) => u >= written) || !mayAlias(call, out, input)) {
      throw new RangeError(`cannot place the result of ${call.kernel} over its input: the input is read again, or the kernel cannot run in place`)
    }
  }
  return rename(calls, bindings)
}

const fuse = (input: readonly Call[], temporaries: ReadonlySet<View>): Call[] => {
  let calls = [...input]
  for (const f of fusions) {
    for (let i = 0; i < calls.length; i++) {
      const first = calls[i]!
      if (first.kernel !== f.first) continue
      const via = first.args[f.via[0]] as View
      if (!temporaries.has(via)) continue
      const access = accesses(calls)
      const touched = uses(access.get(via))
      const j = touched[1]
      if (touched.length !== 2 || touched[0] !== i || j === undefined || calls[j]!.kernel !== f.second || calls[j]!.args[f.via[1]] !== via) continue
      const second = calls[j]!
      const fused: Call = { kernel: f.fused, args: f.args(first.args, second.args) }
      // The fused call moves one of the two to the other's place: nothing in between may write what it reads or touch what it writes.
      const moved = f.at === 'first' ? second : first
      const between = calls.slice(i + 1, j)
      const conflict = arraysOfCall(moved).some((a) => {
        const array = moved.args[a.at] as View
        if (array === via) return false
        return between.some((c) => arraysOfCall(c).some((b) => c.args[b.at] === array && (b.use !== 'in' || a.use !== 'in')))
      })
      if (conflict) continue
      calls = calls.flatMap((c, k) => (k === (f.at === 'first' ? i : j) ? [fused] : k === i || k === j ? [] : [c]))
      // Position i now holds the call after the first one (or the fused call): look at it again.
      i -= 1
    }
  }
  return calls
}

const alias = (input: readonly Call[], temporaries: ReadonlySet<View>): Call[] => {
  let calls = [...input]
  for (let i = 0; i < calls.length; i++) {
    for (const [out, inp] of inPlace[calls[i]!.kernel] ?? []) {
      const call = calls[i]!
      const target = call.args[out] as View
      const source = call.args[inp] as View
      if (target === source || !temporaries.has(target) || !temporaries.has(source)) continue
      const access = accesses(calls)
      const sourceUses = uses(access.get(source))
      const targetUses = uses(access.get(target))
      if (sourceUses[sourceUses.length - 1] !== i || targetUses[0] !== i || call.args.filter((a) => a === source).length > 1) continue
      calls = rename(calls, new Map([[target, source]]))
    }
  }
  return calls
}

export interface CompiledProgram {
  /** Runs every call; returns the value of the call at `valued` (e.g. the loss), if any. */
  run(): number
  /** The byte offset where an input placeholder was placed (write the input there before each run); undefined when no call reads it. */
  offsetOf(input: View): number | undefined
}

export interface CompileOptions {
  /**
   * Arrays the caller fills before every run (a batch's ids), given to the
   * recording as placeholders: placed with the temporaries.
   */
  readonly inputs?: ReadonlySet<View>
  /**
   * Byte offsets for buffers of these sizes (the program's temporaries, its
   * inputs and its scratch), addressed by offset only, so they never stop
   * the memory from growing. Default: a new movable region of the arena for
   * each.
   */
  readonly place?: (bytes: readonly number[]) => readonly number[]
  /** Wraps each compiled call, e.g. to time it (the call's kernel and arguments are the compiled program's). */
  readonly wrap?: (call: Call, run: () => unknown) => () => unknown
  /**
   * The caller's buffers that keep their values for as long as the program
   * lives and that no call writes (a generator's weights): a product of a
   * few rows by such a matrix transposed reads a copy transposed once, here,
   * so that it streams the matrix's rows (the same sums, in the same order).
   */
  readonly constants?: ReadonlySet<View>
}

/** Rows of A at most that `matmul` multiplies without packing (FEW_ROWS in assembly/matmul.ts). */
const FEW_ROWS = 2

/** Products of few rows by a constant matrix transposed, made to read a transposed copy (see `CompileOptions.constants`). */
const transposeConstants = (input: readonly Call[], constants: ReadonlySet<View>): { calls: Call[]; copies: Map<Float32Array, View> } => {
  const copies = new Map<Float32Array, View>()
  const made = new Map<View, Float32Array>()
  const calls = input.map((call) => {
    if (call.kernel !== 'matmul') return call
    const [m, n, k, a, transA, b, transB, c, accumulate] = call.args as [number, number, number, View, boolean, Float32Array, boolean, View, boolean]
    if (transA || !transB || m > FEW_ROWS || !constants.has(b)) return call
    let copy = made.get(b)
    if (copy === undefined) {
      // b is n×k; its copy is k×n.
      copy = new Float32Array(k * n)
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) copy[p * n + j] = b[j * k + p]!
      made.set(b, copy)
      copies.set(copy, b)
    }
    return { ...call, args: [m, n, k, a, false, copy, false, c, accumulate] }
  })
  return { calls, copies }
}

/**
 * Compiles recorded calls for `kernels`. `temporaries` are the placeholders
 * the recording allocated; `bindings` places some of them in the caller's
 * buffers; every other array must be an input or live in the kernels'
 * memory. `valued` is the index of the call whose value `run` returns.
 */
export const compileProgram = (
  kernels: WasmKernels, recorded: readonly Call[], temporaries: ReadonlySet<View>, bindings: ReadonlyMap<View, View>, valued: number,
  options: CompileOptions = {},
): CompiledProgram => {
  const internals = wasmInternals(kernels)
  if (internals === undefined) throw new TypeError('compileProgram needs kernels made by createWasmKernels')
  const { exports, arena, scratchBytes } = internals
  const inputs = options.inputs ?? new Set<View>()
  const marked = recorded.map((call, i) => (i === valued ? { ...call, valued: true } : call))
  const { calls, copies } = transposeConstants(alias(fuse(bind(marked, bindings), temporaries), temporaries), options.constants ?? new Set())
  // Placed once and reused by every run, a temporary holds the last run's values: each must be written before it is read.
  const bound = new Set(bindings.values())
  for (const [array, entry] of accesses(calls)) {
    if ((temporaries.has(array) || bound.has(array)) && entry.reads.length > 0 && !(entry.writes[0]! < entry.reads[0]!)) {
      if (!(bound.has(array) && entry.writes.length > 0 && entry.writes[0] === entry.reads[0])) {
        throw new RangeError('a recorded call reads a buffer no earlier call wrote (kernels must not rely on what alloc returns)')
      }
    }
  }
  // Offsets of the caller's buffers first: placing may grow the memory, which detaches their views.
  const pointers = new Map<View, number>()
  const own: View[] = []
  for (const call of calls) {
    for (const a of call.args) {
      if (!ArrayBuffer.isView(a) || pointers.has(a) || own.includes(a)) continue
      if (temporaries.has(a) || inputs.has(a)) {
        own.push(a)
        continue
      }
      if (a instanceof Float32Array && copies.has(a)) continue
      if (!kernels.owns(a)) throw new RangeError('a recorded call reads an array outside the WebAssembly memory')
      pointers.set(a, a.byteOffset)
    }
  }
  const scratchSize = Math.max(0, ...calls.map((c) => scratchBytes(c.kernel as KernelName, c.args)))
  const sizes = [...own.map((a) => a.byteLength), scratchSize]
  const offsets = options.place === undefined ? sizes.map((bytes) => arena.reserveMovable(bytes)) : options.place(sizes)
  own.forEach((a, i) => pointers.set(a, offsets[i]!))
  // The transposed copies live as long as the program: their own regions, not the workspace.
  for (const copy of copies.keys()) {
    const at = arena.reserveMovable(copy.byteLength)
    new Float32Array(arena.buffer(), at, copy.length).set(copy)
    pointers.set(copy, at)
  }
  const scratch = offsets[own.length]!
  const pointer = (array: View): number => pointers.get(array)!
  const steps = calls.map((call) => {
    const args = call.args.map((a) => (typeof a === 'boolean' ? (a ? 1 : 0) : ArrayBuffer.isView(a) ? pointer(a) : a))
    if (scratchBytes(call.kernel as KernelName, call.args) > 0) args.push(scratch)
    const bound = (exports[call.kernel] as (...p: unknown[]) => unknown).bind(undefined, ...args) as () => unknown
    return { run: options.wrap === undefined ? bound : options.wrap(call, bound), valued: 'valued' in call }
  })
  const at = steps.findIndex((s) => s.valued)
  const before = steps.slice(0, Math.max(0, at)).map((s) => s.run)
  const after = steps.slice(at + 1).map((s) => s.run)
  const value = at < 0 ? () => Number.NaN : steps[at]!.run
  return {
    run() {
      for (const call of before) call()
      const result = value() as number
      for (const call of after) call()
      return result
    },
    offsetOf: (input) => (inputs.has(input) ? pointers.get(input) : undefined),
  }
}
