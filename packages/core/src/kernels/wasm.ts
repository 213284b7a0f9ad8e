/**
 * The WebAssembly SIMD kernels: float32 primitives compiled from
 * AssemblyScript (`assembly/`) with 128-bit SIMD, embedded in the package as
 * bytes (`wasm-bytes.generated.ts`) so loading needs no file system and no
 * fetch, in Node and in browsers alike.
 *
 * Memory. One `WebAssembly.Memory`, sized up front (64 MiB unless told
 * otherwise), holds an arena: `alloc` hands out float32 views into it, and
 * kernels given such views run on them in place (zero copy). Any other
 * float32 or int32 array is copied into scratch space above the arena, the
 * kernel runs there, and outputs are copied back: correct, only slower.
 * Float64 arrays (gradient checks) go to the reference kernels, since the
 * WebAssembly kernels are float32 only.
 *
 * Growth. `memory.grow` detaches every view of the memory, including views
 * `alloc` already handed out. So the memory grows only while the arena holds
 * no live allocations. Otherwise, a request that does not fit falls back:
 * `alloc` returns an ordinary array, and a kernel call whose scratch does not
 * fit runs the reference kernel. Both are correct, only slower. Size the
 * memory for the whole working set with `memoryBytes` to avoid either.
 *
 * Arena lifetime. `alloc` never reuses a live region. A training session that
 * allocates its buffers once and reuses them takes `arena.mark()` before it
 * allocates and `arena.reset(mark)` when it is done, which frees everything
 * allocated after the mark at once.
 */
import { allocLike, type FloatArray } from '../tensor.js'
import type { Kernels } from './kernels.js'
import { referenceKernels } from './reference.js'
import { wasmKernelsBase64 } from './wasm-bytes.generated.js'

/** Options of {@link createWasmKernels}. */
export interface WasmKernelsOptions {
  /**
   * Bytes of WebAssembly memory reserved up front for the arena and the
   * scratch space (rounded up to whole 64 KiB pages). Default 64 MiB.
   */
  readonly memoryBytes?: number
}

/**
 * The arena that {@link WasmKernels.alloc} allocates from: a bump allocator
 * over the WebAssembly memory.
 */
export interface WasmArena {
  /** The arena's current top, to pass to `reset` later. */
  mark(): number
  /**
   * Frees every region allocated since `mark` was taken. Views into those
   * regions must not be used afterwards: later allocations reuse their bytes.
   */
  reset(mark: number): void
  /** Bytes currently allocated. */
  readonly usedBytes: number
  /** Bytes the arena can hold without growing the memory. */
  readonly capacityBytes: number
}

/** The WebAssembly SIMD {@link Kernels}, with access to their memory. */
export interface WasmKernels extends Kernels {
  /**
   * A float32 request returns a zero-filled view into the WebAssembly memory
   * (or, when the arena is full, an ordinary array); a float64 request
   * returns an ordinary `Float64Array`.
   */
  alloc<D extends FloatArray>(like: D, n: number): D
  /**
   * A zero-filled `Int32Array` of `n` ids inside the WebAssembly memory (or,
   * when the arena is full, an ordinary one). Ids passed this way to
   * `gather`, `scatterAdd` and the softmax kernels are not copied.
   */
  allocIndices(n: number): Int32Array
  /** Whether `array` lives in this backend's memory, so kernels use it without a copy. */
  owns(array: ArrayBufferView): boolean
  readonly arena: WasmArena
  /**
   * The module's own exports: the kernels over byte offsets into the memory
   * (`view.byteOffset` of a view `alloc` handed out), with nothing checked and
   * nothing staged. For a caller that owns every buffer it passes, has checked
   * their sizes and the ids in them, and passes scratch space of the size the
   * `…ScratchBytes` exports give: a training session that calls the same
   * kernels thousands of times on the same buffers. A wrong pointer or size
   * reads or overwrites unrelated memory.
   */
  readonly exports: WasmKernelExports
}

/**
 * Why the WebAssembly SIMD kernels cannot run in this JavaScript engine, or
 * `undefined` when they can. SIMD support is detected with
 * `WebAssembly.validate` on the embedded module itself.
 */
export const wasmKernelsUnavailable = (): string | undefined => {
  const api = webAssemblyApi()
  if (api === undefined) return 'this JavaScript engine has no WebAssembly'
  if (!api.validate(moduleBytes())) return 'this JavaScript engine\'s WebAssembly has no SIMD (128-bit vectors)'
  return undefined
}

/**
 * The WebAssembly SIMD kernels, or `undefined` where the engine lacks
 * WebAssembly SIMD ({@link wasmKernelsUnavailable} says why); callers then
 * fall back to `referenceKernels` and say so. Instantiates synchronously:
 * the module is small. Each call creates an independent memory and arena.
 */
export const createWasmKernels = (options: WasmKernelsOptions = {}): WasmKernels | undefined => {
  const api = webAssemblyApi()
  if (api === undefined || wasmKernelsUnavailable() !== undefined) return undefined
  const pages = Math.max(1, Math.ceil((options.memoryBytes ?? DEFAULT_MEMORY_BYTES) / PAGE_BYTES))
  const memory = new api.Memory({ initial: pages })
  const instance = new api.Instance(new api.Module(moduleBytes()), { env: { memory } })
  // The export signatures are those of assembly/index.ts.
  const wasm = instance.exports as WasmKernelExports
  return wasmKernels(memory, wasm)
}

const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
const PAGE_BYTES = 64 * 1024
/** Regions start on 64-byte cache lines, so a row's vector loads split lines only where its length forces it. */
const ALIGN = 64

const alignUp = (bytes: number): number => Math.ceil(bytes / ALIGN) * ALIGN

// The slice of the WebAssembly JS API used here. The package compiles against
// ES2022 alone (no DOM or Node typings), and reading it off globalThis also
// tells when a host has no WebAssembly at all.
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(deltaPages: number): number
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean
  readonly Memory: new (descriptor: { initial: number }) => WasmMemory
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object, imports: { env: { memory: WasmMemory } }) => { readonly exports: object }
}

const webAssemblyApi = (): WasmApi | undefined => (globalThis as { WebAssembly?: WasmApi }).WebAssembly

/**
 * The exports of assembly/index.ts. Pointers are byte offsets; booleans are 0
 * or 1. Beyond the `Kernels` primitives: the scratch sizes the kernels need,
 * and fusions of two kernels into one pass that give the same bits as the two
 * calls. These may run in place: `tanhForward` (y = x), `tanhBackward`
 * (dx = dy), `normalize` and `normalizeTanh` (xhat = x), `normalizeBackward`
 * and `tanhNormalizeBackward` (dx = dy).
 */
export interface WasmKernelExports {
  heapBase(): number
  matmulScratchBytes(n: number, k: number): number
  normalizeScratchBytes(cols: number): number
  normalizeBackwardScratchBytes(cols: number): number
  matmul(
    m: number, n: number, k: number, a: number, transA: number, b: number, transB: number,
    c: number, accumulate: number, scratch: number,
  ): void
  broadcastRows(v: number, out: number, rows: number, cols: number): void
  sumRows(x: number, out: number, rows: number, cols: number): void
  tanhForward(x: number, y: number, n: number): void
  tanhBackward(y: number, dy: number, dx: number, n: number): void
  gather(table: number, ids: number, out: number, count: number, dim: number): void
  scatterAdd(dy: number, ids: number, dTable: number, count: number, dim: number, rows: number): void
  columnMoments(x: number, mean: number, variance: number, rows: number, cols: number): void
  normalize(
    x: number, mean: number, variance: number, gamma: number, beta: number, eps: number,
    xhat: number, y: number, rows: number, cols: number, scratch: number,
  ): void
  normalizeBackward(
    dy: number, xhat: number, variance: number, gamma: number, eps: number, batchStatistics: number,
    dx: number, dgamma: number, dbeta: number, rows: number, cols: number, scratch: number,
  ): void
  /** `normalize` then `tanhForward` on its output in one pass (the same bits); y is the tanh's output. */
  normalizeTanh(
    x: number, mean: number, variance: number, gamma: number, beta: number, eps: number,
    xhat: number, y: number, rows: number, cols: number, scratch: number,
  ): void
  /** `tanhBackward` (dh at tanh's output h) then `normalizeBackward`, in one pass (the same bits). */
  tanhNormalizeBackward(
    dh: number, h: number, xhat: number, variance: number, gamma: number, eps: number, batchStatistics: number,
    dx: number, dgamma: number, dbeta: number, rows: number, cols: number, scratch: number,
  ): void
  softmaxCrossEntropy(logits: number, targets: number, probs: number, rows: number, cols: number): number
  softmaxCrossEntropyBackward(
    probs: number, targets: number, scale: number, dlogits: number, rows: number, cols: number,
  ): void
  sgdUpdate(params: number, grads: number, lr: number, n: number): void
  adamwUpdate(
    params: number, grads: number, m: number, v: number, n: number,
    lr: number, beta1: number, beta2: number, eps: number, decay: number, c1: number, c2: number,
  ): void
  movingAverage(running: number, batch: number, keep: number, weight: number, n: number): void
}

let decodedModule: Uint8Array | undefined
const moduleBytes = (): Uint8Array => (decodedModule ??= decodeBase64(wasmKernelsBase64))

const BASE64_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** RFC 4648 base64 to bytes; written out because ES2022 has no decoder (`atob` is a host API). */
const decodeBase64 = (text: string): Uint8Array => {
  const digits = text.replace(/=+$/, '')
  const bytes = new Uint8Array(Math.floor((digits.length * 3) / 4))
  let bits = 0
  let buffered = 0
  let at = 0
  for (const digit of digits) {
    const value = BASE64_DIGITS.indexOf(digit)
    if (value < 0) throw new RangeError(`invalid base64 digit '${digit}'`)
    buffered = ((buffered << 6) | value) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      bytes[at++] = (buffered >> bits) & 0xff
    }
  }
  return bytes
}

/** How a kernel uses one of its array arguments. */
type Use = 'in' | 'out' | 'inout'

/** An array argument of a kernel call and the number of elements the kernel touches. */
interface Arg {
  readonly array: FloatArray | Int32Array
  readonly count: number
  readonly use: Use
}

const input = (array: FloatArray | Int32Array, count: number): Arg => ({ array, count, use: 'in' })
const output = (array: FloatArray, count: number): Arg => ({ array, count, use: 'out' })
const inputOutput = (array: FloatArray, count: number): Arg => ({ array, count, use: 'inout' })

const isFloat32 = (...arrays: readonly FloatArray[]): boolean => arrays.every((a) => a instanceof Float32Array)

/** Kernels index wasm memory unchecked, so a short array would read or clobber its neighbours: refuse it. */
const needs = (what: string, array: ArrayLike<number>, count: number): void => {
  if (array.length < count) throw new RangeError(`${what} has ${array.length} elements, the kernel needs ${count}`)
}

/** Every id must name a row: an id out of range would address memory outside the table. */
const checkIds = (what: string, ids: Int32Array, count: number, bound: number): void => {
  needs(what, ids, count)
  for (let i = 0; i < count; i++) {
    const id = ids[i]!
    if (id < 0 || id >= bound) throw new RangeError(`${what}[${i}] = ${id} is outside [0, ${bound})`)
  }
}

const wasmKernels = (memory: WasmMemory, wasm: WasmKernelExports): WasmKernels => {
  const base = alignUp(wasm.heapBase())
  let top = base

  const owns = (array: ArrayBufferView): boolean => array.buffer === memory.buffer

  /**
   * Makes the memory at least `end` bytes long. Only called while the arena
   * is empty, since growing detaches every view of the memory. False when
   * the engine refuses to grow it.
   */
  const growTo = (end: number): boolean => {
    const missing = end - memory.buffer.byteLength
    if (missing <= 0) return true
    try {
      memory.grow(Math.ceil(missing / PAGE_BYTES))
      return true
    } catch {
      return false
    }
  }

  /** Whether [top, top + bytes) can be used, growing the memory if that is safe. */
  const room = (bytes: number): boolean =>
    top + bytes <= memory.buffer.byteLength || (top === base && growTo(top + bytes))

  /** Reserves `bytes` in the arena; undefined when there is no room. */
  const reserve = (bytes: number): number | undefined => {
    const size = alignUp(bytes)
    if (!room(size)) return undefined
    const at = top
    top += size
    return at
  }

  const viewAt = (like: FloatArray | Int32Array, at: number, count: number): Float32Array | Int32Array =>
    like instanceof Int32Array ? new Int32Array(memory.buffer, at, count) : new Float32Array(memory.buffer, at, count)

  /**
   * Runs `kernel` with a byte pointer for each argument and for
   * `scratchBytes` of scratch. Arguments that live in the memory are passed in
   * place; the others are copied into a frame above the arena's top (inputs
   * in before, outputs back after). When the frame does not fit, `fallback`
   * runs instead.
   */
  const call = <const A extends readonly Arg[], R>(
    args: A,
    scratchBytes: number,
    kernel: (pointers: { readonly [I in keyof A]: number }, scratch: number) => R,
    fallback: () => R,
  ): R => {
    const staged = args.map((arg) => !owns(arg.array))
    const frameBytes = args.reduce((bytes, arg, i) => (staged[i] ? bytes + alignUp(arg.count * 4) : bytes), alignUp(scratchBytes))
    // Offsets are read before any growth: growing detaches the views.
    const offsets = args.map((arg) => arg.array.byteOffset)
    if (!room(frameBytes)) return fallback()
    let next = top
    const pointers = args.map((arg, i) => {
      if (!staged[i]) return offsets[i]!
      const at = next
      next += alignUp(arg.count * 4)
      if (arg.use !== 'out') viewAt(arg.array, at, arg.count).set(arg.array.subarray(0, arg.count))
      return at
    })
    const result = kernel(pointers as { readonly [I in keyof A]: number }, next)
    args.forEach((arg, i) => {
      if (staged[i] && arg.use !== 'in') arg.array.set(viewAt(arg.array, pointers[i]!, arg.count))
    })
    return result
  }

  const arena: WasmArena = {
    mark: () => top,
    reset(mark) {
      if (!Number.isInteger(mark) || mark < base || mark > top) {
        throw new RangeError(`arena mark ${mark} is not within the live arena [${base}, ${top}]`)
      }
      top = mark
    },
    get usedBytes() {
      return top - base
    },
    get capacityBytes() {
      return memory.buffer.byteLength - base
    },
  }

  return {
    name: 'wasm',
    arena,
    owns,
    exports: wasm,

    alloc<D extends FloatArray>(like: D, n: number): D {
      if (!(like instanceof Float32Array)) return allocLike(like, n)
      const at = reserve(n * 4)
      // A fresh region may hold an earlier allocation's values after a reset:
      // zero it so results never depend on what ran before.
      return (at === undefined ? new Float32Array(n) : new Float32Array(memory.buffer, at, n).fill(0)) as D
    },

    allocIndices(n) {
      const at = reserve(n * 4)
      return at === undefined ? new Int32Array(n) : new Int32Array(memory.buffer, at, n).fill(0)
    },

    matmul(m, n, k, a, transA, b, transB, c, accumulate) {
      const reference = () => referenceKernels.matmul(m, n, k, a, transA, b, transB, c, accumulate)
      if (!isFloat32(a, b, c)) return reference()
      needs('matmul a', a, m * k)
      needs('matmul b', b, k * n)
      needs('matmul c', c, m * n)
      // The packed A panel and strips of B.
      const scratch = wasm.matmulScratchBytes(n, k)
      const args = [input(a, m * k), input(b, k * n), accumulate ? inputOutput(c, m * n) : output(c, m * n)] as const
      return call(args, scratch, ([pa, pb, pc], ps) => {
        wasm.matmul(m, n, k, pa, transA ? 1 : 0, pb, transB ? 1 : 0, pc, accumulate ? 1 : 0, ps)
      }, reference)
    },

    broadcastRows(v, out, rows, cols) {
      const reference = () => referenceKernels.broadcastRows(v, out, rows, cols)
      if (!isFloat32(v, out)) return reference()
      needs('broadcastRows v', v, cols)
      needs('broadcastRows out', out, rows * cols)
      return call([input(v, cols), output(out, rows * cols)] as const, 0, ([pv, po]) => {
        wasm.broadcastRows(pv, po, rows, cols)
      }, reference)
    },

    sumRows(x, out, rows, cols) {
      const reference = () => referenceKernels.sumRows(x, out, rows, cols)
      if (!isFloat32(x, out)) return reference()
      needs('sumRows x', x, rows * cols)
      needs('sumRows out', out, cols)
      return call([input(x, rows * cols), output(out, cols)] as const, 0, ([px, po]) => {
        wasm.sumRows(px, po, rows, cols)
      }, reference)
    },

    tanhForward(x, y, n) {
      const reference = () => referenceKernels.tanhForward(x, y, n)
      if (!isFloat32(x, y)) return reference()
      needs('tanhForward x', x, n)
      needs('tanhForward y', y, n)
      return call([input(x, n), output(y, n)] as const, 0, ([px, py]) => {
        wasm.tanhForward(px, py, n)
      }, reference)
    },

    tanhBackward(y, dy, dx, n) {
      const reference = () => referenceKernels.tanhBackward(y, dy, dx, n)
      if (!isFloat32(y, dy, dx)) return reference()
      needs('tanhBackward y', y, n)
      needs('tanhBackward dy', dy, n)
      needs('tanhBackward dx', dx, n)
      return call([input(y, n), input(dy, n), output(dx, n)] as const, 0, ([py, pdy, pdx]) => {
        wasm.tanhBackward(py, pdy, pdx, n)
      }, reference)
    },

    gather(table, ids, out, count, dim) {
      const reference = () => referenceKernels.gather(table, ids, out, count, dim)
      if (!isFloat32(table, out)) return reference()
      const rows = dim === 0 ? 0 : Math.floor(table.length / dim)
      // With dim = 0 no row is read, so any id is harmless.
      if (dim > 0) checkIds('gather ids', ids, count, rows)
      needs('gather out', out, count * dim)
      const args = [input(table, rows * dim), input(ids, count), output(out, count * dim)] as const
      return call(args, 0, ([pt, pi, po]) => {
        wasm.gather(pt, pi, po, count, dim)
      }, reference)
    },

    scatterAdd(dy, ids, dTable, count, dim, rows) {
      const reference = () => referenceKernels.scatterAdd(dy, ids, dTable, count, dim, rows)
      if (!isFloat32(dy, dTable)) return reference()
      if (dim > 0) checkIds('scatterAdd ids', ids, count, rows)
      needs('scatterAdd dy', dy, count * dim)
      needs('scatterAdd dTable', dTable, rows * dim)
      const args = [input(dy, count * dim), input(ids, count), output(dTable, rows * dim)] as const
      return call(args, 0, ([pdy, pi, pt]) => {
        wasm.scatterAdd(pdy, pi, pt, count, dim, rows)
      }, reference)
    },

    columnMoments(x, mean, variance, rows, cols) {
      const reference = () => referenceKernels.columnMoments(x, mean, variance, rows, cols)
      if (!isFloat32(x, mean, variance)) return reference()
      needs('columnMoments x', x, rows * cols)
      needs('columnMoments mean', mean, cols)
      needs('columnMoments variance', variance, cols)
      const args = [input(x, rows * cols), output(mean, cols), output(variance, cols)] as const
      return call(args, 0, ([px, pm, pv]) => {
        wasm.columnMoments(px, pm, pv, rows, cols)
      }, reference)
    },

    normalize(x, mean, variance, gamma, beta, eps, xhat, y, rows, cols) {
      const reference = () => referenceKernels.normalize(x, mean, variance, gamma, beta, eps, xhat, y, rows, cols)
      if (!isFloat32(x, mean, variance, gamma, beta, xhat, y)) return reference()
      needs('normalize x', x, rows * cols)
      for (const [what, v] of [['mean', mean], ['variance', variance], ['gamma', gamma], ['beta', beta]] as const) {
        needs(`normalize ${what}`, v, cols)
      }
      needs('normalize xhat', xhat, rows * cols)
      needs('normalize y', y, rows * cols)
      const args = [
        input(x, rows * cols), input(mean, cols), input(variance, cols), input(gamma, cols), input(beta, cols),
        output(xhat, rows * cols), output(y, rows * cols),
      ] as const
      return call(args, wasm.normalizeScratchBytes(cols), ([px, pm, pv, pg, pb, ph, py], ps) => {
        wasm.normalize(px, pm, pv, pg, pb, eps, ph, py, rows, cols, ps)
      }, reference)
    },

    normalizeBackward(dy, xhat, variance, gamma, eps, batchStatistics, dx, dgamma, dbeta, rows, cols) {
      const reference = () =>
        referenceKernels.normalizeBackward(dy, xhat, variance, gamma, eps, batchStatistics, dx, dgamma, dbeta, rows, cols)
      if (!isFloat32(dy, xhat, variance, gamma, dx, dgamma, dbeta)) return reference()
      needs('normalizeBackward dy', dy, rows * cols)
      needs('normalizeBackward xhat', xhat, rows * cols)
      for (const [what, v] of [['variance', variance], ['gamma', gamma], ['dgamma', dgamma], ['dbeta', dbeta]] as const) {
        needs(`normalizeBackward ${what}`, v, cols)
      }
      needs('normalizeBackward dx', dx, rows * cols)
      const args = [
        input(dy, rows * cols), input(xhat, rows * cols), input(variance, cols), input(gamma, cols),
        output(dx, rows * cols), output(dgamma, cols), output(dbeta, cols),
      ] as const
      return call(args, wasm.normalizeBackwardScratchBytes(cols), ([pdy, ph, pv, pg, pdx, pdg, pdb], ps) => {
        wasm.normalizeBackward(pdy, ph, pv, pg, eps, batchStatistics ? 1 : 0, pdx, pdg, pdb, rows, cols, ps)
      }, reference)
    },

    softmaxCrossEntropy(logits, targets, probs, rows, cols) {
      const reference = () => referenceKernels.softmaxCrossEntropy(logits, targets, probs, rows, cols)
      if (!isFloat32(logits, probs)) return reference()
      checkIds('softmaxCrossEntropy targets', targets, rows, cols)
      needs('softmaxCrossEntropy logits', logits, rows * cols)
      needs('softmaxCrossEntropy probs', probs, rows * cols)
      const args = [input(logits, rows * cols), input(targets, rows), output(probs, rows * cols)] as const
      return call(args, 0, ([pl, pt, pp]) => wasm.softmaxCrossEntropy(pl, pt, pp, rows, cols), reference)
    },

    softmaxCrossEntropyBackward(probs, targets, scale, dlogits, rows, cols) {
      const reference = () => referenceKernels.softmaxCrossEntropyBackward(probs, targets, scale, dlogits, rows, cols)
      if (!isFloat32(probs, dlogits)) return reference()
      checkIds('softmaxCrossEntropyBackward targets', targets, rows, cols)
      needs('softmaxCrossEntropyBackward probs', probs, rows * cols)
      needs('softmaxCrossEntropyBackward dlogits', dlogits, rows * cols)
      const args = [input(probs, rows * cols), input(targets, rows), output(dlogits, rows * cols)] as const
      return call(args, 0, ([pp, pt, pd]) => {
        wasm.softmaxCrossEntropyBackward(pp, pt, scale, pd, rows, cols)
      }, reference)
    },

    // A training session calls the updates every step on buffers it owns:
    // then they go straight to the kernel, allocating nothing.

    sgdUpdate(params, grads, lr, n) {
      if (!(params instanceof Float32Array && grads instanceof Float32Array)) {
        return referenceKernels.sgdUpdate(params, grads, lr, n)
      }
      needs('sgdUpdate params', params, n)
      needs('sgdUpdate grads', grads, n)
      if (owns(params) && owns(grads)) return wasm.sgdUpdate(params.byteOffset, grads.byteOffset, lr, n)
      return call([inputOutput(params, n), input(grads, n)] as const, 0, ([pp, pg]) => {
        wasm.sgdUpdate(pp, pg, lr, n)
      }, () => referenceKernels.sgdUpdate(params, grads, lr, n))
    },

    adamwUpdate(params, grads, m, v, n, lr, beta1, beta2, eps, decay, c1, c2) {
      if (!(params instanceof Float32Array && grads instanceof Float32Array && m instanceof Float32Array && v instanceof Float32Array)) {
        return referenceKernels.adamwUpdate(params, grads, m, v, n, lr, beta1, beta2, eps, decay, c1, c2)
      }
      needs('adamwUpdate params', params, n)
      needs('adamwUpdate grads', grads, n)
      needs('adamwUpdate m', m, n)
      needs('adamwUpdate v', v, n)
      if (owns(params) && owns(grads) && owns(m) && owns(v)) {
        return wasm.adamwUpdate(params.byteOffset, grads.byteOffset, m.byteOffset, v.byteOffset, n, lr, beta1, beta2, eps, decay, c1, c2)
      }
      const args = [inputOutput(params, n), input(grads, n), inputOutput(m, n), inputOutput(v, n)] as const
      return call(args, 0, ([pp, pg, pm, pv]) => {
        wasm.adamwUpdate(pp, pg, pm, pv, n, lr, beta1, beta2, eps, decay, c1, c2)
      }, () => referenceKernels.adamwUpdate(params, grads, m, v, n, lr, beta1, beta2, eps, decay, c1, c2))
    },

    movingAverage(running, batch, keep, weight, n) {
      if (!(running instanceof Float32Array && batch instanceof Float32Array)) {
        return referenceKernels.movingAverage(running, batch, keep, weight, n)
      }
      needs('movingAverage running', running, n)
      needs('movingAverage batch', batch, n)
      if (owns(running) && owns(batch)) return wasm.movingAverage(running.byteOffset, batch.byteOffset, keep, weight, n)
      return call([inputOutput(running, n), input(batch, n)] as const, 0, ([pr, pb]) => {
        wasm.movingAverage(pr, pb, keep, weight, n)
      }, () => referenceKernels.movingAverage(running, batch, keep, weight, n))
    },
  }
}
