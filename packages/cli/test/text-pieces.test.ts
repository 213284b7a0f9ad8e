/** A passage of running text drawn in pieces (Ctrl-C is seen between them) is the passage one `sampleText` draws. */
import { buildVocabulary, createWasmKernels, layerParameters, sampleText, seeded, tensor, wavenet, withTensors } from '@wavenet/core'
import { Effect } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { sampleTextInPieces, textPiece } from '../src/pieces.js'

describe('sampleTextInPieces', () => {
  it('draws the same passage as one sampleText over several pieces, each continuing from the last R characters', async () => {
    const kernels = createWasmKernels()!
    const vocab = buildVocabulary(['abcdefgh ij'])
    // A wide model: its pieces are short, so the passage takes several; its head never ends the document.
    const built = wavenet({ vocab: vocab.symbols.length, levels: 3, embedding: 8, hidden: 400, residual: true, seed: 5 })
    const bias = layerParameters(built.net)['head.bias']!
    const model = { ...built, net: withTensors(built.net, { 'head.bias': tensor(bias.shape, Float32Array.from(bias.data, (b, i) => (i === 0 ? -100 : b))) }) }
    const piece = textPiece(model, false)
    const chars = 3 * piece + 17
    for (const prefix of ['', 'ab cd', 'hhhhhhhhhhhh']) {
      const whole: string[] = []
      const one = sampleText(kernels, model, vocab, seeded(9), chars, { prefix, temperature: 1.5 }, (text) => { whole.push(text) })
      const pieces: string[] = []
      const after = await Effect.runPromise(sampleTextInPieces(kernels, model, vocab, seeded(9), chars, { prefix, temperature: 1.5 }, (text) =>
        Effect.sync(() => { pieces.push(text) })))
      expect(pieces.length).toBeGreaterThan(1)
      expect(pieces.join('')).toBe(whole.join(''))
      expect(E.isRight(one) && one.right).toEqual(after)
    }
  })
})
