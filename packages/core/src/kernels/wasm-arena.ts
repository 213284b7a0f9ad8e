/**
 * The memory arena of the WebAssembly kernels: a bump allocator over one
 * `WebAssembly.Memory`, with marks and scopes.
 *
 * Growth. `memory.grow` detaches every view of the memory, including views
 * already handed out, so the memory grows only while no view can be live:
 * while every region in the arena is "movable", reserved by an owner that
 * addresses it by byte offset and makes views only for the moment it uses
 * them (a training session's buffers). A request that does not fit otherwise
 * is an error that names the size it needed (never a silent switch to slower
 * memory). A `scope` entered with no view live recovers from it by itself:
 * its function is pure, so the scope frees what it allocated, grows the
 * memory and runs it again.
 */
import { MAX_PAGES, PAGE_BYTES, type WasmMemory } from './wasm-module.js'

/** Regions start on 64-byte cache lines, so a row's vector loads split lines only where its length forces it. */
const ALIGN = 64

export const alignUp = (bytes: number): number => Math.ceil(bytes / ALIGN) * ALIGN

const MAX_BYTES = MAX_PAGES * PAGE_BYTES

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

/** A request the WebAssembly memory cannot hold while other buffers live in it. */
export class WasmMemoryFull extends RangeError {
  constructor(
    /** The memory's size that would hold the request, in bytes. */
    readonly neededBytes: number,
    message: string,
  ) {
    super(message)
    this.name = 'WasmMemoryFull'
  }
}

/**
 * The arena that the WebAssembly kernels allocate from: a bump allocator
 * over their memory.
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

/** The arena's operations on the kernels' side. */
export interface Arena extends WasmArena {
  /** Whether a view lives in the memory. */
  owns(view: ArrayBufferView): boolean
  /** The byte offset of `bytes` reserved in the arena (aligned) for views, growing the memory when no view is live; throws WasmMemoryFull. */
  reserve(bytes: number): number
  /**
   * Like `reserve`, for an owner that keeps no view of the region across
   * anything that may allocate: its region does not stop the memory growing.
   */
  reserveMovable(bytes: number): number
  /**
   * The byte offset of `bytes` of temporary space above the arena's top, not
   * reserved: valid until the next reservation. Grows the memory like `reserve`.
   */
  above(bytes: number): number
  /** See `Kernels.scope`. */
  scope<A>(f: () => A): A
  /** The memory's current buffer (it changes when the memory grows). */
  buffer(): ArrayBuffer
}

export const createArena = (memory: WasmMemory, heapBase: number): Arena => {
  const base = alignUp(heapBase)
  let top = base
  /** The end of each live region that views may point into, in allocation order. */
  const pinned: number[] = []
  const viewsLive = (): boolean => pinned.length > 0

  const owns = (view: ArrayBufferView): boolean => view.buffer === memory.buffer

  /** Makes [top, top + bytes) usable: grows the memory when it is too small and nothing lives in the arena. */
  const room = (bytes: number): void => {
    const end = top + bytes
    if (end <= memory.buffer.byteLength) return
    if (end > MAX_BYTES) {
      throw new WasmMemoryFull(end, `this needs ${mib(end)} of WebAssembly memory, more than the 4 GiB it can address: use a smaller batch or model`)
    }
    if (viewsLive()) {
      throw new WasmMemoryFull(end,
        `the WebAssembly memory is full: ${mib(bytes)} more were requested with ${mib(top - base)} in use, ${mib(end)} in all; ` +
        `free what you no longer need (allocate inside kernels.scope), or create the kernels with memoryBytes of at least ${end}`)
    }
    memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE_BYTES))
  }

  /** Deep copy of `value` with every array in the memory replaced by an ordinary copy; the rest shared. */
  const copyOut = (value: unknown): unknown => {
    if (ArrayBuffer.isView(value)) return owns(value) ? (value as unknown as Float32Array).slice() : value
    if (Array.isArray(value)) {
      const items = value.map(copyOut)
      return items.every((item, i) => item === value[i]) ? value : items
    }
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const entries = Object.entries(value).map(([k, v]) => [k, copyOut(v)] as const)
      return entries.every(([k, v]) => v === (value as Record<string, unknown>)[k]) ? value : Object.fromEntries(entries)
    }
    return value
  }

  const take = (bytes: number): number => {
    const size = alignUp(bytes)
    room(size)
    const at = top
    top += size
    return at
  }

  const reset = (mark: number): void => {
    if (!Number.isInteger(mark) || mark < base || mark > top) {
      throw new RangeError(`arena mark ${mark} is not within the live arena [${base}, ${top}]`)
    }
    top = mark
    while (pinned.length > 0 && pinned[pinned.length - 1]! > mark) pinned.pop()
  }

  return {
    owns,
    buffer: () => memory.buffer,
    mark: () => top,
    reset,
    get usedBytes() {
      return top - base
    },
    get capacityBytes() {
      return memory.buffer.byteLength - base
    },

    reserve(bytes) {
      const at = take(bytes)
      pinned.push(top)
      return at
    },

    reserveMovable: (bytes) => take(bytes),

    above(bytes) {
      room(bytes)
      return top
    },

    scope<A>(f: () => A): A {
      const mark = top
      const entered = viewsLive()
      for (;;) {
        try {
          return copyOut(f()) as A
        } catch (e) {
          // Entered with no view live: nothing outside f can be detached, so grow and run f again.
          if (!(e instanceof WasmMemoryFull) || entered || e.neededBytes > MAX_BYTES) throw e
          reset(mark)
          const target = Math.min(MAX_BYTES, Math.max(e.neededBytes, 2 * memory.buffer.byteLength))
          memory.grow(Math.ceil((target - memory.buffer.byteLength) / PAGE_BYTES))
        } finally {
          reset(mark)
        }
      }
    },
  }
}
