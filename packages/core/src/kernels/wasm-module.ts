/**
 * Loading the WebAssembly SIMD module: its bytes are embedded in the package
 * (`wasm-bytes.generated.ts`, base64), so loading needs no file system and no
 * fetch, in Node and in browsers alike. Instantiation is synchronous: the
 * module is small.
 */
import { wasmKernelsBase64 } from './wasm-bytes.generated.js'

// The slice of the WebAssembly JS API used here. The package compiles against
// ES2022 alone (no DOM or Node typings), and reading it off globalThis also
// tells when a host has no WebAssembly at all.
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(deltaPages: number): number
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean
  readonly Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object, imports: { env: { memory: WasmMemory } }) => { readonly exports: object }
}

const webAssemblyApi = (): WasmApi | undefined => (globalThis as { WebAssembly?: WasmApi }).WebAssembly

/** Bytes of a WebAssembly memory page. */
export const PAGE_BYTES = 64 * 1024
/** The most pages a 32-bit WebAssembly memory can have: 4 GiB. */
export const MAX_PAGES = 65536

/**
 * The exports of assembly/index.ts. Pointers are byte offsets into the
 * memory; booleans are 0 or 1; nothing is checked. Each kernel of `Kernels`
 * is exported under its own name with its arrays as pointers, plus a
 * trailing scratch pointer for those that need scratch (sized by the
 * `…ScratchBytes` exports). Beyond them: fusions of two kernels into one pass
 * that give the same bits as the two calls.
 */
export interface WasmKernelExports {
  heapBase(): number
  matmulScratchBytes(n: number, k: number): number
  normalizeScratchBytes(cols: number): number
  normalizeBackwardScratchBytes(cols: number): number
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

/** A new instance of the module over a new memory of `pages` pages, or undefined where it cannot run. */
export const instantiate = (pages: number): { memory: WasmMemory; exports: WasmKernelExports & Record<string, unknown> } | undefined => {
  const api = webAssemblyApi()
  if (api === undefined || wasmKernelsUnavailable() !== undefined) return undefined
  const memory = new api.Memory({ initial: pages, maximum: MAX_PAGES })
  const instance = new api.Instance(new api.Module(moduleBytes()), { env: { memory } })
  // The export signatures are those of assembly/index.ts.
  return { memory, exports: instance.exports as WasmKernelExports & Record<string, unknown> }
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
