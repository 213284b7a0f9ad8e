/**
 * Compiling a recorded computation (`compiled.ts`): one workspace shared by
 * programs that run one at a time, the checks a program makes of its inputs
 * (count, and ids within the tightest bound any call puts on them), and the
 * value it returns.
 */
import { describe, expect, it } from 'vitest'
import { compile, workspace } from '../src/compiled.js'
import { alignUp } from '../src/kernels/wasm-arena.js'
import { arena, owned, wasm } from './support/wasm.js'

const own = (sizes: readonly number[]): number[] => sizes.map((bytes) => arena.reserveMovable(bytes))

describe('workspace', () => {
  it('places each program\'s buffers one after another from its start, reserving anew only for a larger program', () => {
    const place = workspace(arena)
    const first = place([100, 8])
    expect(first[1]! - first[0]!).toBe(alignUp(100))
    expect(place([100, 8])).toEqual(first)
    // Exactly as large: the same region.
    expect(place([alignUp(100) + alignUp(8)])).toEqual([first[0]])
    expect(place([4, 4, 4])).toEqual([first[0], first[0]! + alignUp(4), first[0]! + 2 * alignUp(4)])
    const larger = place([4096])
    expect(larger[0]).not.toBe(first[0])
    expect(place([8])).toEqual(larger)
  })
})

describe('compile', () => {
  /** A program gathering rows of two tables (of 5 and 3 rows of 2) by the same ids; the sum of the rows. */
  const gatherBoth = (wrap?: Parameters<typeof compile>[4]) => {
    const [t5, t3] = [owned([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]), owned([0, 1, 100, 101, 200, 201])]
    const out = owned([0, 0, 0, 0])
    const program = compile(wasm, arena, own, (k, _temporaries, input) => {
      const ids = input(2, 'token id')
      const a = k.alloc(t5, 4)
      k.gather(t5, ids, a, 2, 2)
      const b = k.alloc(t5, 4)
      k.gather(t3, ids, b, 2, 2)
      k.addStrided(a, 2, 0, b, 2, 0, 2, 2, true)
      return { bindings: new Map([[b, out]]), value: false }
    }, wrap)
    return { program, out }
  }

  it('checks each input\'s length and its ids against the tightest bound of the calls that read them', () => {
    const { program, out } = gatherBoth()
    expect(program([Int32Array.of(2, 1)])).toBeNaN()
    expect(Array.from(out)).toEqual([20 + 200, 21 + 201, 10 + 100, 11 + 101])
    expect(() => program([Int32Array.of(1, 2, 0)])).toThrow(new RangeError('3 token ids where the step takes 2'))
    expect(() => program([Int32Array.of(0, 3)])).toThrow(new RangeError('token id 3 outside [0, 3)'))
    expect(() => program([Int32Array.of(-1, 0)])).toThrow(new RangeError('token id -1 outside [0, 3)'))
  })

  it('hands each compiled call to `wrap`, in order', () => {
    const seen: string[] = []
    const { program } = gatherBoth((call, run) => () => { seen.push(call.kernel); return run() })
    program([Int32Array.of(0, 1)])
    expect(seen).toEqual(['gather', 'gather', 'addStrided'])
  })

  it('returns the loss of a step that declares one, and refuses one that computes another number of losses', () => {
    const logits = owned([1, 2, 0.5, -1, 0, 3])
    const step = (losses: number, value: boolean) => compile(wasm, arena, own, (k, _temporaries, input) => {
      const targets = input(2, 'target')
      for (let i = 0; i < losses; i++) k.softmaxCrossEntropy(logits, targets, k.alloc(logits, 6), 2, 3)
      k.tanhForward(logits, k.alloc(logits, 6), 6)
      return { bindings: new Map(), value }
    })
    const loss = step(1, true)([Int32Array.of(1, 2)])
    const [p0, p1] = [Math.exp(2) / (Math.exp(1) + Math.exp(2) + Math.exp(0.5)), Math.exp(3) / (Math.exp(-1) + 1 + Math.exp(3))]
    expect(loss).toBeCloseTo(-(Math.log(p0) + Math.log(p1)) / 2, 5)
    expect(step(0, false)([Int32Array.of(1, 2)])).toBeNaN()
    expect(() => step(0, true)).toThrow(new RangeError('the step must compute exactly one loss'))
    expect(() => step(2, true)).toThrow(new RangeError('the step must compute exactly one loss'))
    expect(() => step(1, false)).toThrow(new RangeError('the computation gives a value it does not declare'))
  })
})
