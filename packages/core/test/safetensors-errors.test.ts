/**
 * The safetensors codec's refusals, each with its kind and the one-line
 * message it gives, on files built byte by byte here; and the encoder's
 * refusals.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { decodeSafetensors, encodeSafetensors, type SafetensorsError, tensor } from '../src/index.js'

/** A file: the u64 header length, the header bytes, then `data` bytes of data section. */
const file = (header: string | Uint8Array, data = 0, declared?: bigint): Uint8Array => {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header
  const bytes = new Uint8Array(8 + h.length + data)
  new DataView(bytes.buffer).setBigUint64(0, declared ?? BigInt(h.length), true)
  bytes.set(h, 8)
  return bytes
}
const error = (bytes: Uint8Array): SafetensorsError => {
  const result = decodeSafetensors(bytes)
  if (E.isRight(result)) throw new Error('expected the bytes to be refused')
  return result.left
}
const entry = (shape: number[], begin: number, end: number, dtype = 'F32') => ({ dtype, shape, data_offsets: [begin, end] })

describe('safetensors refusals', () => {
  it('bytes too short for a header, or a header longer than the bytes or the cap', () => {
    expect(error(new Uint8Array(7))).toEqual({ kind: 'too-short', message: '7 bytes cannot hold the 8-byte header length' })
    expect(error(new Uint8Array(0))).toEqual({ kind: 'too-short', message: '0 bytes cannot hold the 8-byte header length' })
    expect(error(file('{}', 0, 3n))).toEqual({ kind: 'header-too-large', message: 'header length 3 runs past the 2 bytes that follow it' })
    expect(error(file('{}', 0, 2n ** 64n - 1n))).toEqual({ kind: 'header-too-large', message: `header length ${2n ** 64n - 1n} runs past the 2 bytes that follow it` })
    // An empty header in 8 bytes is not JSON; exactly the bytes that follow is not too large.
    expect(error(file('', 0))).toEqual({ kind: 'bad-header', message: 'header is not JSON' })
    expect(decodeSafetensors(file('{}', 0))).toEqual(E.right({ tensors: new Map(), metadata: {} }))
    const big = new Uint8Array(8 + 100_000_001)
    new DataView(big.buffer).setBigUint64(0, 100_000_001n, true)
    expect(error(big)).toEqual({ kind: 'header-too-large', message: 'header length 100000001 exceeds the 100000000-byte cap' })
  })

  it('a header that is not UTF-8 JSON of an object', () => {
    expect(error(file(Uint8Array.of(0x7b, 0xff, 0x7d)))).toEqual({ kind: 'bad-header', message: 'header is not valid UTF-8' })
    expect(error(file('{"a":'))).toEqual({ kind: 'bad-header', message: 'header is not JSON' })
    expect(error(file('\u{feff}{}'))).toEqual({ kind: 'bad-header', message: 'header is not JSON' })
    for (const header of ['[]', 'null', '3', '"x"']) expect(error(file(header)), header).toEqual({ kind: 'bad-header', message: 'header is not a JSON object' })
  })

  it('entries: an object with a string dtype, a shape and a pair of offsets, all whole and non-negative', () => {
    const header = (value: unknown) => file(JSON.stringify({ w: value }), 8)
    expect(error(header([1]))).toEqual({ kind: 'bad-header', message: 'tensor "w": entry is not an object' })
    expect(error(header(null))).toEqual({ kind: 'bad-header', message: 'tensor "w": entry is not an object' })
    expect(error(header({ ...entry([2], 0, 8), dtype: 32 }))).toEqual({ kind: 'bad-header', message: 'tensor "w": dtype is not a string' })
    for (const shape of [[-1], [1.5], ['2'], 2, null]) {
      expect(error(header({ ...entry([2], 0, 8), shape })), JSON.stringify(shape)).toEqual({ kind: 'bad-header', message: 'tensor "w": shape is not an array of non-negative integers' })
    }
    for (const offsets of [[0], [0, 8, 8], [0, -8], [0, 8.5], '0,8', [2 ** 53, 2 ** 53 + 8]]) {
      expect(error(header({ ...entry([2], 0, 8), data_offsets: offsets })), JSON.stringify(offsets))
        .toEqual({ kind: 'bad-header', message: 'tensor "w": data_offsets is not a pair of non-negative integers' })
    }
    expect(error(header(entry([2], 0, 8, 'F16')))).toEqual({ kind: 'unsupported-dtype', tensor: 'w', dtype: 'F16', message: 'tensor "w" has dtype "F16"; only F32 is supported' })
  })

  it('offsets outside the data section or that the shape does not fill', () => {
    const one = (e: unknown, data = 8) => file(JSON.stringify({ w: e }), data)
    expect(error(one(entry([2], 8, 0)))).toEqual({ kind: 'range-out-of-file', tensor: 'w', message: 'tensor "w": data_offsets [8, 0] do not lie within the 8-byte data section' })
    expect(error(one(entry([3], 0, 12)))).toEqual({ kind: 'range-out-of-file', tensor: 'w', message: 'tensor "w": data_offsets [0, 12] do not lie within the 8-byte data section' })
    expect(error(one(entry([3], 0, 8)))).toEqual({ kind: 'size-mismatch', tensor: 'w', message: 'tensor "w": shape [3] of F32 does not fill 8 bytes' })
    expect(error(one(entry([1], 0, 8)))).toEqual({ kind: 'size-mismatch', tensor: 'w', message: 'tensor "w": shape [1] of F32 does not fill 8 bytes' })
    expect(error(one(entry([2, 0], 0, 8)))).toEqual({ kind: 'size-mismatch', tensor: 'w', message: 'tensor "w": shape [2, 0] of F32 does not fill 8 bytes' })
    expect(error(one(entry([2 ** 40, 2 ** 40, 2 ** 40], 0, 8)))).toEqual({ kind: 'size-mismatch', tensor: 'w', message: `tensor "w": shape [${2 ** 40}, ${2 ** 40}, ${2 ** 40}] of F32 does not fill 8 bytes` })
    // Shapes that fill the range exactly: a scalar, a matrix, an empty tensor.
    const ok = decodeSafetensors(file(JSON.stringify({ s: entry([], 0, 4), m: entry([1, 2], 4, 12), e: entry([0, 5], 12, 12) }), 12))
    expect(E.isRight(ok) && [...ok.right.tensors].map(([name, t]) => [name, t.shape, t.data.length])).toEqual([['s', [], 1], ['m', [1, 2], 2], ['e', [0, 5], 0]])
  })

  it('ranges that overlap or leave bytes to no tensor', () => {
    const two = (a: [number, number], b: [number, number], data: number) =>
      file(JSON.stringify({ a: entry([(a[1] - a[0]) / 4], ...a), b: entry([(b[1] - b[0]) / 4], ...b) }), data)
    expect(error(two([0, 8], [4, 12], 12))).toEqual({ kind: 'overlap', tensor: 'b', other: 'a', message: 'tensors "a" and "b" share bytes of the data section' })
    expect(error(two([4, 12], [0, 8], 12))).toEqual({ kind: 'overlap', tensor: 'a', other: 'b', message: 'tensors "b" and "a" share bytes of the data section' })
    expect(error(two([0, 4], [8, 12], 12))).toEqual({ kind: 'gap', message: 'bytes [4, 8) of the data section belong to no tensor' })
    expect(error(two([4, 8], [8, 12], 12))).toEqual({ kind: 'gap', message: 'bytes [0, 4) of the data section belong to no tensor' })
    expect(error(two([0, 4], [4, 8], 12))).toEqual({ kind: 'gap', message: 'bytes [8, 12) of the data section belong to no tensor' })
    expect(error(file('{}', 4))).toEqual({ kind: 'gap', message: 'bytes [0, 4) of the data section belong to no tensor' })
    expect(E.isRight(decodeSafetensors(two([4, 8], [0, 4], 8)))).toBe(true)
  })

  it('metadata: an object of strings, or null or absent for none', () => {
    expect(error(file('{"__metadata__":[]}'))).toEqual({ kind: 'bad-header', message: '__metadata__ is not an object' })
    expect(error(file('{"__metadata__":"x"}'))).toEqual({ kind: 'bad-header', message: '__metadata__ is not an object' })
    expect(error(file('{"__metadata__":{"a":"1","b":2}}'))).toEqual({ kind: 'bad-header', message: '__metadata__ "b" is not a string' })
    expect(decodeSafetensors(file('{"__metadata__":null}'))).toEqual(E.right({ tensors: new Map(), metadata: {} }))
    expect(decodeSafetensors(file('{"__metadata__":{"a":"1"}}'))).toEqual(E.right({ tensors: new Map(), metadata: { a: '1' } }))
  })

  it('names in messages are JSON-quoted and cut at 80 characters', () => {
    const long = 'n'.repeat(81)
    expect(error(file(JSON.stringify({ [long]: 1 }))).message).toBe(`tensor "${'n'.repeat(80)}…": entry is not an object`)
    const exact = 'n'.repeat(80)
    expect(error(file(JSON.stringify({ [exact]: 1 }))).message).toBe(`tensor "${exact}": entry is not an object`)
    expect(error(file(JSON.stringify({ 'a\nb': 1 }))).message).toBe('tensor "a\\nb": entry is not an object')
  })
})

describe('safetensors encoder refusals', () => {
  it('refuses the metadata key as a name, repeated names, and shapes that do not fit the data', () => {
    const t = tensor([2], Float32Array.of(1, 2))
    expect(() => encodeSafetensors([{ name: '__metadata__', tensor: t }], {})).toThrow(new RangeError('a tensor may not be named __metadata__'))
    expect(() => encodeSafetensors([{ name: 'w', tensor: t }, { name: 'w', tensor: t }], {})).toThrow(new RangeError('duplicate tensor name "w"'))
    expect(() => encodeSafetensors([{ name: 'w', tensor: { shape: [3], data: Float32Array.of(1, 2) } }], {})).toThrow(new RangeError('tensor "w": shape [3] does not fit 2 elements'))
    expect(() => encodeSafetensors([{ name: 'w', tensor: { shape: [-2, -1], data: Float32Array.of(1, 2) } }], {})).toThrow(new RangeError('tensor "w": shape [-2, -1] does not fit 2 elements'))
  })

  it('pads the header with spaces to a multiple of 8 bytes and writes the data after it, little-endian', () => {
    const bytes = encodeSafetensors([{ name: 'w', tensor: tensor([2], Float32Array.of(1, -2)) }], { k: 'v' })
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true))
    expect(length % 8).toBe(0)
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + length))
    expect(header.trimEnd()).toBe('{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')
    expect(header.slice(header.trimEnd().length)).toMatch(/^ *$/)
    expect(bytes.length).toBe(8 + length + 8)
    expect(Array.from(bytes.subarray(8 + length))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0])
    // No metadata: no __metadata__ member.
    const plain = encodeSafetensors([], {})
    expect(new TextDecoder().decode(plain.subarray(8)).trimEnd()).toBe('{}')
  })
})
