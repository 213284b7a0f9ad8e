/**
 * The sequence view against per-example evaluation: the same logits at every
 * output, gradients that agree with float64 finite differences, and each
 * output depending on exactly the R characters ending at its position.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  buildVocabulary, createWasmKernels, evaluate, evaluateWords, examples, flatMlp, indices, modelForward, packWords, receptiveField,
  referenceKernels as k, sampleWords, seeded, sequenceLogits, wavenet, type Model,
} from '../src/index.js'
import { expectSequenceGradients } from './support/gradcheck.js'
import { inFloat64, maxDifference, treeConfig as trees } from './support/trees.js'
import { networkCase } from './support/stacks.js'

const treeConfig = trees(5)

/** Words of characters 1 … vocab−1 (0 is the boundary). */
const wordsOf = (vocab: number) => fc.array(fc.array(fc.integer({ min: 1, max: vocab - 1 }), { minLength: 0, maxLength: 9 }).map((w) => Int32Array.from(w)), {
  minLength: 1, maxLength: 5,
})

/** Each output's context, as per-example training sees it: the R tokens before the predicted one, boundary tokens before the word. */
const contextsOf = (words: readonly Int32Array[], field: number): Int32Array => {
  const rows: number[] = []
  for (const word of words) {
    const padded = [...new Array<number>(field).fill(0), ...word]
    for (let i = 0; i <= word.length; i++) rows.push(...padded.slice(i, i + field))
  }
  return Int32Array.from(rows)
}

/** Per-example logits (T, V) in eval mode for every output of the words. */
const perExample = (model: Model, words: readonly Int32Array[]) => {
  const field = receptiveField(model)
  const contexts = contextsOf(words, field)
  return modelForward(k, model, indices([contexts.length / field, field], contexts), 'eval').y.data
}

describe('sequence view', () => {
  it('gives every output the logits per-example evaluation gives its context (float32 1e-5, float64 1e-9), trees of 1–5 levels, residual and skip', () => {
    fc.assert(
      fc.property(treeConfig.chain((c) => fc.tuple(fc.constant(c), wordsOf(c.vocab))), ([c, words]) => {
        const model = wavenet(c)
        const packed = packWords({ words })
        expect(maxDifference(sequenceLogits(k, model, packed, 'eval').logits.data, perExample(model, words))).toBeLessThan(1e-5)
        const wide = inFloat64(model)
        expect(maxDifference(sequenceLogits(k, wide, packed, 'eval').logits.data, perExample(wide, words))).toBeLessThan(1e-9)
      }),
      { numRuns: 60 },
    )
  })

  it('runs the flat MLP too, and the wasm kernels agree', () => {
    const wasm = createWasmKernels()!
    fc.assert(
      fc.property(
        fc.record({ vocab: fc.integer({ min: 3, max: 8 }), context: fc.integer({ min: 1, max: 6 }), embedding: fc.integer({ min: 1, max: 4 }),
          hidden: fc.integer({ min: 1, max: 6 }), seed: fc.nat() }).chain((c) => fc.tuple(fc.constant(c), wordsOf(c.vocab))),
        ([c, words]) => {
          const model = flatMlp(c)
          const packed = packWords({ words })
          const expected = perExample(model, words)
          expect(maxDifference(sequenceLogits(k, model, packed, 'eval').logits.data, expected)).toBeLessThan(1e-5)
          expect(maxDifference(wasm.scope(() => sequenceLogits(wasm, model, packed, 'eval').logits.data), expected)).toBeLessThan(1e-5)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('evaluates to the per-example mean loss', () => {
    const text = ['abba', 'cab', 'e', 'deed', 'bead', 'ace', 'a', 'dad', 'cede', 'babe', 'add']
    const vocab = buildVocabulary(text)
    const model = wavenet({ vocab: vocab.symbols.length, levels: 3, embedding: 3, hidden: 5, seed: 9 })
    const data = examples(vocab, text, receptiveField(model))
    if (data._tag === 'Left') throw new Error('unknown character')
    const words = text.map((w) => Int32Array.from(w, (ch) => vocab.symbols.indexOf(ch)))
    const expected = evaluate(k, model, data.right)
    expect(evaluateWords(k, model, words)).toBeCloseTo(expected, 12)
    // In chunks of whole words, too.
    expect(evaluateWords(k, model, words, { chunk: 7 })).toBeCloseTo(expected, 12)
  })

  it('gives gradients that agree with float64 central differences, in training mode', () => {
    fc.assert(
      fc.property(
        fc.record({
          levels: fc.integer({ min: 1, max: 3 }), groupSize: fc.integer({ min: 2, max: 3 }), vocab: fc.integer({ min: 5, max: 7 }),
          embedding: fc.integer({ min: 1, max: 3 }), hidden: fc.integer({ min: 2, max: 4 }), residual: fc.boolean(), skip: fc.boolean(), seed: fc.nat(),
        }),
        fc.nat(),
        (c, s) => {
          const model = inFloat64(wavenet(c))
          // Distinct characters in every word so that no batchnorm channel sees a constant.
          const words = [0, 1, 2].map((w) => Int32Array.from({ length: 2 + ((s + w) % 3) }, (_, p) => 1 + ((s + w + 2 * p) % (c.vocab - 1))))
          const packed = packWords({ words })
          expectSequenceGradients(model, packed)
        },
      ),
      { numRuns: 25 },
    )
  })

  it('makes each output depend on exactly the R characters ending at its position', () => {
    fc.assert(
      fc.property(treeConfig, fc.integer({ min: 1, max: 12 }), fc.nat(), fc.nat(), (c, length, seed, at) => {
        const model = inFloat64(wavenet(c))
        const field = receptiveField(model)
        const word = Int32Array.from({ length }, (_, p) => 1 + ((seed + 3 * p) % (c.vocab - 1)))
        const changed = word.slice()
        const q = at % length
        changed[q] = 1 + ((word[q]! - 1 + 1 + (seed % (c.vocab - 2))) % (c.vocab - 1))
        const logits = (w: Int32Array) => sequenceLogits(k, model, packWords({ words: [w] }), 'eval').logits.data
        const [before, after] = [logits(word), logits(changed)]
        const classes = c.vocab
        // Output 0 predicts word[0] from boundary tokens alone; output i + 1 sees the R characters ending at position i.
        for (let out = 0; out <= length; out++) {
          const row = (x: ArrayLike<number>) => Array.from(x).slice(out * classes, (out + 1) * classes)
          const position = out - 1
          const sees = position >= q && position - field + 1 <= q
          expect(row(after).some((v, j) => !Object.is(v, row(before)[j])), `output ${out} after a change at ${q}`).toBe(sees)
        }
      }),
      { numRuns: 80 },
    )
  })
})

describe('generation', () => {
  const wasm = createWasmKernels()!
  const letters = 'abcdefg'

  it('gives the same samples cached as naive, for the same seed: trees of 1–6 levels, group size 2–3, residual and skip, with prefixes, on both backends', () => {
    fc.assert(
      fc.property(
        fc.record({
          levels: fc.integer({ min: 1, max: 6 }), groupSize: fc.integer({ min: 2, max: 3 }), vocab: fc.integer({ min: 3, max: 8 }),
          embedding: fc.integer({ min: 1, max: 4 }), hidden: fc.integer({ min: 1, max: 6 }), residual: fc.boolean(), skip: fc.boolean(), seed: fc.nat(),
        }).filter((c) => c.groupSize ** c.levels <= 256),
        fc.nat(), fc.integer({ min: 0, max: 3 }), fc.boolean(),
        (c, seed, prefixLength, onWasm) => {
          const model = wavenet(c)
          const vocab = buildVocabulary([letters.slice(0, c.vocab - 1)])
          const prefix = Array.from({ length: prefixLength }, (_, i) => letters[(seed + i) % (c.vocab - 1)]).join('')
          const kernels = onWasm ? wasm : k
          const options = { prefix, maxLength: 14, temperature: 1.5 }
          const cached = sampleWords(kernels, model, vocab, seeded(seed), 6, options)
          const naive = sampleWords(kernels, model, vocab, seeded(seed), 6, { ...options, naive: true })
          expect(cached).toEqual(naive)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('gives the same samples cached as naive for hand-built networks and flat MLPs', () => {
    fc.assert(
      fc.property(networkCase, fc.nat(), ({ net, vocab: classes }, seed) => {
        const vocab = buildVocabulary([letters.slice(0, classes - 1)])
        const model: Model = { net }
        expect(sampleWords(k, model, vocab, seeded(seed), 5, { maxLength: 10 }))
          .toEqual(sampleWords(k, model, vocab, seeded(seed), 5, { maxLength: 10, naive: true }))
      }),
      { numRuns: 40 },
    )
  })
})
