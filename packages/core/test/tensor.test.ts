/** Tensors: shapes are checked against their data, and a layer takes new tensors only of its own shapes. */
import { describe, expect, it } from 'vitest'
import { embedding, indices, linear, reshape, size, tensor, withTensors, zeros } from '../src/index.js'

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
})
