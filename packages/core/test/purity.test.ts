/** Purity: forward and backward leave every argument byte-identical. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backward, crossEntropy, crossEntropyBackward, forward, referenceKernels as k } from '../src/index.js'
import { snapshot } from './support/layers.js'
import { stackCase } from './support/stacks.js'

describe('purity', () => {
  it('forward, backward and the loss leave the layers, inputs, tapes and gradients untouched', () => {
    fc.assert(
      fc.property(stackCase, ({ stack, x, targets, mode }) => {
        const layerBefore = snapshot(stack)
        const xBefore = snapshot(x)
        const out = forward(k, stack, x, mode)
        expect(snapshot(stack)).toEqual(layerBefore)
        expect(snapshot(x)).toEqual(xBefore)

        const yBefore = snapshot(out.y)
        const targetsBefore = snapshot(targets)
        const loss = crossEntropy(k, out.y, targets)
        expect(snapshot(out.y)).toEqual(yBefore)
        expect(snapshot(targets)).toEqual(targetsBefore)

        const lossTapeBefore = snapshot(loss.tape)
        const dlogits = crossEntropyBackward(k, loss.tape)
        expect(snapshot(loss.tape)).toEqual(lossTapeBefore)

        const tapeBefore = snapshot(out.tape)
        const dBefore = snapshot(dlogits)
        backward(k, stack, out.tape, dlogits)
        expect(snapshot(stack)).toEqual(layerBefore)
        expect(snapshot(out.tape)).toEqual(tapeBefore)
        expect(snapshot(dlogits)).toEqual(dBefore)
        expect(snapshot(x)).toEqual(xBefore)
      }),
      { numRuns: 100 },
    )
  })
})
