/** The models' shapes, parameter counts, names and receptive fields; the lecture's initial loss. */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  buildVocabulary, describeConfig, describeLayer, dropout, hasDropout, examples, flatMlp, indices, logitsWidth, minibatch, parameterCount, parameters,
  receptiveField, referenceKernels as k, seeded, sequential, tensorShapes, trainStep, sgd, wavenet, batchLoss, parseCorpus,
  modelForward, type Model, type ModelConfig,
} from '../src/index.js'
import { networkCase } from './support/stacks.js'

const lecture = { vocab: 27, levels: 3, embedding: 24, hidden: 128, seed: 1 }

describe('wavenet', () => {
  it("has the lecture's 76,579 parameters and sees 8 characters", () => {
    const model = wavenet(lecture)
    expect(parameterCount(model)).toBe(76_579)
    expect(receptiveField(model)).toBe(8)
  })

  it('doubles its field with each level: 2, 4, 8, 16, 32', () => {
    expect([1, 2, 3, 4, 5].map((levels) => receptiveField(wavenet({ ...lecture, levels })))).toEqual([2, 4, 8, 16, 32])
  })

  it('names its tensors as the checkpoint does, with their shapes', () => {
    const shapes = Object.fromEntries(Object.entries(parameters(wavenet({ ...lecture, levels: 2 }))).map(([n, t]) => [n, t.shape]))
    expect(shapes).toEqual({
      'embedding.weight': [27, 24],
      'fuse.0.linear.weight': [128, 48],
      'fuse.0.norm.weight': [128],
      'fuse.0.norm.bias': [128],
      'fuse.0.norm.running_mean': [128],
      'fuse.0.norm.running_var': [128],
      'fuse.1.linear.weight': [128, 256],
      'fuse.1.norm.weight': [128],
      'fuse.1.norm.bias': [128],
      'fuse.1.norm.running_mean': [128],
      'fuse.1.norm.running_var': [128],
      'head.weight': [27, 128],
      'head.bias': [27],
    })
  })

  it('with dropout, has a dropout layer after each level\'s tanh, salted by its level, and the same tensors as without', () => {
    const plain = wavenet({ ...lecture, levels: 2 })
    const model = wavenet({ ...lecture, levels: 2, dropout: 0.1 })
    expect(model.net.names).toEqual([
      'embedding', 'fuse.0.flatten', 'fuse.0.linear', 'fuse.0.norm', 'fuse.0.tanh', 'fuse.0.dropout',
      'fuse.1.flatten', 'fuse.1.linear', 'fuse.1.norm', 'fuse.1.tanh', 'fuse.1.dropout', 'head',
    ])
    expect(model.net.layers.filter((l) => l.kind === 'dropout')).toEqual([dropout(0.1, 0), dropout(0.1, 1)])
    expect(parameters(model)).toEqual(parameters(plain))
    expect([hasDropout(model), hasDropout(plain), hasDropout(wavenet({ ...lecture, dropout: 0 }))]).toEqual([true, false, false])
    expect(wavenet({ ...lecture, dropout: 0 })).toEqual(wavenet(lecture))
    expect(hasDropout(wavenet({ ...lecture, residual: true, skip: true, dropout: 0.5 }))).toBe(true)
    expect(() => wavenet({ ...lecture, dropout: 1 })).toThrow(/dropout p/)
  })

  it('initialises as the lecture: N(0, 1) embeddings, N(0, 1)/sqrt(fanIn) weights, a 0.1-scaled head, zero biases', () => {
    const p = parameters(wavenet({ ...lecture, seed: 7 }))
    const std = (d: ArrayLike<number>): number => {
      const xs = Array.from(d)
      const m = xs.reduce((a, b) => a + b, 0) / xs.length
      return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)
    }
    expect(std(p['embedding.weight']!.data)).toBeCloseTo(1, 1)
    expect(std(p['fuse.1.linear.weight']!.data) * Math.sqrt(256)).toBeCloseTo(1, 1)
    expect(std(p['head.weight']!.data) * Math.sqrt(128)).toBeCloseTo(0.1, 2)
    expect(Array.from(p['head.bias']!.data).every((v) => v === 0)).toBe(true)
    expect(Array.from(p['fuse.0.norm.weight']!.data).every((v) => v === 1)).toBe(true)
  })

  it('rejects a group size below 2 and non-positive sizes', () => {
    expect(() => wavenet({ ...lecture, groupSize: 1 })).toThrow(/groupSize/)
    expect(() => wavenet({ ...lecture, hidden: 0 })).toThrow(/hidden/)
  })
})

describe('flatMlp', () => {
  it("is the lecture's flat baseline: context·embedding inputs into one hidden layer", () => {
    const model = flatMlp({ vocab: 27, context: 3, embedding: 10, hidden: 200, seed: 1 })
    // 27·10 + 30·200 + 2·200 + 200·27 + 27, the lecture's 12,097
    expect(parameterCount(model)).toBe(12_097)
    expect(receptiveField(model)).toBe(3)
  })
})

describe('models described by their layers', () => {
  const size = fc.integer({ min: 1, max: 6 })
  const config: fc.Arbitrary<ModelConfig> = fc.oneof(
    fc.record({
      kind: fc.constant('wavenet' as const), vocab: size, levels: fc.integer({ min: 1, max: 4 }), groupSize: fc.integer({ min: 2, max: 3 }), embedding: size, hidden: size,
    }, { requiredKeys: ['kind', 'vocab', 'levels', 'groupSize', 'embedding', 'hidden'] }).chain((c) =>
      fc.record({ residual: fc.constantFrom(undefined, true), skip: fc.constantFrom(undefined, true), dropout: fc.constantFrom(undefined, 0.25) }).map((o) => ({
        ...c, ...(o.residual === true ? { residual: true } : {}), ...(o.skip === true ? { skip: true } : {}),
        ...(o.dropout === undefined ? {} : { dropout: o.dropout }),
      }))),
    fc.record({ kind: fc.constant('mlp' as const), vocab: size, context: size, embedding: size, hidden: size }),
  )
  const built = (c: ModelConfig): Model => (c.kind === 'wavenet' ? wavenet({ ...c, seed: 1 }) : flatMlp({ ...c, seed: 1 }))

  it("describeConfig is the constructors' network, names and tensor shapes included, without building it", () => {
    fc.assert(
      fc.property(config, (c) => {
        const model = built(c)
        expect(describeConfig(c)).toEqual(describeLayer(model.net))
        expect(tensorShapes(describeConfig(c))).toEqual(Object.fromEntries(Object.entries(parameters(model)).map(([n, t]) => [n, t.shape])))
        expect(logitsWidth(model)).toBe(c.vocab)
        expect(model.config).toEqual(c)
      }),
      { numRuns: 60 },
    )
  })

  it('needs no config: a hand-built net is a model, its receptive field and logits from its layers', () => {
    fc.assert(
      fc.property(networkCase, ({ net, vocab, context }) => {
        const model: Model = { net }
        expect(receptiveField(model)).toBe(context)
        expect(logitsWidth(model)).toBe(vocab)
        const contexts = indices([3, context], Int32Array.from({ length: 3 * context }, (_, i) => i % vocab))
        expect(modelForward(k, model, contexts, 'eval').y.shape).toEqual([3, vocab])
        expect(() => modelForward(k, model, indices([3, context + 1], new Int32Array(3 * (context + 1))), 'eval')).toThrow(RangeError)
      }),
      { numRuns: 60 },
    )
  })

  it('refuses, naming the shape, a net that does not give logits (B, V)', () => {
    const { net } = wavenet({ ...lecture, levels: 2 })
    expect(() => logitsWidth({ net: sequential([net.layers[0]!]) })).toThrow('the network maps contexts [B, 1] to [B, 1, 24], not to logits [B, V]')
    expect(() => logitsWidth({ net: sequential([net.layers[0]!, net.layers[2]!]) })).toThrow('layer "1": linear(48 → 128) got input [1, 1, 24]')
  })
})

describe("the lecture's model on the names data", () => {
  const words = parseCorpus(readFileSync(new URL('../../../../shared/data/names.txt', import.meta.url), 'utf8')).words
  const vocab = buildVocabulary(words)
  const data = E.getOrElseW(() => { throw new Error('names data did not encode') })(examples(vocab, words, 8))

  it('starts at a loss close to −ln(1/27) ≈ 3.30', () => {
    const [batch] = minibatch(seeded(42), data, 32)
    expect(vocab.symbols).toHaveLength(27)
    expect(batchLoss(k, wavenet({ ...lecture, seed: 42 }), batch)).toBeCloseTo(Math.log(27), 1)
  })

  it('learns: a few SGD steps lower the loss on the batch they see', () => {
    const [batch] = minibatch(seeded(3), data, 64)
    const optimizer = sgd({ lr: 0.1, totalSteps: 20, decayAt: 0.75, decay: 0.1 })
    let model = wavenet({ ...lecture, seed: 3 })
    let state = optimizer.init({})
    const before = batchLoss(k, model, batch)
    for (let i = 0; i < 20; i++) ({ model, state } = trainStep(k, model, optimizer, state, batch))
    expect(batchLoss(k, model, batch)).toBeLessThan(before - 0.3)
    expect(modelForward(k, model, batch.contexts, 'eval').y.shape).toEqual([64, 27])
  })
})
