/**
 * The compiler of recorded calls (`kernels/wasm-program.ts`), seen from its
 * plan: which kernels the program calls (fused pairs as one call), how many
 * buffers it places (a temporary written over one read by no later call),
 * and what it computes (the reference kernels' values).
 */
import { describe, expect, it } from 'vitest'
import { referenceKernels as ref, type WasmKernels } from '../src/index.js'
import { compileProgram } from '../src/kernels/wasm-program.js'
import { wasmInternals } from '../src/kernels/wasm.js'
import { recorder } from '../src/trace.js'
import { arena, owned, wasm } from './support/wasm.js'

/** Compiles what `record` records; returns the kernels each compiled call runs and the sizes of the buffers it places. */
const plan = (record: (k: ReturnType<typeof recorder>['kernels']) => Map<ArrayBufferView, ArrayBufferView>) => {
  const recording = recorder()
  const bindings = record(recording.kernels)
  const kernels: string[] = []
  let placed: readonly number[] = []
  const program = compileProgram(wasm, recording.calls, recording.temporaries, bindings, -1, {
    wrap: (call, run) => { kernels.push(call.kernel); return run },
    place: (sizes) => { placed = sizes; return sizes.map((bytes) => arena.reserveMovable(bytes)) },
  })
  return { kernels, placed, program }
}

describe('compiled programs', () => {
  it('fuse a normalize and the tanh of its output into one call, with the same values', () => {
    const [rows, cols] = [3, 2]
    const x = owned([0.5, -1, 2, 0.25, -0.75, 1.5])
    const [mean, variance, gamma, beta] = [owned([0.1, -0.2]), owned([1.5, 0.5]), owned([1.2, -0.8]), owned([0.05, 0.3])]
    const out = owned(new Array(6).fill(0))
    const { kernels, placed, program } = plan((k) => {
      const xhat = k.alloc(x, 6)
      const y = k.alloc(x, 6)
      k.normalize(x, mean, variance, gamma, beta, 1e-5, xhat, y, rows, cols)
      const h = k.alloc(x, 6)
      k.tanhForward(y, h, 6)
      return new Map([[h, out]])
    })
    expect(kernels).toEqual(['normalizeTanh'])
    // xhat is placed; y never reaches memory; h is the caller's buffer; then the scratch.
    expect(placed.slice(0, -1)).toEqual([24])
    // The fused call takes the scratch a normalize of 2 columns takes.
    const scratch = wasmInternals(wasm)!.scratchBytes('normalize', [2])
    expect(scratch).toBeGreaterThan(0)
    expect(placed.at(-1)).toBe(scratch)
    program.run()
    const [xhat, y, h] = [new Float32Array(6), new Float32Array(6), new Float32Array(6)]
    ref.normalize(x, mean, variance, gamma, beta, 1e-5, xhat, y, rows, cols)
    ref.tanhForward(y, h, 6)
    out.forEach((v, i) => expect(v).toBeCloseTo(h[i]!, 6))
  })

  it('write a temporary over one that no later call reads, and never over one read again', () => {
    const x = owned([0.5, -1, 2, 0.25])
    const out = owned([0, 0, 0, 0])
    const chain = plan((k) => {
      const t1 = k.alloc(x, 4)
      k.tanhForward(x, t1, 4)
      const t2 = k.alloc(x, 4)
      k.tanhForward(t1, t2, 4)
      const t3 = k.alloc(x, 4)
      k.tanhForward(t2, t3, 4)
      return new Map([[t3, out]])
    })
    expect(chain.kernels).toEqual(['tanhForward', 'tanhForward', 'tanhForward'])
    // t2 is written over t1: one buffer of 16 bytes for both.
    expect(chain.placed).toEqual([16, 0])
    chain.program.run()
    out.forEach((v, i) => expect(v).toBeCloseTo(Math.tanh(Math.tanh(Math.tanh(x[i]!))), 6))
    // When t1 is read again (by the sum), t2 needs its own buffer.
    const sums = owned([0, 0, 0, 0])
    const branch = plan((k) => {
      const t1 = k.alloc(x, 4)
      k.tanhForward(x, t1, 4)
      const t2 = k.alloc(x, 4)
      k.tanhForward(t1, t2, 4)
      const s = k.alloc(x, 4)
      k.addStrided(t1, 4, 0, t2, 4, 0, 1, 4, true)
      k.tanhForward(t2, s, 4)
      return new Map([[s, sums]])
    })
    expect(branch.placed.slice(0, -1)).toEqual([16, 16])
    branch.program.run()
    sums.forEach((v, i) => {
      const t = Math.tanh(x[i]!)
      expect(v).toBeCloseTo(Math.tanh(t + Math.tanh(t)), 6)
    })
  })

  it('multiply a few rows by a constant matrix transposed through a copy transposed once, with the same values', () => {
    const [n, k] = [3, 4]
    const b = owned(Array.from({ length: n * k }, (_, i) => Math.sin(i + 1)))
    const run = (m: number, constant: boolean) => {
      const a = owned(Array.from({ length: m * k }, (_, i) => Math.cos(i + 1)))
      const c = owned(new Array(m * n).fill(0))
      const recording = recorder()
      recording.kernels.matmul(m, n, k, a, false, b, true, c, false)
      const calls: unknown[][] = []
      const program = compileProgram(wasm, recording.calls, recording.temporaries, new Map(), -1, {
        wrap: (call, f) => { calls.push([...call.args]); return f },
        ...(constant ? { constants: new Set([b]) } : {}),
      })
      program.run()
      const want = new Float32Array(m * n)
      ref.matmul(m, n, k, a, false, b, true, want, false)
      c.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5))
      return calls[0]!
    }
    for (const m of [1, 2]) {
      const args = run(m, true)
      expect(args[6], `${m} rows`).toBe(false)
      expect(args[5]).not.toBe(b)
      expect(Array.from(args[5] as Float32Array)).toEqual(Array.from({ length: k * n }, (_, i) => b[(i % n) * k + Math.floor(i / n)]!))
    }
    // More rows, or a matrix that may change: the product reads b itself.
    expect(run(3, true)[5]).toBe(b)
    expect(run(3, true)[6]).toBe(true)
    expect(run(2, false)[5]).toBe(b)
  })

  it('fuse only when nothing between the pair touches what the moved call uses, and only a temporary read by the pair alone', () => {
    const x = owned([0.5, -1, 2, 0.25, -0.75, 1.5])
    const x2 = owned([1, 2, 3, 4, 5, 6])
    const [mean, variance, gamma, beta] = [owned([0.1, -0.2]), owned([1.5, 0.5]), owned([1.2, -0.8]), owned([0.05, 0.3])]
    // Between normalize and the tanh of its output, another call writes the tanh's output buffer: moving the tanh up would reorder the writes.
    const out = owned(new Array(6).fill(0))
    const between = plan((k) => {
      const xhat = k.alloc(x, 6)
      const y = k.alloc(x, 6)
      k.normalize(x, mean, variance, gamma, beta, 1e-5, xhat, y, 3, 2)
      const h = k.alloc(x, 6)
      k.tanhForward(x2, h, 6)
      k.tanhForward(y, h, 6)
      return new Map([[h, out]])
    })
    expect(between.kernels).toEqual(['normalize', 'tanhForward', 'tanhForward'])
    between.program.run()
    const [xhat, y, h] = [new Float32Array(6), new Float32Array(6), new Float32Array(6)]
    ref.normalize(x, mean, variance, gamma, beta, 1e-5, xhat, y, 3, 2)
    ref.tanhForward(y, h, 6)
    out.forEach((v, i) => expect(v).toBeCloseTo(h[i]!, 6))
    // The normalized values are read again: they must reach memory, so the pair stays apart.
    const sums = owned([0, 0])
    const reread = plan((k) => {
      const xhat2 = k.alloc(x, 6)
      const y2 = k.alloc(x, 6)
      k.normalize(x, mean, variance, gamma, beta, 1e-5, xhat2, y2, 3, 2)
      const h2 = k.alloc(x, 6)
      k.tanhForward(y2, h2, 6)
      const s = k.alloc(x, 2)
      k.sumRows(y2, s, 3, 2)
      k.addStrided(h2, 2, 0, s, 2, 0, 1, 2, true)
      return new Map([[s, sums]])
    })
    expect(reread.kernels).toEqual(['normalize', 'tanhForward', 'sumRows', 'addStrided'])
    reread.program.run()
    const want = [0, 1].map((j) => y[j]! + y[2 + j]! + y[4 + j]! + h[j]!)
    sums.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 5))
  })

  it('fuse a tanh backward into the normalize backward of its result, and not when a call between rewrites what it reads', () => {
    const [rows, cols] = [3, 2]
    const h = owned([0.5, -0.25, 0.75, 0.1, -0.6, 0.3])
    const dh = owned([0.2, -0.4, 0.1, 0.3, -0.2, 0.5])
    const xhat = owned([1, -1, 0.5, 0.25, -1.5, 0.75])
    const [variance, gamma] = [owned([1.5, 0.5]), owned([1.2, -0.8])]
    const [dx, dgamma, dbeta] = [owned(new Array(6).fill(0)), owned([0, 0]), owned([0, 0])]
    const record = (rewrite: boolean) => plan((k) => {
      const dy = k.alloc(h, 6)
      k.tanhBackward(h, dh, dy, 6)
      if (rewrite) k.tanhForward(xhat, dh, 6)
      const [ddx, dg, db] = [k.alloc(h, 6), k.alloc(h, 2), k.alloc(h, 2)]
      k.normalizeBackward(dy, xhat, variance, gamma, 1e-5, true, ddx, dg, db, rows, cols)
      return new Map([[ddx, dx], [dg, dgamma], [db, dbeta]])
    })
    const fused = record(false)
    expect(fused.kernels).toEqual(['tanhNormalizeBackward'])
    const scratch = wasmInternals(wasm)!.scratchBytes('normalizeBackward', [cols])
    expect(scratch).toBeGreaterThan(0)
    expect(fused.placed.at(-1)).toBe(scratch)
    fused.program.run()
    const dy = new Float32Array(6)
    ref.tanhBackward(h, dh, dy, 6)
    const [wdx, wg, wb] = [new Float32Array(6), new Float32Array(2), new Float32Array(2)]
    ref.normalizeBackward(dy, xhat, variance, gamma, 1e-5, true, wdx, wg, wb, rows, cols)
    dx.forEach((v, i) => expect(v).toBeCloseTo(wdx[i]!, 5))
    dgamma.forEach((v, i) => expect(v).toBeCloseTo(wg[i]!, 5))
    dbeta.forEach((v, i) => expect(v).toBeCloseTo(wb[i]!, 5))
    // dh is rewritten between the two: the tanh backward must run where it was recorded.
    const apart = record(true)
    expect(apart.kernels).toEqual(['tanhBackward', 'tanhForward', 'normalizeBackward'])
    apart.program.run()
    dx.forEach((v, i) => expect(v).toBeCloseTo(wdx[i]!, 5))
  })

  it('return the value of the valued call, or NaN without one', () => {
    const logits = owned([1, 2, 0.5, -1, 0, 3])
    const targets = Int32Array.of(1, 2)
    const probs = new Float32Array(6)
    const want = ref.softmaxCrossEntropy(logits, targets, probs, 2, 3)
    const compileLoss = (valued: boolean) => {
      const recording = recorder()
      const ids = owned([0, 0])
      const t = new Int32Array(ids.buffer, ids.byteOffset, 2)
      t.set(targets)
      recording.kernels.softmaxCrossEntropy(logits, t, recording.kernels.alloc(logits, 6), 2, 3)
      return compileProgram(wasm, recording.calls, recording.temporaries, new Map(), valued ? recording.valued[0]! : -1)
    }
    expect(compileLoss(true).run()).toBeCloseTo(want, 6)
    expect(compileLoss(false).run()).toBeNaN()
  })

  it('refuse what cannot be compiled, saying why', () => {
    const x = owned([1, 2, 3, 4])
    const unread = recorder()
    const t = unread.kernels.alloc(x, 4)
    unread.kernels.tanhForward(t, unread.kernels.alloc(x, 4), 4)
    expect(() => compileProgram(wasm, unread.calls, unread.temporaries, new Map(), -1))
      .toThrow(new RangeError('a recorded call reads a buffer no earlier call wrote (kernels must not rely on what alloc returns)'))
    const outside = recorder()
    outside.kernels.tanhForward(new Float32Array(4), outside.kernels.alloc(x, 4), 4)
    expect(() => compileProgram(wasm, outside.calls, outside.temporaries, new Map(), -1))
      .toThrow(new RangeError('a recorded call reads an array outside the WebAssembly memory'))
    expect(() => compileProgram(ref as unknown as WasmKernels, outside.calls, outside.temporaries, new Map(), -1))
      .toThrow(new TypeError('compileProgram needs kernels made by createWasmKernels'))
    // A temporary bound to a buffer that a later call reads: the buffer would change under it.
    const target = owned([0, 0, 0, 0])
    const bound = recorder()
    const u = bound.kernels.alloc(x, 4)
    bound.kernels.tanhForward(x, u, 4)
    bound.kernels.tanhForward(target, bound.kernels.alloc(x, 4), 4)
    expect(() => compileProgram(wasm, bound.calls, bound.temporaries, new Map([[u, target]]), -1))
      .toThrow(new RangeError('cannot place the result of tanhForward over its input: the input is read again, or the kernel cannot run in place'))
  })
})
