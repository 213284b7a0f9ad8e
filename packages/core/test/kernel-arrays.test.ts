/**
 * What each kernel reads and writes (`kernelArrays`), the table that the
 * wasm kernels check their arguments against and that the compiled programs
 * plan their buffers with: every array's position, name, element count,
 * use, and the bound of its ids, worked out here from what each kernel
 * computes.
 */
import { describe, expect, it } from 'vitest'
import { type ArrayArg, createWasmKernels, type KernelName, kernelArrays, kernelNames, referenceKernels } from '../src/index.js'

const f = (n: number): Float32Array => new Float32Array(n)
const ids = (n: number): Int32Array => new Int32Array(n)
const a = (at: number, name: string, count: number, use: ArrayArg['use'], bound?: number): ArrayArg =>
  ({ at, name, count, use, ...(bound === undefined ? {} : { bound }) })

/** Each kernel called on shapes whose sizes are all different, with the arrays it must declare. */
const cases: [KernelName, unknown[], ArrayArg[]][] = [
  // C (m×n) = A (m×k) · B (k×n), m = 2, n = 3, k = 4.
  ['matmul', [2, 3, 4, f(8), false, f(12), false, f(6), false], [a(3, 'a', 8, 'in'), a(5, 'b', 12, 'in'), a(7, 'c', 6, 'out')]],
  ['matmul', [2, 3, 4, f(8), true, f(12), true, f(6), true], [a(3, 'a', 8, 'in'), a(5, 'b', 12, 'in'), a(7, 'c', 6, 'inout')]],
  ['broadcastRows', [f(2), f(6), 3, 2], [a(0, 'v', 2, 'in'), a(1, 'out', 6, 'out')]],
  ['sumRows', [f(6), f(2), 3, 2], [a(0, 'x', 6, 'in'), a(1, 'out', 2, 'out')]],
  ['tanhForward', [f(5), f(5), 5], [a(0, 'x', 5, 'in'), a(1, 'y', 5, 'out')]],
  ['tanhBackward', [f(5), f(5), f(5), 5], [a(0, 'y', 5, 'in'), a(1, 'dy', 5, 'in'), a(2, 'dx', 5, 'out')]],
  // The seed is one id, any non-negative int32.
  ['dropout', [f(5), ids(1), f(5), 5, 3, 0.5], [a(0, 'x', 5, 'in'), a(1, 'seed', 1, 'in', 2 ** 31), a(2, 'y', 5, 'out')]],
  // A table of 11 values in rows of 2 holds 5 whole rows: ids must be below 5.
  ['gather', [f(11), ids(3), f(6), 3, 2], [a(0, 'table', 10, 'in'), a(1, 'ids', 3, 'in', 5), a(2, 'out', 6, 'out')]],
  ['gather', [f(11), ids(3), f(0), 3, 0], [a(0, 'table', 0, 'in'), a(1, 'ids', 3, 'in'), a(2, 'out', 0, 'out')]],
  // Row r of 2 values at r·stride + offset: the last row ends at (rows − 1)·stride + offset + cols.
  ['addStrided', [f(13), 5, 1, f(12), 4, 2, 3, 2, false], [a(0, 'src', 13, 'in'), a(3, 'dst', 12, 'out')]],
  ['addStrided', [f(13), 5, 1, f(12), 4, 2, 3, 2, true], [a(0, 'src', 13, 'in'), a(3, 'dst', 12, 'inout')]],
  ['addStrided', [f(0), 5, 1, f(0), 4, 2, 0, 2, false], [a(0, 'src', 0, 'in'), a(3, 'dst', 0, 'out')]],
  ['addStrided', [f(0), 5, 1, f(0), 4, 2, 3, 0, true], [a(0, 'src', 0, 'in'), a(3, 'dst', 0, 'inout')]],
  ['scatterRows', [f(6), ids(3), f(8), 3, 2, 4], [a(0, 'x', 6, 'in'), a(1, 'ids', 3, 'in', 4), a(2, 'table', 8, 'inout')]],
  ['scatterRows', [f(0), ids(3), f(0), 3, 0, 4], [a(0, 'x', 0, 'in'), a(1, 'ids', 3, 'in'), a(2, 'table', 0, 'inout')]],
  ['scatterAdd', [f(6), ids(3), f(8), 3, 2, 4], [a(0, 'dy', 6, 'in'), a(1, 'ids', 3, 'in', 4), a(2, 'dTable', 8, 'out')]],
  ['scatterAdd', [f(0), ids(3), f(0), 3, 0, 4], [a(0, 'dy', 0, 'in'), a(1, 'ids', 3, 'in'), a(2, 'dTable', 0, 'out')]],
  ['columnMoments', [f(6), f(2), f(2), 3, 2], [a(0, 'x', 6, 'in'), a(1, 'mean', 2, 'out'), a(2, 'variance', 2, 'out')]],
  ['normalize', [f(6), f(2), f(2), f(2), f(2), 1e-5, f(6), f(6), 3, 2], [
    a(0, 'x', 6, 'in'), a(1, 'mean', 2, 'in'), a(2, 'variance', 2, 'in'), a(3, 'gamma', 2, 'in'), a(4, 'beta', 2, 'in'),
    a(6, 'xhat', 6, 'out'), a(7, 'y', 6, 'out'),
  ]],
  ['normalizeBackward', [f(6), f(6), f(2), f(2), 1e-5, true, f(6), f(2), f(2), 3, 2], [
    a(0, 'dy', 6, 'in'), a(1, 'xhat', 6, 'in'), a(2, 'variance', 2, 'in'), a(3, 'gamma', 2, 'in'),
    a(6, 'dx', 6, 'out'), a(7, 'dgamma', 2, 'out'), a(8, 'dbeta', 2, 'out'),
  ]],
  ['softmaxCrossEntropy', [f(12), ids(3), f(12), 3, 4], [a(0, 'logits', 12, 'in'), a(1, 'targets', 3, 'in', 4), a(2, 'probs', 12, 'out')]],
  ['softmaxCrossEntropyBackward', [f(12), ids(3), 0.5, f(12), 3, 4], [a(0, 'probs', 12, 'in'), a(1, 'targets', 3, 'in', 4), a(3, 'dlogits', 12, 'out')]],
  ['sgdUpdate', [f(5), f(5), 0.1, 5], [a(0, 'params', 5, 'inout'), a(1, 'grads', 5, 'in')]],
  ['adamwUpdate', [f(5), f(5), f(5), f(5), 5, 0.1, 0.9, 0.999, 1e-8, 1, 0.1, 0.001], [
    a(0, 'params', 5, 'inout'), a(1, 'grads', 5, 'in'), a(2, 'm', 5, 'inout'), a(3, 'v', 5, 'inout'),
  ]],
  ['movingAverage', [f(5), f(5), f(5), 0.9, 0.1, 5], [a(0, 'running', 5, 'in'), a(1, 'batch', 5, 'in'), a(2, 'out', 5, 'out')]],
]

const declared = (kernel: KernelName, args: unknown[]): readonly ArrayArg[] =>
  (kernelArrays[kernel] as (...a: unknown[]) => readonly ArrayArg[])(...args)

describe('kernelArrays', () => {
  it('names every kernel of the interface', () => {
    const methods = Object.keys(referenceKernels).filter((key) => !['name', 'alloc', 'scope'].includes(key)).sort()
    expect([...kernelNames].sort()).toEqual(methods)
    expect(new Set(cases.map(([kernel]) => kernel)).size).toBe(methods.length)
  })

  it.each(cases)('%s declares the arrays it touches', (kernel, args, arrays) => {
    expect(declared(kernel, args)).toEqual(arrays)
    for (const array of declared(kernel, args)) expect('bound' in array).toBe(array.bound !== undefined)
  })

  it.each(cases.filter(([, , arrays]) => arrays.some((x) => x.count > 0)))('%s on wasm refuses each array one element short, naming it', (kernel, args, arrays) => {
    const wasm = createWasmKernels()!
    // A gather's table declares the whole rows it has: a shorter one has fewer rows, and its ids a lower bound.
    for (const array of arrays.filter((x) => x.count > 0 && !(kernel === 'gather' && x.name === 'table'))) {
      const short = args.slice()
      const given = args[array.at] as Float32Array | Int32Array
      short[array.at] = given instanceof Int32Array ? new Int32Array(array.count - 1) : new Float32Array(array.count - 1)
      expect(() => (wasm[kernel] as (...a: unknown[]) => unknown)(...short))
        .toThrow(new RangeError(`${kernel} ${array.name} has ${array.count - 1} elements, the kernel needs ${array.count}`))
    }
    // The arguments as given are enough.
    expect(() => (wasm[kernel] as (...a: unknown[]) => unknown)(...args)).not.toThrow()
  })

  it('ids outside their bound are refused by the wasm kernels, naming the id and the bound', () => {
    const wasm = createWasmKernels()!
    expect(() => wasm.gather(f(11), Int32Array.of(0, 5, 1), f(6), 3, 2)).toThrow(new RangeError('gather ids[1] = 5 is outside [0, 5)'))
    expect(() => wasm.gather(f(11), Int32Array.of(0, 4, -1), f(6), 3, 2)).toThrow(new RangeError('gather ids[2] = -1 is outside [0, 5)'))
    expect(() => wasm.softmaxCrossEntropy(f(12), Int32Array.of(3, 4, 0), f(12), 3, 4)).toThrow(new RangeError('softmaxCrossEntropy targets[1] = 4 is outside [0, 4)'))
    expect(() => wasm.scatterRows(f(6), Int32Array.of(3, 3, 4), f(8), 3, 2, 4)).toThrow(new RangeError('scatterRows ids[2] = 4 is outside [0, 4)'))
    // With rows of no values, no id is read: any is harmless.
    expect(() => wasm.gather(f(0), Int32Array.of(99, -7, 0), f(0), 3, 0)).not.toThrow()
  })
})
