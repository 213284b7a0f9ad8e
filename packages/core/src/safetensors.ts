/**
 * The safetensors container (https://huggingface.co/docs/safetensors), the
 * checkpoint format PyTorch and the rest of the ecosystem read:
 *
 *   [ N: u64, little-endian ][ N bytes: UTF-8 JSON header ][ data section ]
 *
 * The header maps each tensor name to `{ "dtype", "shape", "data_offsets":
 * [begin, end] }` (byte offsets into the data section) and may hold a
 * `"__metadata__"` object of string → string. Elements are little-endian,
 * row-major.
 *
 * Pure and browser-safe (bytes in, bytes out): reading and writing files is
 * the shell's job, so a web page can load a checkpoint the CLI trained.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { isJsonObject } from './json.js'
import { type FloatArray, size, type Tensor } from './tensor.js'

// core compiles against lib ES2022 alone (no DOM, no Node typings), yet every
// runtime it targets (browsers, Node, Deno, Bun) has these WHATWG globals.
// Declared here, module-scoped, so they shadow rather than clash with a
// program's own DOM typings.
declare const TextEncoder: new () => { encode(input: string): Uint8Array }
declare const TextDecoder: new (
  label: string,
  options: { fatal: boolean; ignoreBOM: boolean },
) => { decode(input: Uint8Array): string }

/** Why bytes are not a safetensors file this codec reads; `message` is one human-readable line. */
export type SafetensorsError =
  /** Fewer than the 8 bytes of the header length. */
  | { readonly kind: 'too-short'; readonly message: string }
  /** The declared header length runs past the end of the bytes, or past the 100 MB cap. */
  | { readonly kind: 'header-too-large'; readonly message: string }
  /** The header is not UTF-8 JSON of the expected form. */
  | { readonly kind: 'bad-header'; readonly message: string }
  /** A well-formed entry whose dtype is not F32 (the only element type this library holds). */
  | { readonly kind: 'unsupported-dtype'; readonly message: string; readonly tensor: string; readonly dtype: string }
  /** `data_offsets` run backwards or past the end of the data section. */
  | { readonly kind: 'range-out-of-file'; readonly message: string; readonly tensor: string }
  /** The byte range does not hold exactly product(shape) float32 elements. */
  | { readonly kind: 'size-mismatch'; readonly message: string; readonly tensor: string }
  /** Two tensors claim the same bytes. */
  | { readonly kind: 'overlap'; readonly message: string; readonly tensor: string; readonly other: string }
  /** Bytes of the data section that no tensor claims (the format forbids holes and trailing bytes). */
  | { readonly kind: 'gap'; readonly message: string }

/** What a safetensors file holds, as this library uses it. */
export interface SafetensorsContents {
  /** Tensors by name, iterating in data-offset order (the order they were encoded in). */
  readonly tensors: ReadonlyMap<string, Tensor<Float32Array>>
  /** The header's `__metadata__`, or `{}` when it has none. */
  readonly metadata: Readonly<Record<string, string>>
}

const METADATA_KEY = '__metadata__'
/** The reference implementation's cap; it keeps a hostile length from costing a 2^64-byte parse. */
const MAX_HEADER_BYTES = 100_000_000
const LENGTH_BYTES = 8
const FLOAT32_BYTES = 4
const SPACE = 0x20

/**
 * Encodes tensors and string metadata as a safetensors file, every tensor as
 * F32 (float64 data is rounded to float32).
 *
 * Guarantees: the output is a function of the arguments alone (the header
 * lists `__metadata__` first, if non-empty, then the tensors in the given
 * order, in compact JSON); the data section holds the tensors contiguously in
 * the given order, little-endian whatever the host, float32 bit patterns
 * (NaN payloads, −0) copied exactly; the header is padded with spaces so the
 * data section starts 8-byte aligned, as the reference implementation writes
 * it; `decodeSafetensors` gives back the same names, shapes, float32 bits and
 * metadata.
 *
 * Throws RangeError on input no file can represent: a duplicate name, a
 * tensor named `__metadata__`, or a tensor whose data does not fill its shape.
 */
export const encodeSafetensors = (
  tensors: ReadonlyArray<{ readonly name: string; readonly tensor: Tensor }>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array => {
  const members: string[] = []
  const metadataEntries = Object.entries(metadata)
  if (metadataEntries.length > 0) {
    members.push(jsonMember(METADATA_KEY, `{${metadataEntries.map(([k, v]) => jsonMember(k, JSON.stringify(v))).join(',')}}`))
  }
  const names = new Set<string>()
  let dataLength = 0
  const layout = tensors.map(({ name, tensor }) => {
    if (name === METADATA_KEY) throw new RangeError(`a tensor may not be named ${METADATA_KEY}`)
    if (names.has(name)) throw new RangeError(`duplicate tensor name ${quote(name)}`)
    names.add(name)
    const { shape, data } = tensor
    if (!shape.every(isIndex) || size(shape) !== data.length) {
      throw new RangeError(`tensor ${quote(name)}: shape [${shape.join(', ')}] does not fit ${data.length} elements`)
    }
    const begin = dataLength
    dataLength += data.length * FLOAT32_BYTES
    members.push(jsonMember(name, `{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${dataLength}]}`))
    return { begin, data }
  })
  // Written by hand rather than with JSON.stringify of an object, whose key
  // order puts integer-like names first: the header keeps the given order.
  const header = new TextEncoder().encode(`{${members.join(',')}}`)
  const headerLength = Math.ceil(header.length / 8) * 8
  const dataStart = LENGTH_BYTES + headerLength
  const bytes = new Uint8Array(dataStart + dataLength)
  const view = new DataView(bytes.buffer)
  view.setBigUint64(0, BigInt(headerLength), true)
  bytes.set(header, LENGTH_BYTES)
  bytes.fill(SPACE, LENGTH_BYTES + header.length, dataStart)
  for (const { begin, data } of layout) writeFloat32LE(view, dataStart + begin, data)
  return bytes
}

/**
 * Decodes a safetensors file whose tensors are all F32.
 *
 * Guarantees, for any bytes whatever: never throws; allocates only after
 * checking sizes against `bytes.length` (so at most about the input's size);
 * returns Right only when every tensor's range lies within the data section
 * and holds exactly product(shape) elements, and the ranges tile the data
 * section with no overlap, hole or trailing byte (as the reference
 * implementation demands). Each tensor's data is a fresh Float32Array (never
 * a view of `bytes`, which the caller may go on to mutate), the float32 bits
 * copied exactly. Tensors iterate in data-offset order; zero-size tensors
 * sharing an offset keep the header's order. Any dtype but F32, even one the
 * format defines, is an `unsupported-dtype` error naming the tensor.
 *
 * Lenient only where no byte is misread: JSON numbers such as `1e2` or `4.0`
 * count as the integers they equal, a null `__metadata__` means none, unknown
 * keys in an entry are ignored, and a repeated key keeps its last value.
 */
export const decodeSafetensors = (bytes: Uint8Array): Either<SafetensorsError, SafetensorsContents> => {
  if (bytes.length < LENGTH_BYTES) {
    return E.left({ kind: 'too-short', message: `${bytes.length} bytes cannot hold the 8-byte header length` })
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // Compared as a BigInt: a u64 above 2^53 would round as a number.
  const declared = view.getBigUint64(0, true)
  const available = bytes.length - LENGTH_BYTES
  if (declared > BigInt(available)) {
    return E.left({ kind: 'header-too-large', message: `header length ${declared} runs past the ${available} bytes that follow it` })
  }
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    return E.left({ kind: 'header-too-large', message: `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte cap` })
  }
  const dataStart = LENGTH_BYTES + Number(declared)
  const dataLength = bytes.length - dataStart
  return pipe(
    parseHeaderJson(bytes.subarray(LENGTH_BYTES, dataStart)),
    E.chain((header) => readHeader(header, dataLength)),
    E.chainFirst(({ entries }) => checkTiling(entries, dataLength)),
    E.map(({ entries, metadata }) => ({
      tensors: new Map(entries.map((e) => [e.name, {
        shape: e.shape,
        data: readFloat32LE(view, dataStart + e.begin, (e.end - e.begin) / FLOAT32_BYTES),
      }] as const)),
      metadata,
    })),
  )
}

/** One checked F32 header entry: `data_offsets` lie within the data section and fit `shape`. */
interface Entry {
  readonly name: string
  readonly shape: readonly number[]
  readonly begin: number
  readonly end: number
}

type Json = Readonly<Record<string, unknown>>

const badHeader = (message: string): Either<SafetensorsError, never> => E.left({ kind: 'bad-header', message })

/** The header bytes as a JSON object: fatal UTF-8 decoding, as the reference rejects invalid UTF-8. */
const parseHeaderJson = (header: Uint8Array): Either<SafetensorsError, Json> => {
  let text: string
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse rejects it as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header)
  } catch {
    return badHeader('header is not valid UTF-8')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return badHeader('header is not JSON')
  }
  return isJsonObject(value) ? E.right(value) : badHeader('header is not a JSON object')
}

/** The checked entries, in data-offset order, and the metadata; the first fault in header order wins. */
const readHeader = (
  header: Json, dataLength: number,
): Either<SafetensorsError, { entries: readonly Entry[]; metadata: Readonly<Record<string, string>> }> => {
  const entries: Entry[] = []
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) continue
    const entry = readEntry(name, value, dataLength)
    if (E.isLeft(entry)) return entry
    entries.push(entry.right)
  }
  // Array.prototype.sort is stable: ties keep header order.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end)
  return pipe(readMetadata(header[METADATA_KEY]), E.map((metadata) => ({ entries, metadata })))
}

const readEntry = (name: string, value: unknown, dataLength: number): Either<SafetensorsError, Entry> => {
  const what = `tensor ${quote(name)}`
  if (!isJsonObject(value)) return badHeader(`${what}: entry is not an object`)
  const { dtype, shape, data_offsets: offsets } = value
  if (typeof dtype !== 'string') return badHeader(`${what}: dtype is not a string`)
  if (!isIndexArray(shape)) return badHeader(`${what}: shape is not an array of non-negative integers`)
  if (!isIndexArray(offsets) || offsets.length !== 2) {
    return badHeader(`${what}: data_offsets is not a pair of non-negative integers`)
  }
  if (dtype !== 'F32') {
    return E.left({ kind: 'unsupported-dtype', tensor: name, dtype, message: `${what} has dtype ${quote(dtype)}; only F32 is supported` })
  }
  const [begin, end] = offsets as [number, number]
  if (end < begin || end > dataLength) {
    return E.left({ kind: 'range-out-of-file', tensor: name, message: `${what}: data_offsets [${begin}, ${end}] do not lie within the ${dataLength}-byte data section` })
  }
  if (!fillsExactly(shape, end - begin)) {
    return E.left({ kind: 'size-mismatch', tensor: name, message: `${what}: shape [${shape.join(', ')}] of F32 does not fill ${end - begin} bytes` })
  }
  // Math.abs only turns a JSON `-0` into 0, which size() and every consumer expect.
  return E.right({ name, shape: shape.map(Math.abs), begin, end })
}

/**
 * product(shape) · 4 === byteLength. Stops multiplying once past byteLength,
 * so a hostile shape never reaches products beyond exact doubles (2^53).
 */
const fillsExactly = (shape: readonly number[], byteLength: number): boolean => {
  if (shape.includes(0)) return byteLength === 0
  let bytes = FLOAT32_BYTES
  for (const d of shape) {
    bytes *= d
    if (bytes > byteLength) return false
  }
  return bytes === byteLength
}

const readMetadata = (value: unknown): Either<SafetensorsError, Readonly<Record<string, string>>> => {
  if (value === undefined || value === null) return E.right({})
  if (!isJsonObject(value)) return badHeader(`${METADATA_KEY} is not an object`)
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') return badHeader(`${METADATA_KEY} ${quote(key)} is not a string`)
  }
  return E.right(value as Record<string, string>)
}

/** The ranges (sorted by begin, then end) must tile [0, dataLength): no overlap, hole or trailing byte. */
const checkTiling = (entries: readonly Entry[], dataLength: number): Either<SafetensorsError, void> => {
  let covered = 0
  let previous = ''
  for (const { name, begin, end } of entries) {
    if (begin < covered) {
      return E.left({ kind: 'overlap', tensor: name, other: previous, message: `tensors ${quote(previous)} and ${quote(name)} share bytes of the data section` })
    }
    if (begin > covered) return E.left({ kind: 'gap', message: `bytes [${covered}, ${begin}) of the data section belong to no tensor` })
    covered = end
    previous = name
  }
  return covered < dataLength
    ? E.left({ kind: 'gap', message: `bytes [${covered}, ${dataLength}) of the data section belong to no tensor` })
    : E.right(undefined)
}

/**
 * Writes data as little-endian float32 at byte `at`. Goes through the uint32
 * bits, since a float32 read out as a JS number may not keep a NaN's payload.
 */
const writeFloat32LE = (view: DataView, at: number, data: FloatArray): void => {
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data)
  const bits = new Uint32Array(f32.buffer, f32.byteOffset, f32.length)
  bits.forEach((b, i) => view.setUint32(at + i * FLOAT32_BYTES, b, true))
}

/** A fresh Float32Array of `count` little-endian float32s from byte `at`, bits copied exactly. */
const readFloat32LE = (view: DataView, at: number, count: number): Float32Array => {
  const out = new Float32Array(count)
  const bits = new Uint32Array(out.buffer)
  for (let i = 0; i < count; i++) bits[i] = view.getUint32(at + i * FLOAT32_BYTES, true)
  return out
}


const isIndex = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) >= 0

const isIndexArray = (value: unknown): value is number[] => Array.isArray(value) && value.every(isIndex)

const jsonMember = (key: string, json: string): string => `${JSON.stringify(key)}:${json}`

/** A name for a one-line message: JSON-quoted (so control characters stay escaped) and cut short. */
const quote = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)
