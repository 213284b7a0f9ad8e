/** The checks shared by the decoders of untrusted JSON: what an object is, how deep a value nests, and when two values are the same. */
import { describe, expect, it } from 'vitest'
import { isJsonObject, jsonDepth, sameJson } from '../src/json.js'

describe('JSON checks', () => {
  it('an object is neither null nor an array', () => {
    expect(isJsonObject({})).toBe(true)
    expect(isJsonObject({ a: [1] })).toBe(true)
    for (const value of [null, [], [1], 'x', 1, true, undefined]) expect(isJsonObject(value), JSON.stringify(value)).toBe(false)
  })

  it('depth: a scalar or an empty container is 1, and each level of nesting adds 1', () => {
    expect(jsonDepth(1)).toBe(1)
    expect(jsonDepth('text')).toBe(1)
    expect(jsonDepth(null)).toBe(1)
    expect(jsonDepth([])).toBe(1)
    expect(jsonDepth({})).toBe(1)
    expect(jsonDepth([1])).toBe(2)
    expect(jsonDepth([[1]])).toBe(3)
    expect(jsonDepth({ a: { b: [null] } })).toBe(4)
    // The deepest branch counts, wherever it is.
    expect(jsonDepth([1, [2, [3, [4]]], { a: 1 }])).toBe(5)
    expect(jsonDepth({ a: { b: { c: { d: 1 } } }, e: 1 })).toBe(5)
    // Without recursion: a nesting far deeper than the stack allows is measured.
    let deep: unknown = 0
    for (let i = 0; i < 50_000; i++) deep = [deep]
    expect(jsonDepth(deep)).toBe(50_001)
  })

  it('sameness: the same structure and values, whatever the order of object keys', () => {
    expect(sameJson({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true)
    expect(sameJson([1, 2], [1, 2])).toBe(true)
    expect(sameJson(null, null)).toBe(true)
    expect(sameJson('x', 'x')).toBe(true)
    expect(sameJson({}, {})).toBe(true)
    expect(sameJson([], [])).toBe(true)
    const different: [unknown, unknown][] = [
      [[1, 2], [2, 1]], [[1, 2], [1, 2, 3]], [[1, 2, 3], [1, 2]], [{ a: 1 }, { a: 2 }], [{ a: 1 }, { a: 1, b: 2 }], [{ a: 1, b: 2 }, { a: 1 }],
      [{ a: 1 }, { b: 1 }], [{ a: undefined }, { b: undefined }], [[1], { 0: 1 }], [{ 0: 1 }, [1]], [{}, []], [[], {}], [null, {}], [{}, null],
      [1, '1'], [{ a: [1] }, { a: [2] }], [{ a: { b: 1 } }, { a: { b: 2 } }], [[[1]], [[2]]],
    ]
    for (const [a, b] of different) expect(sameJson(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(false)
  })
})
