/**
 * Running text in the sequence view: windows of consecutive characters
 * computed as dilated causal convolutions without padding, against
 * per-example evaluation of each target's context; their gradients against
 * float64 finite differences; the stream, the windows drawn and the split by
 * document.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BATCHNORM_DEFAULTS, buildVocabulary, createWasmKernels, evaluateText, indices, layerBuffers, layerParameters, modelForward, packWindows, receptiveField, referenceKernels as k,
  sampleText, seeded, sequenceGradients, sequenceLogits, splitDocuments, textStream, wavenet, windowAt, windowBatch, withTensors, tensor, type Model, type WindowBatch,
} from '../src/index.js'
import { expectSequenceGradients } from './support/gradcheck.js'
import { inFloat64, maxDifference, treeConfig as trees } from './support/trees.js'

const treeConfig = trees(4)

/** Windows of a model's field: `windows` of W = R − 1 + T tokens from 0 … vocab−1 (the boundary included), and their targets. */
const windowsOf = (vocab: number, field: number) =>
  fc.record({ windows: fc.integer({ min: 1, max: 3 }), count: fc.integer({ min: 1, max: 6 }) }).chain(({ windows, count }) =>
    fc.tuple(
      fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: windows * (field - 1 + count), maxLength: windows * (field - 1 + count) }),
      fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: windows * count, maxLength: windows * count }),
    ).map(([tokens, targets]): WindowBatch => ({ tokens: Int32Array.from(tokens), targets: Int32Array.from(targets), windows })))

/** Each target's context: the R tokens of its window ending at its position. */
const contextsOf = (batch: WindowBatch, field: number): Int32Array => {
  const width = batch.tokens.length / batch.windows
  const count = batch.targets.length / batch.windows
  const rows: number[] = []
  for (let b = 0; b < batch.windows; b++) {
    for (let t = 0; t < count; t++) rows.push(...batch.tokens.subarray(b * width + t, b * width + t + field))
  }
  return Int32Array.from(rows)
}

const perExample = (model: Model, contexts: Int32Array) => {
  const field = receptiveField(model)
  return modelForward(k, model, indices([contexts.length / field, field], contexts), 'eval').y.data
}

describe('windows of running text', () => {
  it('give every target the logits per-example evaluation gives its context: trees of 1–4 levels, group size 2–3, residual and skip, both backends', () => {
    const wasm = createWasmKernels()!
    fc.assert(
      fc.property(treeConfig.chain((c) => fc.tuple(fc.constant(c), windowsOf(c.vocab, c.groupSize ** c.levels))), ([c, batch]) => {
        const model = wavenet(c)
        const expected = perExample(model, contextsOf(batch, receptiveField(model)))
        const packed = packWindows(batch)
        expect(maxDifference(sequenceLogits(k, model, packed, 'eval').logits.data, expected)).toBeLessThan(1e-5)
        expect(maxDifference(wasm.scope(() => sequenceLogits(wasm, model, packed, 'eval').logits.data), expected)).toBeLessThan(1e-5)
        const wide = inFloat64(model)
        expect(maxDifference(sequenceLogits(k, wide, packed, 'eval').logits.data, perExample(wide, contextsOf(batch, receptiveField(model))))).toBeLessThan(1e-9)
      }),
      { numRuns: 60 },
    )
  })

  it('give gradients that agree with float64 central differences in training mode, residual and skip included', () => {
    fc.assert(
      fc.property(
        fc.record({
          levels: fc.integer({ min: 1, max: 3 }), groupSize: fc.integer({ min: 2, max: 3 }), vocab: fc.integer({ min: 5, max: 7 }),
          embedding: fc.integer({ min: 1, max: 3 }), hidden: fc.integer({ min: 2, max: 4 }), residual: fc.boolean(), skip: fc.boolean(), seed: fc.nat(),
        }),
        fc.nat(),
        (c, s) => {
          const model = inFloat64(wavenet(c))
          const field = receptiveField(model)
          const count = 3
          // Two windows, characters cycling so that no batchnorm channel sees a constant.
          const tokens = Int32Array.from({ length: 2 * (field - 1 + count) }, (_, i) => 1 + ((s + 2 * i + (i * i) % 5) % (c.vocab - 1)))
          const targets = Int32Array.from({ length: 2 * count }, (_, i) => (s + i) % c.vocab)
          const packed = packWindows({ tokens, targets, windows: 2 })
          expectSequenceGradients(model, packed)
        },
      ),
      { numRuns: 25 },
    )
  })

  it('take batch statistics over the nodes whose whole field lies in the window, as a convolution without padding', () => {
    // One level: the batchnorm's running mean moves towards the mean of the W − 1 fused pairs of each window.
    const model = wavenet({ vocab: 5, levels: 1, embedding: 2, hidden: 3, seed: 4 })
    const tokens = Int32Array.of(1, 2, 3, 4, 1, 3, 2, 4)
    const packed = packWindows({ tokens, targets: Int32Array.of(1, 2, 3, 4, 1, 2), windows: 2 })
    const { model: after } = sequenceGradients(k, model, packed)
    const norm = Object.keys(layerBuffers(model.net)).find((name) => name.endsWith('running_mean'))!
    // The same pre-activations per example: each pair (t−1, t) within a window.
    const pairs = Int32Array.of(1, 2, 2, 3, 3, 4, 1, 3, 3, 2, 2, 4)
    const pre = modelForward(k, { net: { ...model.net, layers: model.net.layers.slice(0, 3), names: model.net.names.slice(0, 3) } }, indices([6, 2], pairs), 'eval').y
    const momentum = BATCHNORM_DEFAULTS.momentum
    const mean = [0, 1, 2].map((j) => [0, 1, 2, 3, 4, 5].reduce((n, r) => n + pre.data[r * 3 + j]!, 0) / 6)
    const before = layerBuffers(model.net)[norm]!.data
    const expected = mean.map((m, j) => (1 - momentum) * before[j]! + momentum * m)
    expect(maxDifference(layerBuffers(after.net)[norm]!.data, expected)).toBeLessThan(1e-7)
  })

  it('refuse a model that sees fewer characters than the windows hold', () => {
    const model = wavenet({ vocab: 4, levels: 2, embedding: 2, hidden: 3, seed: 1 })
    const packed = packWindows({ tokens: new Int32Array(2 * 10), targets: new Int32Array(2 * 3), windows: 2 })
    expect(() => sequenceLogits(k, model, packed, 'eval')).toThrow(/sees 4 characters, fewer than/)
  })

  it('evaluate every character of every document once, its context starting with boundary tokens, in any chunk size', () => {
    const model = wavenet({ vocab: 6, levels: 2, embedding: 3, hidden: 4, seed: 7 })
    const field = receptiveField(model)
    const documents = [Int32Array.of(1, 2, 3, 4, 5, 1, 2), Int32Array.of(5, 4), Int32Array.of(3)]
    const contexts: number[] = []
    const targets: number[] = []
    for (const d of documents) {
      const padded = [...new Array<number>(field).fill(0), ...d]
      d.forEach((ch, i) => {
        contexts.push(...padded.slice(i, i + field))
        targets.push(ch)
      })
    }
    const logits = perExample(model, Int32Array.from(contexts))
    const classes = 6
    let total = 0
    targets.forEach((target, r) => {
      const row = Array.from(logits.subarray(r * classes, (r + 1) * classes))
      const max = Math.max(...row)
      total += Math.log(row.reduce((n, v) => n + Math.exp(v - max), 0)) + max - row[target]!
    })
    const expected = total / targets.length
    expect(evaluateText(k, model, documents)).toBeCloseTo(expected, 5)
    expect(evaluateText(k, model, documents, { chunk: 2 })).toBeCloseTo(expected, 5)
  })
})

describe('running text as data', () => {
  it('streams documents each after R boundary tokens, and windows read their targets after the R − 1 tokens before', () => {
    const stream = textStream([Int32Array.of(5, 6), Int32Array.of(7)], 3)
    expect(Array.from(stream)).toEqual([0, 0, 0, 5, 6, 0, 0, 0, 7])
    const window = windowAt(stream, 3, 3, 2)
    expect(Array.from(window.tokens)).toEqual([0, 0, 0, 5])
    expect(Array.from(window.targets)).toEqual([5, 6])
    expect(() => windowAt(stream, 3, 2, 1)).toThrow(RangeError)
    expect(() => windowAt(stream, 3, 8, 2)).toThrow(RangeError)
  })

  it('draws windows whose targets follow their tokens in the stream, the same for the same generator', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), (seed, field, window, count) => {
        const stream = Int32Array.from({ length: field + window + 20 }, (_, i) => i)
        const [batch, next] = windowBatch(seeded(seed), stream, field, window, count)
        const width = field - 1 + window
        expect(batch.tokens.length).toBe(count * width)
        for (let b = 0; b < count; b++) {
          const start = batch.tokens[b * width]!
          // Consecutive tokens, then the targets: the tokens after each of the last `window` positions.
          expect(Array.from(batch.tokens.subarray(b * width, (b + 1) * width))).toEqual(Array.from({ length: width }, (_, i) => start + i))
          expect(Array.from(batch.targets.subarray(b * window, (b + 1) * window))).toEqual(Array.from({ length: window }, (_, i) => start + field + i))
        }
        expect(windowBatch(seeded(seed), stream, field, window, count)[0]).toEqual(batch)
        expect(next).not.toEqual(seeded(seed))
      }),
    )
  })

  it('splits ten or more documents by index (8 to test, 9 to validation), fewer by position (the last 10% to validation)', () => {
    const docs = Array.from({ length: 23 }, (_, i) => `doc${i}`)
    const split = splitDocuments(docs)
    expect(split.test).toEqual(['doc8', 'doc18'])
    expect(split.val).toEqual(['doc9', 'doc19'])
    expect(split.train).toHaveLength(19)
    expect(split.train).not.toContain('doc8')
    const few = splitDocuments(['abcdefghij', 'klmnopqrstuvwxyzABCD', 'é'])
    expect(few).toEqual({ train: ['abcdefghi', 'klmnopqrstuvwxyzAB', ''], val: ['j', 'CD', 'é'], test: [] })
    // An empty document gives no empty validation text; exactly ten documents are split by index.
    expect(splitDocuments(['abcdefghij', '']).val).toEqual(['j'])
    expect(splitDocuments(docs.slice(0, 10))).toEqual({ train: docs.slice(0, 8), val: ['doc9'], test: ['doc8'] })
  })

  it('refuses a stream with no room for one window and the target after it', () => {
    const [field, window] = [4, 3]
    const width = field - 1 + window
    expect(() => windowBatch(seeded(1), new Int32Array(width), field, window, 1))
      .toThrow(new RangeError(`a stream of ${width} tokens is too short for windows of ${width} tokens and their targets`))
    expect(windowBatch(seeded(1), Int32Array.from({ length: width + 1 }, (_, i) => i), field, window, 1)[0].targets).toEqual(Int32Array.of(4, 5, 6))
  })
})

describe('sampling running text', () => {
  const vocab = buildVocabulary(['abcdefgh '])
  const text = (model: Model, seed: number, chars: number, options: Parameters<typeof sampleText>[5] = {}) => {
    const pieces: string[] = []
    const sampled = sampleText(k, model, vocab, seeded(seed), chars, options, (piece) => pieces.push(piece))
    if (sampled._tag === 'Left') throw new Error('unknown character')
    return pieces
  }

  it('streams the same passage cached as naive, the characters asked for, in pieces, the prefix entering the context', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.nat(), fc.integer({ min: 1, max: 200 }), fc.constantFrom('', 'ab', 'h g'), (levels, seed, chars, prefix) => {
        const model = wavenet({ vocab: vocab.symbols.length, levels, embedding: 3, hidden: 5, residual: seed % 2 === 0, seed })
        const cached = text(model, seed, chars, { prefix })
        expect(text(model, seed, chars, { prefix, naive: true })).toEqual(cached)
        const passage = cached.join('')
        expect([...passage].length).toBe(chars)
        expect(cached.slice(0, -1).every((piece) => piece.length === 64)).toBe(true)
        expect(cached).toHaveLength(Math.ceil(chars / 64))
        expect(passage.includes('.')).toBe(false)
      }),
      { numRuns: 30 },
    )
    // The prefix is context, not output: another prefix gives another passage from the same draws.
    const model = wavenet({ vocab: vocab.symbols.length, levels: 2, embedding: 3, hidden: 5, seed: 3 })
    // (Nearly greedy draws: an untrained model's logits differ little from context to context.)
    const greedy = (prefix: string) => text(model, 5, 150, { prefix, temperature: 1e-4 }).join('')
    expect(greedy('abc')).not.toEqual(greedy('hhh'))
  })

  it('emits whole pieces of 64 characters and no empty one, and refuses what sampleWords refuses', () => {
    const model = wavenet({ vocab: vocab.symbols.length, levels: 2, embedding: 3, hidden: 5, seed: 4 })
    expect(text(model, 1, 128).map((piece) => piece.length)).toEqual([64, 64])
    expect(text(model, 1, 129).map((piece) => piece.length)).toEqual([64, 64, 1])
    expect(text(model, 1, 0)).toEqual([])
    const emit = () => undefined
    expect(() => sampleText(k, model, vocab, seeded(1), 5, { temperature: 0 }, emit)).toThrow(new RangeError('temperature must be positive, got 0'))
    expect(() => sampleText(k, model, vocab, seeded(1), 5, { topK: 0 }, emit)).toThrow(new RangeError('top-k must be a positive integer, got 0'))
    expect(sampleText(k, model, vocab, seeded(1), 5, { prefix: 'abz' }, emit)).toEqual({ _tag: 'Left', left: { kind: 'unknown-character', character: 'z', word: 0, position: 2 } })
  })

  it('never ends the passage: the boundary is not drawn, though the model all but always expects it', () => {
    // A head that always ends the document: the passage still has every character asked for.
    const built = wavenet({ vocab: vocab.symbols.length, levels: 2, embedding: 3, hidden: 5, seed: 3 })
    const bias = layerParameters(built.net)['head.bias']!
    const ending: Model = { net: withTensors(built.net, { 'head.bias': tensor(bias.shape, Float32Array.from(bias.data, (b, i) => (i === 0 ? 100 : b))) }) }
    for (const seed of [1, 2, 3]) {
      expect([...text(ending, seed, 50).join('')]).toHaveLength(50)
      expect([...text(ending, seed, 50, { prefix: 'ab', temperature: 0.5 }).join('')]).toHaveLength(50)
    }
  })
})
