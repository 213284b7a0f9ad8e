/**
 * Checkpoints: round trip of any network, files of format version 1, typed
 * errors on every kind of damage, and a fuzz test of the decoder.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  adamW, batchNorm1d, buildVocabulary, CHECKPOINT_VERSION, decodeCheckpoint, decodeSafetensors, describeConfig, describeLayer, embedding,
  encodeCheckpoint, encodeSafetensors, evaluate, examples, flatMlp, flattenConsecutive, indices, linear, modelForward, parameters, parseCorpus,
  receptiveField, referenceKernels as k, seeded, sequential, trainableParameters, vocabularyFromSymbols, wavenet, zeros,
  type Checkpoint, type Model, type Vocabulary,
} from '../src/index.js'
import { snapshot } from './support/layers.js'
import { networkCase } from './support/stacks.js'

const vocab = buildVocabulary(['emma', 'olivia', 'ava'])
const V = vocab.symbols.length

const checkpointOf = (model: Model, withOptimizer: boolean, symbols: Vocabulary = vocab): Checkpoint => {
  const config = { kind: 'adamw' as const, lr: 3e-3, totalSteps: 100, decayAt: 0.75, decay: 0.1, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0.01, shape: 'cosine' as const }
  const optimizer = adamW(config, config)
  const base = { model, vocab: symbols, step: 12, rng: seeded(5), mode: 'sequence' as const, history: { train: [[10, 2.5]] as [number, number][], val: [[12, 2.7]] as [number, number][] } }
  return withOptimizer ? { ...base, optimizer: { config, state: { ...optimizer.init(trainableParameters(model)), step: 12 } } } : base
}

const small = (seed: number): Model => wavenet({ vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 4, seed })

const unwrap = <A>(e: E.Either<{ message: string }, A>): A => E.getOrElseW((l: { message: string }) => { throw new Error(l.message) })(e)

describe('checkpoint', () => {
  it('round-trips trees with residual and skip connections and dropout, their recipe included', () => {
    fc.assert(
      fc.property(fc.nat(), fc.boolean(), fc.boolean(), fc.constantFrom(0, 0.1, 0.35), fc.boolean(), (seed, residual, skip, dropout, withOptimizer) => {
        const model = wavenet({ vocab: V, levels: 3, groupSize: 2, embedding: 4, hidden: 4, residual, skip, dropout, seed })
        const original = checkpointOf(model, withOptimizer)
        const decoded = unwrap(decodeCheckpoint(encodeCheckpoint(original)))
        expect(snapshot(decoded)).toEqual(snapshot(original))
        expect(decoded.model.config).toEqual(model.config)
      }),
      { numRuns: 30 },
    )
  })

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

  it('round-trips random networks bit-exactly: every layer kind, nested Sequentials, no config', () => {
    fc.assert(
      fc.property(networkCase, fc.boolean(), ({ net, vocab: V2 }, withOptimizer) => {
        const symbols = vocabularyFromSymbols(['', ...'abcdefg'.slice(0, V2 - 1)])!
        const original = checkpointOf({ net }, withOptimizer, symbols)
        const decoded = unwrap(decodeCheckpoint(encodeCheckpoint(original)))
        expect(snapshot(decoded)).toEqual(snapshot(original))
        expect(decoded.model.config).toBeUndefined()
      }),
      { numRuns: 60 },
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
    expect(metadata['version']).toBe(String(CHECKPOINT_VERSION))
    expect(JSON.parse(metadata['network']!)).toEqual(describeLayer(small(1).net))
  })

  it("gives every batchnorm PyTorch's num_batches_tracked, a scalar holding the step, and reads files without it", () => {
    const nested = sequential([embedding(zeros([V, 3])), flattenConsecutive(2), sequential([linear(zeros([4, 6]), null), batchNorm1d(4)], ['linear', 'norm']), linear(zeros([V, 4]), null)],
      ['embedding', 'flatten', 'block', 'head'])
    for (const [model, prefixes] of [[small(1), ['fuse.0.norm', 'fuse.1.norm']], [{ net: nested }, ['block.norm']]] as const) {
      const original = checkpointOf(model, false)
      const { tensors, metadata } = unwrap(decodeSafetensors(encodeCheckpoint(original)))
      expect([...tensors.keys()].filter((name) => name.endsWith('.num_batches_tracked'))).toEqual(prefixes.map((p) => `${p}.num_batches_tracked`))
      for (const p of prefixes) expect(tensors.get(`${p}.num_batches_tracked`)).toEqual({ shape: [], data: Float32Array.of(original.step) })
      const without = [...tensors].filter(([name]) => !name.endsWith('.num_batches_tracked')).map(([name, tensor]) => ({ name, tensor }))
      expect(snapshot(unwrap(decodeCheckpoint(encodeSafetensors(without, metadata))))).toEqual(snapshot(original))
    }
  })

  it('records the config only while it describes the network', () => {
    const model = small(1)
    const other: Model = { ...model, net: sequential([...model.net.layers.slice(0, -1), linear(zeros([V, 4]), null)], model.net.names) }
    const { metadata } = unwrap(decodeSafetensors(encodeCheckpoint(checkpointOf(other, false))))
    expect(metadata['config']).toBeUndefined()
    expect(unwrap(decodeCheckpoint(encodeCheckpoint(checkpointOf(other, false)))).model.config).toBeUndefined()
  })

  it('refuses to write a network that does not give logits over the vocabulary', () => {
    // No flatten: (B, 1) → (B, 1, V), a time axis too many.
    const noFlatten = sequential([embedding(zeros([V, 3])), linear(zeros([V, 3]), null)])
    expect(() => encodeCheckpoint(checkpointOf({ net: noFlatten }, false))).toThrow(/not to logits \[B, V\]/)
    const flat = (out: number) => sequential([embedding(zeros([V, 3])), flattenConsecutive(1), linear(zeros([out, 3]), null)])
    expect(() => encodeCheckpoint(checkpointOf({ net: flat(V - 1) }, false))).toThrow(`gives ${V - 1} logits, but the vocabulary has ${V} symbols`)
    expect(unwrap(decodeCheckpoint(encodeCheckpoint(checkpointOf({ net: flat(V) }, false)))).model.net).toEqual(flat(V))
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
      expect(kindOf(rewrite((t) => { t.push({ name: 'head.num_batches_tracked', tensor: { shape: [], data: Float32Array.of(1) } }) }))).toBe('unexpected-tensor')
      expect(kindOf(rewrite((t) => {
        const i = t.findIndex((x) => x.name === 'fuse.0.norm.num_batches_tracked')
        t[i] = { name: 'fuse.0.norm.num_batches_tracked', tensor: { shape: [1], data: Float32Array.of(12) } }
      }))).toBe('wrong-shape')
      expect(kindOf(rewrite((_, m) => { m['config'] = '{"kind":"wavenet"}' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['config'] = m['config']!.replace('}', ',"dropout":1}') }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['vocab'] = '["", "a"]' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['rng'] = '[0,0,0,0]' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['step'] = '-1' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { delete m['history'] }))).toBe('bad-metadata')
    })

    it('refuses values no model can hold: NaN or infinite weights and optimizer moments, negative running variances', () => {
      const poisoned = (name: string, value: number) => decodeCheckpoint(rewrite((t) => {
        const found = t.find((x) => x.name === name)!
        const data = Float32Array.from(found.tensor.data)
        data[1] = value
        found.tensor = { shape: found.tensor.shape, data }
      }))
      const cases: [string, number, RegExp][] = [
        ['embedding.weight', Number.NaN, /"embedding\.weight" holds a value that is not finite \(NaN\) at index 1/],
        ['head.bias', Number.POSITIVE_INFINITY, /"head\.bias" holds a value that is not finite \(Infinity\) at index 1/],
        ['fuse.1.norm.running_var', -0.5, /"fuse\.1\.norm\.running_var" holds a negative running variance \(-0\.5\) at index 1/],
      ]
      for (const [name, value, message] of cases) {
        const result = poisoned(name, value)
        expect(E.isLeft(result) && result.left.kind).toBe('bad-value')
        expect(E.isLeft(result) && result.left.message).toMatch(message)
      }
      // A negative mean or weight is an ordinary number.
      expect(E.isRight(poisoned('fuse.1.norm.running_mean', -0.5))).toBe(true)
      const withMoments = checkpointOf(small(2), true)
      const { tensors, metadata } = unwrap(decodeSafetensors(encodeCheckpoint(withMoments)))
      const list = [...tensors].map(([name, tensor]) => ({ name, tensor: name === 'optimizer.m.head.bias' ? { shape: tensor.shape, data: tensor.data.map(() => Number.NaN) } : tensor }))
      const moments = decodeCheckpoint(encodeSafetensors(list, metadata))
      expect(E.isLeft(moments) && moments.left.message).toMatch(/"optimizer\.m\.head\.bias" holds a value that is not finite/)
    })

    it("round-trips the run's record (batch, data digest, backend), and refuses a malformed one", () => {
      const recorded = { ...checkpointOf(small(2), true), training: { batch: 32, data: '0123456789abcdef', backend: 'wasm' } }
      expect(unwrap(decodeCheckpoint(encodeCheckpoint(recorded))).training).toEqual(recorded.training)
      expect(unwrap(decodeCheckpoint(encodeCheckpoint(good))).training).toBeUndefined()
      for (const record of ['{"batch":0,"data":"x","backend":"wasm"}', '{"batch":8,"data":1,"backend":"wasm"}', '{"batch":8,"data":"x"}', '[]', '{"batch":8,"data":"x","backend":"js","more":1}']) {
        expect(kindOf(rewrite((_, m) => { m['training'] = record })), record).toBe('bad-metadata')
      }
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

    it('refuses configurations too large to describe, and networks that are not language models over the vocabulary', () => {
      expect(kindOf(rewrite((_, m) => { m['config'] = JSON.stringify({ kind: 'wavenet', vocab: V, levels: 40, groupSize: 2, embedding: 3, hidden: 4 }) }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['config'] = JSON.stringify({ kind: 'mlp', vocab: V, context: 1e6, embedding: 1e3, hidden: 1e3 }) }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['network'] = '{"kind":"tanh"}' }))).toBe('bad-metadata')
      expect(kindOf(rewrite((_, m) => { m['config'] = JSON.stringify({ kind: 'wavenet', vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 5 }) }))).toBe('bad-metadata')
      // Tensors that match the description, but a network giving (B, 1, V): no flatten.
      const noFlatten = sequential([embedding(zeros([V, 3])), linear(zeros([V, 3]), null)], ['embedding', 'head'])
      const bytes = rewrite((t, m) => {
        t.splice(0, t.length, ...Object.entries(parameters({ net: noFlatten })).map(([name, tensor]) => ({ name, tensor: tensor as { shape: readonly number[]; data: Float32Array } })))
        m['network'] = JSON.stringify(describeLayer(noFlatten))
        delete m['config']
      })
      const result = decodeCheckpoint(bytes)
      expect(E.isLeft(result) && result.left.message).toMatch(/"network" is not a language model: .*not to logits \[B, V\]/)
    })

    /** The decoder's result, and the bytes of array buffers allocated while it ran (and not yet collected). */
    const decodeMeasured = (bytes: Uint8Array) => {
      const before = process.memoryUsage().arrayBuffers
      const result = decodeCheckpoint(bytes)
      return { result, allocated: process.memoryUsage().arrayBuffers - before }
    }

    it('never allocates what a file only claims: a version-1 config of hidden 8000 on a file of a few KB', () => {
      const bytes = rewrite((_, m) => {
        m['version'] = '1'
        delete m['network']
        m['config'] = JSON.stringify({ kind: 'wavenet', vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 8000 })
      })
      expect(bytes.length).toBeLessThan(4096)
      const { result, allocated } = decodeMeasured(bytes)
      expect(E.isLeft(result) && result.left.message).toBe('checkpoint tensor "fuse.0.linear.weight" has shape [4, 6], expected [8000, 6]')
      expect(allocated).toBeLessThan(2 ** 20)
    })

    it('never allocates what a file only claims: any size of any layer of the network description enlarged', () => {
      const network = describeLayer(good.model.net)
      const sized = network.layers.flatMap((layer, i) => Object.entries(layer).filter(([, v]) => Number.isInteger(v)).map(([field]) => [i, field] as const))
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 1, max: 2 ** 27 }), (pick, extra) => {
          const [i, field] = sized[pick % sized.length]!
          const claimed = { ...network, layers: network.layers.map((l, j) => (j === i ? { ...l, [field]: (l as unknown as Record<string, number>)[field]! + extra } : l)) }
          const { result, allocated } = decodeMeasured(rewrite((_, m) => { m['network'] = JSON.stringify(claimed); delete m['config'] }))
          expect(E.isLeft(result)).toBe(true)
          expect(allocated).toBeLessThan(2 ** 20)
        }),
        { numRuns: 200 },
      )
    })
  })

  describe('files of format version 1', () => {
    const fixture = (name: string): Uint8Array => readFileSync(new URL(`./fixtures/${name}`, import.meta.url))
    const words = parseCorpus(new TextDecoder().decode(fixture('words.txt'))).words

    // Recorded by the version that wrote the files (see fixtures/README.md): `wavenet eval --backend js --json`.
    it.each([
      ['wavenet-v1.safetensors', { kind: 'wavenet', vocab: 27, levels: 2, groupSize: 2, embedding: 6, hidden: 16 }, 2.7024915810852246],
      ['mlp-v1.safetensors', { kind: 'mlp', vocab: 27, context: 3, embedding: 5, hidden: 12 }, 2.7131920452197225],
    ])('%s still loads and evaluates to the loss it had', (name, config, loss) => {
      const checkpoint = unwrap(decodeCheckpoint(fixture(name)))
      expect(checkpoint.model.config).toEqual(config)
      expect(describeLayer(checkpoint.model.net)).toEqual(describeConfig(checkpoint.model.config!))
      const data = unwrap(E.mapLeft(() => ({ message: 'unknown character' }))(examples(checkpoint.vocab, words, receptiveField(checkpoint.model))))
      expect(data.count).toBe(297)
      expect(Math.abs(evaluate(k, checkpoint.model, data) - loss)).toBeLessThan(1e-6)
      // Written again, as version 2, it reads back the same.
      expect(snapshot(unwrap(decodeCheckpoint(encodeCheckpoint(checkpoint))))).toEqual(snapshot(checkpoint))
    })

    it('reads a version-2 file stripped to version 1 (no network) as the same checkpoint', () => {
      fc.assert(
        fc.property(fc.nat(), fc.boolean(), fc.boolean(), (seed, mlp, withOptimizer) => {
          const model = mlp ? flatMlp({ vocab: V, context: 3, embedding: 2, hidden: 5, seed }) : small(seed)
          const original = checkpointOf(model, withOptimizer)
          const { tensors, metadata } = unwrap(decodeSafetensors(encodeCheckpoint(original)))
          const { network: _network, ...rest } = metadata
          const v1 = encodeSafetensors([...tensors].map(([name, tensor]) => ({ name, tensor })), { ...rest, version: '1' })
          expect(snapshot(unwrap(decodeCheckpoint(v1)))).toEqual(snapshot(original))
        }),
        { numRuns: 20 },
      )
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
