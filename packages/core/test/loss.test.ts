/** Cross-entropy on the pure path: targets outside the classes are refused, and large logits stay finite. */
import { describe, expect, it } from 'vitest'
import { crossEntropy, crossEntropyBackward, embedding, forward, indices, referenceKernels as k, tensor, zeros } from '../src/index.js'

describe('cross-entropy', () => {
  it('refuses targets outside the classes, and targets that are not one a row', () => {
    const logits = tensor([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6))
    expect(crossEntropy(k, logits, indices([2], Int32Array.of(0, 2))).loss).toBeGreaterThan(0)
    expect(() => crossEntropy(k, logits, indices([2], Int32Array.of(0, 3)))).toThrow('target 3 outside the 3 classes')
    expect(() => crossEntropy(k, logits, indices([2], Int32Array.of(-1, 0)))).toThrow('target -1 outside the 3 classes')
    expect(() => crossEntropy(k, logits, indices([3], Int32Array.of(0, 0, 0)))).toThrow('2 rows of logits but 3 targets')
    expect(() => crossEntropy(k, tensor([6], logits.data), indices([6], new Int32Array(6)))).toThrow('cross-entropy expects (B, V) logits, got [6]')
    expect(() => crossEntropy(k, tensor([2, 3, 1], logits.data), indices([2], new Int32Array(2)))).toThrow('cross-entropy expects (B, V) logits, got [2, 3, 1]')
  })

  it('is exact for logits far beyond what exp can hold: each row is shifted by its maximum', () => {
    // softmax([1000, 1000 − ln 3]) = [3/4, 1/4]: −log of each is log(4/3) and log 4.
    const logits = tensor([2, 2], Float64Array.of(1000, 1000 - Math.log(3), 1000, 1000 - Math.log(3)))
    const { loss, tape } = crossEntropy(k, logits, indices([2], Int32Array.of(0, 1)))
    expect(loss).toBeCloseTo((Math.log(4 / 3) + Math.log(4)) / 2, 12)
    tape.probs.data.forEach((p, i) => expect(p).toBeCloseTo([0.75, 0.25][i % 2]!, 12))
    const dlogits = crossEntropyBackward(k, tape)
    expect(Array.from(dlogits.data).map((d) => Number(d.toFixed(12)))).toEqual([-0.125, 0.125, 0.375, -0.375])
  })

  it('matches softmax and its gradient written out by hand, the gradient scaled by dloss / rows', () => {
    const raw = [[0.5, -1, 2, 0], [3, 3, -2, 1], [-0.25, 0.75, 0, -4]]
    const targets = [2, 0, 3]
    const logits = tensor([3, 4], Float64Array.from(raw.flat()))
    const probs = raw.map((row) => {
      const e = row.map(Math.exp)
      const z = e.reduce((a, b) => a + b, 0)
      return e.map((x) => x / z)
    })
    const { loss, tape } = crossEntropy(k, logits, indices([3], Int32Array.from(targets)))
    expect(loss).toBeCloseTo(-(Math.log(probs[0]![2]!) + Math.log(probs[1]![0]!) + Math.log(probs[2]![3]!)) / 3, 12)
    expect(tape.probs.shape).toEqual([3, 4])
    tape.probs.data.forEach((p, i) => expect(p).toBeCloseTo(probs[Math.floor(i / 4)]![i % 4]!, 12))
    for (const dloss of [undefined, 2.5]) {
      const d = crossEntropyBackward(k, tape, dloss)
      expect(d.shape).toEqual([3, 4])
      d.data.forEach((g, i) => {
        const [r, c] = [Math.floor(i / 4), i % 4]
        expect(g).toBeCloseTo(((probs[r]![c]! - (targets[r] === c ? 1 : 0)) / 3) * (dloss ?? 1), 12)
      })
    }
  })
})

describe('embedding on the pure path', () => {
  it('refuses token ids outside the vocabulary (the reference kernels would read past the table)', () => {
    const table = embedding(zeros([4, 2]))
    expect(forward(k, table, indices([1, 2], Int32Array.of(0, 3)), 'eval').y.shape).toEqual([1, 2, 2])
    expect(() => forward(k, table, indices([1, 2], Int32Array.of(0, 4)), 'eval')).toThrow('token id 4 outside the vocabulary of 4')
    expect(() => forward(k, table, indices([1, 2], Int32Array.of(-1, 0)), 'eval')).toThrow('token id -1 outside the vocabulary of 4')
  })
})
