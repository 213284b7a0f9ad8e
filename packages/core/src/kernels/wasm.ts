/**
 * The WebAssembly SIMD kernels: float32 primitives compiled from
 * AssemblyScript (`assembly/`) with 128-bit SIMD.
 *
 * Memory. One `WebAssembly.Memory`, sized up front (64 MiB unless told
 * otherwise) and grown while nothing lives in it, holds an arena
 * (`wasm-arena.ts`): `alloc` hands out float32 views into it, and kernels
 * given such views run on them in place (zero copy). Any other float32 or
 * int32 array is copied into space above the arena, the kernel runs there,
 * and outputs are copied back: correct, only slower. Float64 arrays
 * (gradient checks) go to the reference kernels, since the WebAssembly
 * kernels are float32 only. `scope` frees what a computation allocated.
 *
 * Every kernel goes through one wrapper: the argument table of `kernels.ts`
 * says which arguments are arrays, how many elements the kernel touches and
 * which ids must be in range, which is everything the wrapper checks and
 * stages.
 */
import { allocLike, type FloatArray } from '../tensor.js'
import { arraysOf, type KernelArgs, type KernelName, kernelNames, type Kernels } from './kernels.js'
import { referenceKernels } from './reference.js'
import { type Arena, alignUp, createArena, type WasmArena } from './wasm-arena.js'
import { instantiate, PAGE_BYTES, type WasmKernelExports } from './wasm-module.js'

export type { WasmArena } from './wasm-arena.js'
export { WasmMemoryFull } from './wasm-arena.js'
export { wasmKernelsUnavailable } from './wasm-module.js'

/** Options of {@link createWasmKernels}. */
export interface WasmKernelsOptions {
  /**
   * Bytes of WebAssembly memory reserved up front (rounded up to whole 64 KiB
   * pages). Default 64 MiB. The memory grows when needed while the arena
   * holds nothing, up to 4 GiB.
   */
  readonly memoryBytes?: number
}

/** The WebAssembly SIMD {@link Kernels}, with access to their memory. */
export interface WasmKernels extends Kernels {
  /**
   * A float32 request returns a zero-filled view into the WebAssembly
   * memory; a float64 request returns an ordinary `Float64Array`. Throws
   * `WasmMemoryFull`, naming the size needed, when the memory cannot hold it.
   */
  alloc<D extends FloatArray>(like: D, n: number): D
  /**
   * A zero-filled `Int32Array` of `n` ids inside the WebAssembly memory. Ids
   * passed this way to `gather`, `scatterAdd` and the softmax kernels are not
   * copied.
   */
  allocIndices(n: number): Int32Array
  /** Whether `array` lives in this backend's memory, so kernels use it without a copy. */
  owns(array: ArrayBufferView): boolean
  readonly arena: WasmArena
}

/** Kernels the module implements beyond `Kernels`, with their array arguments (for `wasm-program.ts`). */
export type FusedKernel = 'normalizeTanh' | 'tanhNormalizeBackward'

/** What a compiled step needs of the kernels: the module's exports and the arena (not public API). */
export interface WasmInternals {
  readonly exports: WasmKernelExports & Record<string, unknown>
  readonly arena: Arena
  /** Scratch bytes a call of `kernel` needs (0 for most). */
  scratchBytes(kernel: KernelName | FusedKernel, args: readonly unknown[]): number
}

const internals = new WeakMap<Kernels, WasmInternals>()

/** The internals of kernels made by `createWasmKernels`, or undefined for any other kernels. */
export const wasmInternals = (kernels: Kernels): WasmInternals | undefined => internals.get(kernels)

const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024

/**
 * The WebAssembly SIMD kernels, or `undefined` where the engine lacks
 * WebAssembly SIMD ({@link wasmKernelsUnavailable} says why); callers then
 * fall back to `referenceKernels` and say so. Each call creates an
 * independent memory and arena.
 */
export const createWasmKernels = (options: WasmKernelsOptions = {}): WasmKernels | undefined => {
  const module = instantiate(Math.max(1, Math.ceil((options.memoryBytes ?? DEFAULT_MEMORY_BYTES) / PAGE_BYTES)))
  if (module === undefined) return undefined
  const { memory, exports } = module
  const arena = createArena(memory, exports.heapBase())

  const scratchBytes = (kernel: KernelName | FusedKernel, args: readonly unknown[]): number => {
    if (kernel === 'matmul') return exports.matmulScratchBytes(args[1] as number, args[2] as number)
    const cols = args[args.length - 1] as number
    if (kernel === 'normalize' || kernel === 'normalizeTanh') return exports.normalizeScratchBytes(cols)
    if (kernel === 'normalizeBackward' || kernel === 'tanhNormalizeBackward') return exports.normalizeBackwardScratchBytes(cols)
    return 0
  }

  const viewAt = (like: ArrayBufferView, at: number, count: number): Float32Array | Int32Array =>
    like instanceof Int32Array ? new Int32Array(arena.buffer(), at, count) : new Float32Array(arena.buffer(), at, count)

  /**
   * One kernel call: checks every array argument against what the kernel
   * touches (the kernels index memory unchecked, so a short array would
   * read or clobber its neighbours) and every id against its bound, copies
   * arrays that live outside the memory into space above the arena (inputs
   * in before, outputs back after), then calls the export with pointers.
   */
  const run = <K extends KernelName>(kernel: K, args: KernelArgs<K>): unknown => {
    const arrays = arraysOf(kernel, args)
    const values = args as readonly unknown[]
    if (arrays.some((a) => values[a.at] instanceof Float64Array)) {
      return (referenceKernels[kernel] as (...a: KernelArgs<K>) => unknown)(...args)
    }
    for (const a of arrays) {
      const array = values[a.at] as Float32Array | Int32Array
      if (array.length < a.count) throw new RangeError(`${kernel} ${a.name} has ${array.length} elements, the kernel needs ${a.count}`)
      if (a.bound !== undefined) {
        for (let i = 0; i < a.count; i++) {
          const id = array[i]!
          if (!(id >= 0 && id < a.bound)) throw new RangeError(`${kernel} ${a.name}[${i}] = ${id} is outside [0, ${a.bound})`)
        }
      }
    }
    const staged = arrays.filter((a) => !arena.owns(values[a.at] as ArrayBufferView))
    // Offsets first: making room may grow the memory, which detaches the views.
    const pointers: unknown[] = values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : ArrayBuffer.isView(v) ? v.byteOffset : v))
    const scratch = scratchBytes(kernel, values)
    const frame = arena.above(staged.reduce((bytes, a) => bytes + alignUp(a.count * 4), alignUp(scratch)))
    let next = frame + alignUp(scratch)
    for (const a of staged) {
      const array = values[a.at] as Float32Array | Int32Array
      pointers[a.at] = next
      if (a.use !== 'out') viewAt(array, next, a.count).set(array.subarray(0, a.count))
      next += alignUp(a.count * 4)
    }
    if (scratch > 0) pointers.push(frame)
    const result = (exports[kernel] as (...p: unknown[]) => unknown)(...pointers)
    for (const a of staged) {
      const array = values[a.at] as Float32Array | Int32Array
      if (a.use !== 'in') array.set(viewAt(array, pointers[a.at] as number, a.count))
    }
    return result
  }

  const methods = Object.fromEntries(kernelNames.map((kernel) => [kernel, (...args: unknown[]) => run(kernel, args as never)]))

  const kernels = {
    ...(methods as Omit<Kernels, 'name' | 'alloc' | 'scope'>),
    name: 'wasm',
    arena,
    owns: arena.owns,
    scope: arena.scope,

    alloc<D extends FloatArray>(like: D, n: number): D {
      if (!(like instanceof Float32Array)) return allocLike(like, n)
      // A fresh region may hold an earlier allocation's values after a reset:
      // zero it so results never depend on what ran before.
      const at = arena.reserve(n * 4) // before reading the buffer: reserving may grow the memory, which replaces it
      return new Float32Array(arena.buffer(), at, n).fill(0) as D
    },

    allocIndices(n: number) {
      const at = arena.reserve(n * 4)
      return new Int32Array(arena.buffer(), at, n).fill(0)
    },
  } satisfies WasmKernels
  internals.set(kernels, { exports, arena, scratchBytes })
  return kernels
}
