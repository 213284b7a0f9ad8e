/** Recording kernels: every call listed with its arguments, placeholders allocated in float32 only, and the calls that give a value marked. */
import { describe, expect, it } from 'vitest'
import { kernelNames } from '../src/index.js'
import { recorder } from '../src/trace.js'

describe('recorder', () => {
  it('lists each call with its arguments by identity, computing nothing', () => {
    const { kernels, calls, valued, temporaries } = recorder()
    expect(kernels.name).toBe('recorder')
    const x = new Float32Array([1, 2])
    const y = kernels.alloc(x, 2)
    expect(y).toBeInstanceOf(Float32Array)
    expect(Array.from(y)).toEqual([0, 0])
    expect(temporaries.has(y)).toBe(true)
    expect(temporaries.has(x)).toBe(false)
    expect(kernels.tanhForward(x, y, 2)).toBeUndefined()
    expect(Array.from(y)).toEqual([0, 0])
    const targets = Int32Array.of(1)
    expect(kernels.softmaxCrossEntropy(x, targets, y, 1, 2)).toBeNaN()
    kernels.sumRows(x, y, 1, 2)
    expect(calls).toHaveLength(3)
    expect(calls.map((c) => c.kernel)).toEqual(['tanhForward', 'softmaxCrossEntropy', 'sumRows'])
    expect(calls[0]!.args[0]).toBe(x)
    expect(calls[0]!.args[1]).toBe(y)
    expect(calls[0]!.args).toHaveLength(3)
    expect(calls[1]!.args[1]).toBe(targets)
    // Only the loss gives a value: its call is the one marked.
    expect(valued).toEqual([1])
    expect(kernels.scope(() => 'inside')).toBe('inside')
    for (const name of kernelNames) expect(typeof kernels[name]).toBe('function')
  })

  it('refuses float64 placeholders: a recorded computation is replayed in float32', () => {
    const { kernels, temporaries } = recorder()
    expect(() => kernels.alloc(new Float64Array(1), 3)).toThrow(new TypeError('a recorded computation runs in float32 only'))
    expect(temporaries.size).toBe(0)
  })
})
