/** Checkpoints: round trip, typed errors on every kind of damage, and a fuzz test of the decoder. */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  adamW, buildVocabulary, decodeCheckpoint, decodeSafetensors, encodeCheckpoint, encodeSafetensors, flatMlp, indices,
  modelForward, parameters, referenceKernels as k, seeded, trainableParameters, wavenet,
  type Checkpoint, type Model,
} from '../src/index.js'
import { snapshot } from './support/layers.js'

const vocab = buildVocabulary(['emma', 'olivia', 'ava'])
const V = vocab.symbols.length

const checkpointOf = (model: Model, withOptimizer: boolean): Checkpoint => {
  const config = { kind: 'adamw' as const, lr: 3e-3, totalSteps: 100, decayAt: 0.75, decay: 0.1, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0.01 }
  const optimizer = adamW(config, config)
  const base = { model, vocab, step: 12, rng: seeded(5), history: { train: [[10, 2.5]] as [number, number][], val: [[12, 2.7]] as [number, number][] } }
  return withOptimizer ? { ...base, optimizer: { config, state: { ...optimizer.init(trainableParameters(model)), step: 12 } } } : base
}

const small = (seed: number): Model => wavenet({ vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 4, seed })

const unwrap = <A>(e: E.Either<{ message: string }, A>): A => E.getOrElseW((l: { message: string }) => { throw new Error(l.message) })(e)

describe('checkpoint', () => {
  it('round-trips models, optimizer state and metadata bit-exactly', () => {
    fc.assert(
      fc.property(fc.nat(), fc.boolean(), fc.boolean(), (seed, mlp, withOptimizer) => {
        const model = mlp ? flatMlp({ vocab: V, context: 3, embedding: 2, hidden: 5, seed }) : small(seed)
        const original = checkpointOf(model, withOptimizer)
        const decoded = unwrap(decodeCheckpoint(encodeCheckpoint(original)))
        expect(snapshot(decoded)).toEqual(snapshot(original))
      }),
      { numRuns: 30 },
    )
  })

  it('gives bit-identical logits after a round trip', () => {
    const model = small(3)
    const loaded = unwrap(decodeCheckpoint(encodeCheckpoint(checkpointOf(model, false)))).model
    const contexts = indices([3, 4], Int32Array.from([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 1, 2]))
    expect(modelForward(k, loaded, contexts, 'eval').y.data).toEqual(modelForward(k, model, contexts, 'eval').y.data)
  })

  it("writes the documented layout: torch.nn.Linear's (out, in) weights and string metadata", () => {
    const { tensors, metadata } = unwrap(decodeSafetensors(encodeCheckpoint(checkpointOf(small(1), true))))
    expect(tensors.get('fuse.1.linear.weight')?.shape).toEqual([4, 8])
    expect(tensors.get('head.weight')?.shape).toEqual([V, 4])
    expect(tensors.has('optimizer.m.head.weight')).toBe(true)
    expect(metadata['format']).toBe('wavenet')
    expect(JSON.parse(metadata['vocab']!)).toEqual(vocab.symbols)
    expect(JSON.parse(metadata['config']!)).toEqual({ kind: 'wavenet', vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 4 })
  })

  describe('typed errors', () => {
    const good = checkpointOf(small(2), false)
    const rewrite = (edit: (tensors: { name: string; tensor: { shape: readonly number[]; data: Float32Array } }[], metadata: Record<string, string>) => void): Uint8Array => {
      const { tensors, metadata } = unwrap(decodeSafetensors(encodeCheckpoint(good)))
      const list = [...tensors].map(([name, tensor]) => ({ name, tensor }))
      const meta = { ...metadata }
      edit(list, meta)
      return encodeSafetensors(list, meta)
    }
    const kindOf = (bytes: Uint8Array): string => E.match((e: { kind: string }) => e.kind, () => 'ok')(decodeCheckpoint(bytes))

    it('names each problem', () => {
      const bytes = encodeCheckpoint(good)
      expect(kindOf(bytes.subarray(0, bytes.length - 3))).toBe('container')
      expect(kindOf(new TextEncoder().encode('not a checkpoint at all'))).toBe('container')
      expect(kindOf(rewrite((_, m) => { m['format'] = 'other' }))).toBe('not-wavenet')
      expect(kindOf(rewrite((_, m) => { m['version'] = '99' }))).toBe('unsupported-version')
      expect(kindOf(rewrite((t) => { t.splice(t.findIndex((x) => x.name === 'head.bias'), 1) }))).toBe('missing-tensor')
      expect(kindOf(rewrite((t) => {
        const i = t.findIndex((x) => x.name === 'head.bias')
        t[i] = { name: 'head.bias', tensor: { shape: [1, V], data: t[i]!.tensor.data } }
      }))).toBe('wrong-shape')
      expect(kindOf(rewrite((t) => { t.push({ name: 'extra', tensor: { shape: [1], data: Float32Array.of(1) } }) }))).toBe('unexpected-tensor')
      expect(kindOf(rewrite((_, m) => { m['config'] = '{"kind":"wavenet"}' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['vocab'] = '["", "a"]' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['rng'] = '[0,0,0,0]' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['step'] = '-1' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { delete m['history'] }))).toBe('bad-metadata')
    })

    it('reports a wrong dtype as such', () => {
      const bytes = encodeCheckpoint(good)
      const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
      const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)).replace('"F32"', '"I32"')
      const edited = new Uint8Array(bytes)
      edited.set(new TextEncoder().encode(header), 8)
      const result = decodeCheckpoint(edited)
      expect(E.isLeft(result) && result.left.message).toMatch(/dtype "I32"/)
    })

    it('refuses configurations too large to allocate, before allocating', () => {
      expect(kindOf(rewrite((_, m) => { m['config'] = JSON.stringify({ kind: 'wavenet', vocab: V, levels: 40, groupSize: 2, embedding: 3, hidden: 4 }) }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['config'] = JSON.stringify({ kind: 'mlp', vocab: V, context: 1e6, embedding: 1e3, hidden: 1e3 }) }))).toBe('bad-metadata')
    })
  })

  describe('fuzz: the decoder never throws', () => {
    const valid = encodeCheckpoint(checkpointOf(small(9), true))
    const headerLength = Number(new DataView(valid.buffer).getBigUint64(0, true))
    const header = new TextDecoder().decode(valid.subarray(8, 8 + headerLength))

    const decodesSafely = (bytes: Uint8Array): void => {
      const result = decodeCheckpoint(bytes)
      if (E.isRight(result)) {
        // A success is a usable model: every tensor consistent with its shape.
        for (const t of Object.values(parameters(result.right.model))) {
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1))
        }
      } else {
        expect(typeof result.left.message).toBe('string')
      }
    }

    it('on arbitrary bytes', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => decodesSafely(bytes)), { numRuns: 1000 })
    })

    it('on valid files truncated, with flipped bytes, or with edited header JSON', () => {
      const mutation = fc.oneof(
        fc.nat({ max: valid.length }).map((n) => (b: Uint8Array) => b.slice(0, n)),
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 })
          .map((flips) => (b: Uint8Array) => {
            const out = b.slice()
            for (const [at, x] of flips) out[at]! ^= x
            return out
          }),
        fc.tuple(fc.nat({ max: header.length - 1 }), fc.string({ maxLength: 6 }), fc.nat({ max: 6 })).map(([at, insert, remove]) => () => {
          const text = header.slice(0, at) + insert + header.slice(at + remove)
          const encoded = new TextEncoder().encode(text)
          const out = new Uint8Array(8 + encoded.length + valid.length - 8 - headerLength)
          new DataView(out.buffer).setBigUint64(0, BigInt(encoded.length), true)
          out.set(encoded, 8)
          out.set(valid.subarray(8 + headerLength), 8 + encoded.length)
          return out
        }),
      )
      fc.assert(fc.property(mutation, (mutate) => decodesSafely(mutate(valid))), { numRuns: 1000 })
    })
  })
})
