/** Tensors: shapes are checked against their data, and a layer takes new tensors only of its own shapes. */
import { describe, expect, it } from 'vitest'
import { allocLike, clone, embedding, indices, linear, reshape, size, tensor, toFloat32, toFloat64, withTensors, zeros } from '../src/index.js'

describe('tensors', () => {
  it('refuse a shape that is not whole, non-negative dimensions, or that the data does not fill', () => {
    expect(size([])).toBe(1)
    expect(size([2, 0, 3])).toBe(0)
    expect(tensor([2, 3], new Float32Array(6)).shape).toEqual([2, 3])
    expect(tensor([0], new Float32Array(0)).shape).toEqual([0])
    expect(() => tensor([2, -3], new Float32Array(6))).toThrow('invalid shape [2, -3]')
    expect(() => tensor([1.5, 4], new Float32Array(6))).toThrow('invalid shape [1.5, 4]')
    expect(() => tensor([2, 3], new Float32Array(5))).toThrow('shape [2, 3] needs 6 elements, data has 5')
    expect(() => tensor([2, 3], new Float32Array(7))).toThrow('shape [2, 3] needs 6 elements, data has 7')
    expect(() => indices([2, 2], new Int32Array(3))).toThrow('shape [2, 2] needs 4 indices, data has 3')
    expect(() => reshape(zeros([2, 3]), [4, 2])).toThrow('shape [4, 2] needs 8 elements, data has 6')
  })

  it('copy the shape they are given, so that changing it later changes no tensor', () => {
    const shape = [2, 3]
    const t = tensor(shape, new Float32Array(6))
    shape[0] = 3
    expect(t.shape).toEqual([2, 3])
  })

  it('replace a layer\'s tensors only by tensors of the same shape', () => {
    const table = embedding(zeros([5, 3]))
    expect(withTensors(table, { weight: tensor([5, 3], new Float32Array(15).fill(1)) }).weight.data[0]).toBe(1)
    expect(withTensors(table, {}).weight).toBe(table.weight)
    expect(() => withTensors(table, { weight: zeros([3, 5]) })).toThrow('weight: shape [3, 5] does not match [5, 3]')
    expect(() => withTensors(table, { weight: zeros([15]) })).toThrow('weight: shape [15] does not match [5, 3]')
    const dense = linear(zeros([4, 2]), zeros([4]))
    expect(() => withTensors(dense, { bias: zeros([2]) })).toThrow('bias: shape [2] does not match [4]')
  })

  it('copy, convert and reshape without sharing a shape array, and copy data only where they say so', () => {
    const t = tensor([2, 2], Float32Array.of(1.5, -2, 1 / 3, 4))
    const copy = clone(t)
    expect(copy.shape).toEqual([2, 2])
    expect(copy.shape).not.toBe(t.shape)
    expect(copy.data).toBeInstanceOf(Float32Array)
    expect(Array.from(copy.data)).toEqual(Array.from(t.data))
    copy.data[0] = 9
    expect(t.data[0]).toBe(1.5)
    const wide = toFloat64(t)
    expect(wide.shape).toEqual([2, 2])
    expect(wide.shape).not.toBe(t.shape)
    expect(wide.data).toBeInstanceOf(Float64Array)
    expect(Array.from(wide.data)).toEqual([1.5, -2, Math.fround(1 / 3), 4])
    const narrow = toFloat32(tensor([1, 3], Float64Array.of(1 / 3, 1e-50, -7)))
    expect(narrow.shape).toEqual([1, 3])
    expect(narrow.data).toBeInstanceOf(Float32Array)
    expect(Array.from(narrow.data)).toEqual([Math.fround(1 / 3), 0, -7])
    expect(clone(wide).data).toBeInstanceOf(Float64Array)
    const flat = reshape(t, [4])
    expect(flat.shape).toEqual([4])
    expect(flat.data).toBe(t.data)
    const z = zeros([3, 2])
    expect(z.shape).toEqual([3, 2])
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0])
    const shape = [2]
    const ids = indices(shape, Int32Array.of(4, 5))
    shape[0] = 7
    expect(ids.shape).toEqual([2])
    expect(Array.from(ids.data)).toEqual([4, 5])
  })

  it('allocate zeros in the precision of the array they are like', () => {
    const wide = allocLike(new Float64Array(2).fill(3), 5)
    expect(wide).toBeInstanceOf(Float64Array)
    expect(Array.from(wide)).toEqual([0, 0, 0, 0, 0])
    const narrow = allocLike(new Float32Array(1).fill(3), 3)
    expect(narrow).toBeInstanceOf(Float32Array)
    expect(narrow).toHaveLength(3)
  })
})
