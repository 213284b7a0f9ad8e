/**
 * The safetensors codec: round trips bit for bit, matches the reference
 * implementation's bytes, names each malformed file's fault, and never throws
 * or misreads on arbitrary or mutated bytes.
 */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  decodeSafetensors, encodeSafetensors, size, tensor,
  type SafetensorsContents, type SafetensorsError, type Tensor,
} from '../src/index.js'

// --- building files by hand ---------------------------------------------------

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0)
  return out
}

const u64le = (n: bigint): Uint8Array => {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, n, true)
  return out
}

const f32le = (...values: number[]): Uint8Array => {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => view.setFloat32(i * 4, v, true))
  return out
}

/** A file from its parts: the header length (by default the header's true length), the header, the data section. */
const handMade = (header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array => {
  const headerBytes = typeof header === 'string' ? utf8(header) : header
  return concat(u64le(declared ?? BigInt(headerBytes.length)), headerBytes, data)
}

const entry = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets })

const json = (header: unknown): string => JSON.stringify(header)

// --- inspecting results ---------------------------------------------------------

/** Every error kind; typed as a record so a new kind in the source fails to compile here until listed. */
const KINDS: Record<SafetensorsError['kind'], true> = {
  'too-short': true,
  'header-too-large': true,
  'bad-header': true,
  'unsupported-dtype': true,
  'range-out-of-file': true,
  'size-mismatch': true,
  'overlap': true,
  'gap': true,
}

type Result = Either<SafetensorsError, SafetensorsContents>

const kindOf = (result: Result): SafetensorsError['kind'] | 'ok' => (E.isLeft(result) ? result.left.kind : 'ok')

const decoded = (result: Result): SafetensorsContents => {
  if (E.isLeft(result)) throw new Error(`expected a decoded file, got ${result.left.kind}: ${result.left.message}`)
  return result.right
}

/** The float32 bit patterns, so NaN payloads and −0 compare exactly. */
const bits = (data: Float32Array): number[] => Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length))

const asFloat32 = (t: Tensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(t.data))

/** What any decode result must satisfy, whatever the input bytes. */
const expectWellFormed = (result: Result, input: Uint8Array): void => {
  if (E.isLeft(result)) {
    expect(Object.hasOwn(KINDS, result.left.kind)).toBe(true)
    expect(result.left.message).toMatch(/^[^\n\r]+$/)
    return
  }
  for (const t of result.right.tensors.values()) {
    expect(t.data).toBeInstanceOf(Float32Array)
    expect(t.data.buffer).not.toBe(input.buffer)
    expect(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true)
    expect(t.data.length).toBe(size(t.shape))
  }
  for (const v of Object.values(result.right.metadata)) expect(typeof v).toBe('string')
}

// --- generators -------------------------------------------------------------------

/** Strings over all of UTF-16 (lone surrogates included) and the characters JSON must escape. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: fc.constantFrom('a', '.', '0', '7', '"', '\\', '/', '\u0000', '\n', 'é', '\u2028', '\ud800', '\udfff', '𝄞'), maxLength: 8 }),
)

const float32Bits = fc.oneof(
  // quiet and signalling NaNs with payloads and either sign, ±∞, ±0, the smallest subnormal, the largest finite
  fc.constantFrom(0x7fc00000, 0xffc00000, 0x7f800001, 0xffbfffff, 0x7fc0dead, 0x7f800000, 0xff800000, 0x80000000, 0, 1, 0x7f7fffff),
  fc.integer({ min: 0, max: 0xffffffff }),
)

const tensorOf = (maxDim: number, maxRank: number): fc.Arbitrary<Tensor> =>
  fc.array(fc.integer({ min: 0, max: maxDim }), { maxLength: maxRank }).chain((shape) => {
    const n = size(shape)
    return fc.oneof(
      fc.array(float32Bits, { minLength: n, maxLength: n })
        .map((b) => tensor(shape, new Float32Array(Uint32Array.from(b).buffer))),
      fc.array(fc.double(), { minLength: n, maxLength: n }).map((v) => tensor(shape, Float64Array.from(v))),
    )
  })

const namedTensors = (maxDim: number, maxRank: number, maxTensors: number) =>
  fc.uniqueArray(
    fc.record({ name: text.filter((n) => n !== '__metadata__'), tensor: tensorOf(maxDim, maxRank) }),
    { selector: (t) => t.name, maxLength: maxTensors },
  )

const metadataOf = fc.dictionary(text, text, { maxKeys: 4 })

/** JSON.parse lists such keys first whatever their place in the text. */
const isArrayIndex = (name: string): boolean => /^(0|[1-9]\d*)$/.test(name) && Number(name) < 2 ** 32 - 1

// --- tests ------------------------------------------------------------------------

describe('encodeSafetensors / decodeSafetensors round trip', () => {
  it('gives back names, shapes, float32 bits, order and metadata', () => {
    fc.assert(
      fc.property(namedTensors(4, 4, 6), metadataOf, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata)
        const out = decoded(decodeSafetensors(bytes))
        expect([...out.tensors.keys()].sort()).toEqual(tensors.map((t) => t.name).sort())
        for (const { name, tensor: t } of tensors) {
          const got = out.tensors.get(name)
          expect(got?.shape).toEqual(t.shape)
          expect(got?.data).toBeInstanceOf(Float32Array)
          expect(bits(got?.data ?? new Float32Array())).toEqual(bits(asFloat32(t)))
        }
        // Data-offset order is the encoding order; only zero-size tensors (which share
        // an offset) named like array indices can come back in another order.
        const fixedOrder = tensors.filter((t) => t.tensor.data.length > 0 || !isArrayIndex(t.name)).map((t) => t.name)
        expect([...out.tensors.keys()].filter((n) => fixedOrder.includes(n))).toEqual(fixedOrder)
        expect(Object.entries(out.metadata)).toEqual(Object.entries(metadata))
      }),
      { numRuns: 500 },
    )
  })

  it('decodes into fresh arrays that later changes to the input do not reach', () => {
    const bytes = encodeSafetensors([{ name: 'w', tensor: tensor([2], Float32Array.of(1, 2)) }], {})
    const w = decoded(decodeSafetensors(bytes)).tensors.get('w')
    bytes.fill(0xff)
    expect(Array.from(w?.data ?? [])).toEqual([1, 2])
  })

  it('decodes a view into a larger buffer at an odd offset', () => {
    const file = encodeSafetensors([{ name: 'w', tensor: tensor([3], Float32Array.of(1, -2, 0.5)) }], { k: 'v' })
    const host = new Uint8Array(file.length + 5)
    host.set(file, 3)
    const out = decoded(decodeSafetensors(host.subarray(3, 3 + file.length)))
    expect(Array.from(out.tensors.get('w')?.data ?? [])).toEqual([1, -2, 0.5])
    expect(out.metadata).toEqual({ k: 'v' })
  })

  it('is deterministic and keeps the given order, integer-like names included', () => {
    const tensors = [
      { name: 'b', tensor: tensor([1], Float32Array.of(1)) },
      { name: '10', tensor: tensor([], Float64Array.of(2)) },
      { name: 'a', tensor: tensor([0, 3], new Float32Array(0)) },
      { name: '2', tensor: tensor([2], Float32Array.of(3, 4)) },
    ]
    const bytes = encodeSafetensors(tensors, { '9': 'x', z: 'y' })
    expect(encodeSafetensors(tensors, { '9': 'x', z: 'y' })).toEqual(bytes)
    expect([...decoded(decodeSafetensors(bytes)).tensors.keys()]).toEqual(['b', '10', 'a', '2'])
  })

  it('refuses tensors no file can represent', () => {
    const one = tensor([1], Float32Array.of(1))
    expect(() => encodeSafetensors([{ name: 'a', tensor: one }, { name: 'a', tensor: one }], {})).toThrow(RangeError)
    expect(() => encodeSafetensors([{ name: '__metadata__', tensor: one }], {})).toThrow(RangeError)
    expect(() => encodeSafetensors([{ name: 'a', tensor: { shape: [2], data: Float32Array.of(1) } }], {})).toThrow(RangeError)
    expect(() => encodeSafetensors([{ name: 'a', tensor: { shape: [-1], data: new Float32Array(0) } }], {})).toThrow(RangeError)
  })
})

describe('layout, against the format spec and the reference implementation', () => {
  it('puts little-endian float32 bits at an 8-aligned data section after a JSON header', () => {
    const bytes = encodeSafetensors([{ name: 'weight', tensor: tensor([2], Float32Array.of(1.5, -2)) }], { format: 'pt' })
    const view = new DataView(bytes.buffer)
    const n = Number(view.getBigUint64(0, true))
    const dataStart = 8 + n
    expect(dataStart % 8).toBe(0)
    expect(JSON.parse(new TextDecoder().decode(bytes.subarray(8, dataStart)))).toEqual({
      __metadata__: { format: 'pt' },
      weight: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    })
    // 1.5 = 0x3fc00000, −2 = 0xc0000000, least significant byte first
    expect(Array.from(bytes.subarray(dataStart))).toEqual([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0])
  })

  // The vectors of the reference implementation's own serialization tests
  // (huggingface/safetensors, safetensors/src/tensor.rs: test_serialization,
  // test_serialization_forced_alignement, test_empty).
  it.each<{ what: string; tensors: { name: string; tensor: Tensor }[]; metadata: Record<string, string>; expected: Uint8Array }>([
    {
      what: 'a header that is already 8-aligned',
      tensors: [{ name: 'attn.0', tensor: tensor([1, 2, 3], Float32Array.of(0, 1, 2, 3, 4, 5)) }],
      metadata: {},
      expected: handMade('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', f32le(0, 1, 2, 3, 4, 5), 64n),
    },
    {
      what: 'a header padded with 7 spaces',
      tensors: [{ name: 'attn0', tensor: tensor([1, 1, 2, 3], Float32Array.of(0, 1, 2, 3, 4, 5)) }],
      metadata: {},
      expected: handMade(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}${' '.repeat(7)}`, f32le(0, 1, 2, 3, 4, 5), 72n),
    },
    { what: 'no tensors', tensors: [], metadata: {}, expected: handMade(`{}${' '.repeat(6)}`, undefined, 8n) },
    {
      what: 'metadata only',
      tensors: [],
      metadata: { framework: 'pt' },
      expected: handMade(`{"__metadata__":{"framework":"pt"}}${' '.repeat(5)}`, undefined, 40n),
    },
  ])('writes the reference bytes for $what', ({ tensors, metadata, expected }) => {
    expect(encodeSafetensors(tensors, metadata)).toEqual(expected)
    expect(kindOf(decodeSafetensors(expected))).toBe('ok')
  })
})

describe('decodeSafetensors on hand-made files', () => {
  const valid = handMade(json({ __metadata__: { format: 'pt' }, w: entry('F32', [2], [0, 8]) }), f32le(1.5, -2))

  it('reads a valid file', () => {
    const out = decoded(decodeSafetensors(valid))
    expect(out.metadata).toEqual({ format: 'pt' })
    expect(out.tensors.get('w')?.shape).toEqual([2])
    expect(Array.from(out.tensors.get('w')?.data ?? [])).toEqual([1.5, -2])
  })

  it('reads an unpadded header, a 0-d scalar, zero-size and empty files', () => {
    const scalar = decoded(decodeSafetensors(handMade(json({ s: entry('F32', [], [0, 4]) }), f32le(7))))
    expect(scalar.tensors.get('s')).toEqual({ shape: [], data: Float32Array.of(7) })
    const empty = decoded(decodeSafetensors(handMade(json({ e: entry('F32', [3, 0], [0, 0]) }))))
    expect(empty.tensors.get('e')).toEqual({ shape: [3, 0], data: new Float32Array(0) })
    expect(decoded(decodeSafetensors(handMade('{}'))).tensors.size).toBe(0)
    expect(decoded(decodeSafetensors(handMade(json({ __metadata__: null })))).metadata).toEqual({})
  })

  const f16 = json({ h: entry('F16', [2], [0, 4]) })
  it.each<{ what: string; bytes: Uint8Array; kind: SafetensorsError['kind'] }>([
    ...[0, 1, 7].map((n) => ({ what: `${n} bytes`, bytes: new Uint8Array(n), kind: 'too-short' as const })),
    { what: 'a header length one past the file', bytes: handMade('{}', undefined, 3n), kind: 'header-too-large' },
    { what: 'a header length of 2^64 − 1', bytes: handMade('{}', undefined, 2n ** 64n - 1n), kind: 'header-too-large' },
    { what: 'a non-JSON header', bytes: handMade('{"w":'), kind: 'bad-header' },
    { what: 'an empty header', bytes: handMade(''), kind: 'bad-header' },
    { what: 'a JSON array header', bytes: handMade('[]'), kind: 'bad-header' },
    { what: 'a JSON null header', bytes: handMade('null'), kind: 'bad-header' },
    { what: 'a JSON string header', bytes: handMade('"{}"'), kind: 'bad-header' },
    { what: 'a header after a byte-order mark', bytes: handMade(concat(Uint8Array.of(0xef, 0xbb, 0xbf), utf8('{}'))), kind: 'bad-header' },
    { what: 'a 0xff byte in the header', bytes: handMade(Uint8Array.of(0x7b, 0xff, 0x7d)), kind: 'bad-header' },
    { what: 'an overlong UTF-8 sequence', bytes: handMade(Uint8Array.of(0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d)), kind: 'bad-header' },
    { what: 'an encoded lone surrogate', bytes: handMade(Uint8Array.of(0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d)), kind: 'bad-header' },
    { what: 'a header cut mid-character', bytes: handMade(Uint8Array.of(0x7b, 0x22, 0xc3)), kind: 'bad-header' },
    { what: 'metadata with a number value', bytes: handMade(json({ __metadata__: { epochs: 3 } })), kind: 'bad-header' },
    { what: 'metadata that is an array', bytes: handMade(json({ __metadata__: ['pt'] })), kind: 'bad-header' },
    { what: 'an entry that is a string', bytes: handMade(json({ w: 'F32' })), kind: 'bad-header' },
    { what: 'an entry without dtype', bytes: handMade(json({ w: { shape: [], data_offsets: [0, 4] } }), f32le(1)), kind: 'bad-header' },
    { what: 'a numeric dtype', bytes: handMade(json({ w: entry(32, [1], [0, 4]) }), f32le(1)), kind: 'bad-header' },
    { what: 'a negative dimension', bytes: handMade(json({ w: entry('F32', [-1], [0, 4]) }), f32le(1)), kind: 'bad-header' },
    { what: 'a fractional dimension', bytes: handMade(json({ w: entry('F32', [1.5], [0, 4]) }), f32le(1)), kind: 'bad-header' },
    { what: 'a dimension past 2^53', bytes: handMade('{"w":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,4]}}', f32le(1)), kind: 'bad-header' },
    { what: 'an infinite offset', bytes: handMade('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,1e999]}}', f32le(1)), kind: 'bad-header' },
    { what: 'a string dimension', bytes: handMade(json({ w: entry('F32', ['1'], [0, 4]) }), f32le(1)), kind: 'bad-header' },
    { what: 'three offsets', bytes: handMade(json({ w: entry('F32', [1], [0, 4, 4]) }), f32le(1)), kind: 'bad-header' },
    { what: 'a negative offset', bytes: handMade(json({ w: entry('F32', [1], [-4, 0]) }), f32le(1)), kind: 'bad-header' },
    { what: 'dtype F16', bytes: handMade(f16, new Uint8Array(4)), kind: 'unsupported-dtype' },
    { what: 'dtype BF16', bytes: handMade(json({ h: entry('BF16', [2], [0, 4]) }), new Uint8Array(4)), kind: 'unsupported-dtype' },
    { what: 'dtype F64', bytes: handMade(json({ d: entry('F64', [1], [0, 8]) }), new Uint8Array(8)), kind: 'unsupported-dtype' },
    { what: 'dtype I64', bytes: handMade(json({ i: entry('I64', [1], [0, 8]) }), new Uint8Array(8)), kind: 'unsupported-dtype' },
    { what: 'dtype BOOL', bytes: handMade(json({ b: entry('BOOL', [1], [0, 1]) }), new Uint8Array(1)), kind: 'unsupported-dtype' },
    { what: 'an unknown dtype', bytes: handMade(json({ x: entry('f32', [1], [0, 4]) }), f32le(1)), kind: 'unsupported-dtype' },
    { what: 'a shape needing more bytes than its range', bytes: handMade(json({ w: entry('F32', [3], [0, 8]) }), f32le(1, 2)), kind: 'size-mismatch' },
    { what: 'a shape needing fewer bytes than its range', bytes: handMade(json({ w: entry('F32', [1], [0, 8]) }), f32le(1, 2)), kind: 'size-mismatch' },
    { what: 'a range of a partial element', bytes: handMade(json({ w: entry('F32', [1], [0, 3]), p: entry('F32', [0], [3, 3]) }), new Uint8Array(3)), kind: 'size-mismatch' },
    {
      what: 'a shape whose product overflows 2^64',
      bytes: handMade(json({ w: entry('F32', [2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 5], [0, 8]) }), f32le(1, 2)),
      kind: 'size-mismatch',
    },
    { what: 'a range past the data section', bytes: handMade(json({ w: entry('F32', [4], [0, 16]) }), f32le(1, 2)), kind: 'range-out-of-file' },
    { what: 'a range past 2^32', bytes: handMade(json({ w: entry('F32', [2 ** 30], [0, 2 ** 32]) }), f32le(1, 2)), kind: 'range-out-of-file' },
    { what: 'a range that runs backwards', bytes: handMade(json({ w: entry('F32', [0], [8, 4]) }), f32le(1, 2)), kind: 'range-out-of-file' },
    {
      what: 'two tensors sharing bytes',
      bytes: handMade(json({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }), f32le(1, 2, 3)),
      kind: 'overlap',
    },
    {
      what: 'the same range twice',
      bytes: handMade(json({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [0, 4]) }), f32le(1)),
      kind: 'overlap',
    },
    {
      what: 'an empty tensor inside another',
      bytes: handMade(json({ a: entry('F32', [2], [0, 8]), e: entry('F32', [0], [4, 4]) }), f32le(1, 2)),
      kind: 'overlap',
    },
    { what: 'a hole before the first tensor', bytes: handMade(json({ w: entry('F32', [1], [4, 8]) }), f32le(1, 2)), kind: 'gap' },
    {
      what: 'a hole between tensors',
      bytes: handMade(json({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }), f32le(1, 2, 3)),
      kind: 'gap',
    },
    { what: 'a trailing byte', bytes: handMade(json({ w: entry('F32', [1], [0, 4]) }), concat(f32le(1), Uint8Array.of(0))), kind: 'gap' },
    { what: 'data but no tensors', bytes: handMade('{}', f32le(1)), kind: 'gap' },
  ])('rejects $what as $kind', ({ bytes, kind }) => {
    const result = decodeSafetensors(bytes)
    expect(kindOf(result)).toBe(kind)
    expectWellFormed(result, bytes)
  })

  it('names the tensor and dtype it cannot read', () => {
    expect(decodeSafetensors(handMade(f16, new Uint8Array(4)))).toEqual(
      E.left(expect.objectContaining({ kind: 'unsupported-dtype', tensor: 'h', dtype: 'F16' })),
    )
  })

  it('rejects a header length above the 100 MB cap even when the file is that long', () => {
    const bytes = new Uint8Array(8 + 100_000_001)
    bytes.set(u64le(100_000_001n))
    expect(kindOf(decodeSafetensors(bytes))).toBe('header-too-large')
  })

  it('rejects a valid file cut at every point', () => {
    const file = encodeSafetensors(
      [
        { name: 'a', tensor: tensor([2, 2], Float32Array.of(1, 2, 3, 4)) },
        { name: 'b', tensor: tensor([], Float32Array.of(5)) },
      ],
      { note: 'cut' },
    )
    const dataStart = 8 + Number(new DataView(file.buffer).getBigUint64(0, true))
    for (let cut = 0; cut < file.length; cut++) {
      const expected = cut < 8 ? 'too-short' : cut < dataStart ? 'header-too-large' : 'range-out-of-file'
      expect(kindOf(decodeSafetensors(file.slice(0, cut))), `cut at ${cut}`).toBe(expected)
    }
  })
})

describe('decodeSafetensors fuzz: never throws, never misreads', () => {
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => expectWellFormed(decodeSafetensors(bytes), bytes)),
      { numRuns: 1000 },
    )
  })

  it('arbitrary bytes behind a header length that fits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(), (body, n) => {
        const bytes = concat(u64le(BigInt(n % (body.length + 1))), body)
        expectWellFormed(decodeSafetensors(bytes), bytes)
      }),
      { numRuns: 1000 },
    )
  })

  it('arbitrary JSON headers, and header-shaped ones with arbitrary fields', () => {
    const field = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.array(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.double()), { maxLength: 4 }))
    const headerShaped = fc.dictionary(
      fc.oneof(fc.constant('__metadata__'), text),
      fc.oneof(fc.record({ dtype: fc.oneof(fc.constant('F32'), fc.jsonValue({ maxDepth: 1 })), shape: field, data_offsets: field }), fc.jsonValue({ maxDepth: 2 })),
      { maxKeys: 4 },
    )
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 3 }), headerShaped), fc.uint8Array({ maxLength: 64 }), (header, data) => {
        const bytes = handMade(JSON.stringify(header) ?? '', data)
        expectWellFormed(decodeSafetensors(bytes), bytes)
      }),
      { numRuns: 1000 },
    )
  })

  /** A header edit: the header text of a valid file in, an edited text out (the file is rebuilt around it). */
  type HeaderEdit = (header: string) => string
  /** A byte edit of a whole file. */
  type ByteEdit = (bytes: Uint8Array) => Uint8Array

  const replaceNumber: fc.Arbitrary<HeaderEdit> = fc.tuple(
    fc.nat(),
    fc.oneof(
      fc.constantFrom('-1', '-0', '0', '1', '3', '4', '1.5', '1e2', '1e999', '9007199254740993', '4294967296', '18446744073709551616', 'null', '"4"'),
      fc.integer({ min: -5, max: 300 }).map(String),
    ),
  ).map(([which, replacement]) => (header) => {
    const numbers = [...header.matchAll(/\d+/g)]
    const target = numbers[which % Math.max(numbers.length, 1)]
    return target === undefined ? header : header.slice(0, target.index) + replacement + header.slice(target.index + target[0].length)
  })

  const deleteCharacter: fc.Arbitrary<HeaderEdit> = fc.nat().map((at) => (header) => {
    const i = at % Math.max(header.length, 1)
    return header.slice(0, i) + header.slice(i + 1)
  })

  const changeDtype: fc.Arbitrary<HeaderEdit> = fc.tuple(
    fc.nat(),
    fc.constantFrom('"F16"', '"BF16"', '"F64"', '"I64"', '"I32"', '"U8"', '"BOOL"', '"F8_E4M3"', '""', '"f32"', '32', 'null', '[]', '{}'),
  ).map(([which, dtype]) => (header) => {
    const dtypes = [...header.matchAll(/"F32"/g)]
    const target = dtypes[which % Math.max(dtypes.length, 1)]
    return target === undefined ? header : header.slice(0, target.index) + dtype + header.slice(target.index + target[0].length)
  })

  /** Moves one tensor's byte range, keeping its length: the edit that makes ranges overlap or leave holes. */
  const shiftRange: fc.Arbitrary<HeaderEdit> = fc.tuple(fc.nat(), fc.integer({ min: -16, max: 16 })).map(([which, delta]) => (header) => {
    const ranges = [...header.matchAll(/"data_offsets":\[(\d+),(\d+)\]/g)]
    const target = ranges[which % Math.max(ranges.length, 1)]
    if (target === undefined) return header
    const moved = `"data_offsets":[${Number(target[1]) + delta},${Number(target[2]) + delta}]`
    return header.slice(0, target.index) + moved + header.slice(target.index + target[0].length)
  })

  const truncate: fc.Arbitrary<ByteEdit> = fc.nat().map((cut) => (bytes) => bytes.slice(0, cut % (bytes.length + 1)))

  const flipBytes: fc.Arbitrary<ByteEdit> = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 })
    .map((flips) => (bytes) => {
      const out = bytes.slice()
      if (out.length === 0) return out
      for (const [at, mask] of flips) out[at % out.length] = out[at % out.length]! ^ mask
      return out
    })

  const setHeaderLength: fc.Arbitrary<ByteEdit> = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => () => n),
    fc.integer({ min: -16, max: 16 }).map((delta) => (declared: bigint) => declared + BigInt(delta)),
  ).map((length) => (bytes) => {
    if (bytes.length < 8) return bytes
    const out = bytes.slice()
    const n = length(new DataView(out.buffer).getBigUint64(0, true))
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n), true)
    return out
  })

  const rebuildHeader = (file: Uint8Array, edits: readonly HeaderEdit[]): Uint8Array => {
    if (edits.length === 0) return file
    const dataStart = 8 + Number(new DataView(file.buffer).getBigUint64(0, true))
    const header = edits.reduce((h, edit) => edit(h), new TextDecoder().decode(file.subarray(8, dataStart)))
    return handMade(header, file.subarray(dataStart))
  }

  const validFile = fc.tuple(namedTensors(3, 3, 4), metadataOf).map(([tensors, metadata]) => encodeSafetensors(tensors, metadata))

  /** Asserts well-formed results and tallies their kinds. */
  const decodeAndTally = (tally: Map<string, number>, bytes: Uint8Array): void => {
    const result = decodeSafetensors(bytes)
    tally.set(kindOf(result), (tally.get(kindOf(result)) ?? 0) + 1)
    expectWellFormed(result, bytes)
  }

  it('valid files with edited headers', () => {
    const tally = new Map<string, number>()
    const headerEdit = fc.oneof(replaceNumber, deleteCharacter, changeDtype, { arbitrary: shiftRange, weight: 3 })
    fc.assert(
      fc.property(validFile, fc.array(headerEdit, { minLength: 1, maxLength: 2 }), (file, edits) => {
        decodeAndTally(tally, rebuildHeader(file, edits))
      }),
      { numRuns: 1000 },
    )
    // The edits reach every check past the header length, not just the first that fails.
    expect([...tally.keys()]).toEqual(expect.arrayContaining(['ok', 'bad-header', 'unsupported-dtype', 'range-out-of-file', 'size-mismatch', 'overlap', 'gap']))
  })

  it('valid files, perhaps with an edited header, truncated, with flipped bytes or a changed header length', () => {
    const tally = new Map<string, number>()
    fc.assert(
      fc.property(
        validFile,
        fc.array(fc.oneof(replaceNumber, deleteCharacter, changeDtype, shiftRange), { maxLength: 1 }),
        fc.array(fc.oneof(truncate, flipBytes, setHeaderLength), { minLength: 1, maxLength: 2 }),
        (file, headerEdits, byteEdits) => decodeAndTally(tally, byteEdits.reduce((b, edit) => edit(b), rebuildHeader(file, headerEdits))),
      ),
      { numRuns: 1000 },
    )
    expect([...tally.keys()]).toEqual(expect.arrayContaining(['too-short', 'header-too-large', 'bad-header']))
  })
})
