/**
 * Layers described by their kind and sizes: describe, parse, tensorShapes and
 * build round-trip every layer kind (nested Sequentials too) bit-exactly;
 * parse refuses every damaged description; the shape rules agree with what
 * forward computes.
 */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  buildLayer, describeLayer, flatMlp, forward, inputSteps, layerBuffers, layerParameters, linear, MAX_DESCRIPTION_DEPTH,
  MAX_PARAMETERS, outputShape, parseLayer, referenceKernels as k, sequential, tanh, tensorShapes, wavenet, zeros,
  type Layer,
} from '../src/index.js'
import { snapshot } from './support/layers.js'
import { nestedStackCase, stackCase } from './support/stacks.js'

const RUNS = { numRuns: 100 }

const anyStack = fc.oneof(stackCase, nestedStackCase)

const shapesOf = (layer: Layer): Record<string, readonly number[]> =>
  Object.fromEntries(Object.entries({ ...layerParameters(layer), ...layerBuffers(layer) }).map(([name, t]) => [name, t.shape]))

/** Every layer description in a tree, the root first. */
const nodes = (d: Record<string, unknown>): Record<string, unknown>[] =>
  [d, ...(Array.isArray(d['layers']) ? (d['layers'] as Record<string, unknown>[]).flatMap(nodes) : [])]

/** Values each field must refuse. */
const invalid: Record<string, readonly unknown[]> = {
  vocab: [0, -1, 1.5, '3', null, 2 ** 40], dim: [0, -2, 2.5, '4', null, 2 ** 40], n: [0, -1, 0.5, '2', null, 2 ** 30],
  in: [0, -3, 3.5, '3', null, 2 ** 40], out: [0, -3, 3.5, '3', null, 2 ** 40], bias: [1, 'true', null],
  eps: [0, -1e-5, '1e-5', null], momentum: [-0.1, 1.5, '0.1', null],
  p: [-0.1, 1, 1.5, '0.1', null], salt: [-1, 0.5, 2 ** 31, '2', null],
  names: ['a', [1, 2], null], layers: [{}, 'x', null],
}

describe('layer descriptions', () => {
  it('round-trip every layer of random stacks, nested ones too: describe, JSON, parse, tensorShapes, build', () => {
    fc.assert(
      fc.property(anyStack, ({ stack }) => {
        const description = describeLayer(stack)
        const parsed = parseLayer(JSON.parse(JSON.stringify(description)))
        expect(parsed).toEqual(E.right(description))
        expect(tensorShapes(description)).toEqual(shapesOf(stack))
        const rebuilt = buildLayer(description, { ...layerParameters(stack), ...layerBuffers(stack) })
        expect(snapshot(rebuilt)).toEqual(snapshot(stack))
        expect(describeLayer(rebuilt)).toEqual(description)
      }),
      RUNS,
    )
  })

  it('refuses any damaged description, whatever layer of the tree is damaged', () => {
    const damage = fc.record({ pick: fc.nat(), field: fc.nat(), value: fc.nat(), how: fc.constantFrom('value', 'drop', 'extra', 'kind') })
    fc.assert(
      fc.property(anyStack, damage, ({ stack }, { pick, field, value, how }) => {
        const description = JSON.parse(JSON.stringify(describeLayer(stack))) as Record<string, unknown>
        const all = nodes(description)
        const node = all[pick % all.length]!
        const fields = Object.keys(node).filter((key) => key !== 'kind')
        if (how === 'value' && fields.length > 0) {
          const name = fields[field % fields.length]!
          const bad = invalid[name]!
          node[name] = bad[value % bad.length]
        } else if (how === 'drop' && fields.length > 0) {
          delete node[fields[field % fields.length]!]
        } else if (how === 'kind') {
          node['kind'] = ['conv', 'Linear', null, 7][value % 4]
        } else {
          node['extra'] = 1
        }
        expect(E.isLeft(parseLayer(description))).toBe(true)
      }),
      RUNS,
    )
  })

  it('says what is wrong, and where', () => {
    const bad = (json: unknown): string => E.match((e: string) => e, () => 'accepted')(parseLayer(json))
    expect(bad({ kind: 'linear', in: 0, out: 3, bias: true })).toMatch(/linear: in must be a whole number from 1/)
    expect(bad({ kind: 'conv', size: 3 })).toMatch(/unknown layer kind "conv"/)
    expect(bad({ kind: 'tanh', slope: 2 })).toMatch(/tanh: unknown field "slope"/)
    expect(bad({ kind: 'dropout', p: 1, salt: 0 })).toMatch(/dropout: p must be a number from 0 up to \(not including\) 1, got 1/)
    expect(bad({ kind: 'dropout', p: 0.1, salt: -1 })).toMatch(/dropout: salt must be a whole number/)
    expect(bad({ kind: 'sequential', names: ['a', 'b'], layers: [{ kind: 'tanh' }, { kind: 'flatten' }] }))
      .toMatch(/layer "b": flatten: missing field "n"/)
    expect(bad({ kind: 'sequential', names: ['a', 'a'], layers: [{ kind: 'tanh' }, { kind: 'tanh' }] })).toMatch(/distinct/)
    expect(bad({ kind: 'sequential', names: ['a', 'a.b'], layers: [{ kind: 'tanh' }, { kind: 'tanh' }] })).toMatch(/followed by a dot/)
  })

  it('refuses absurd sizes before anything is allocated', () => {
    const side = 2 ** 15
    expect(side * side).toBeGreaterThan(MAX_PARAMETERS)
    expect(E.isLeft(parseLayer({ kind: 'linear', in: side, out: side, bias: false }))).toBe(true)
    // Each layer fits, the two together do not.
    const half = { kind: 'linear', in: 2 ** 14, out: 2 ** 13 + 1, bias: false }
    expect(E.isRight(parseLayer(half))).toBe(true)
    const both = parseLayer({ kind: 'sequential', names: ['a', 'b'], layers: [half, half] })
    expect(E.isLeft(both) && both.left).toMatch(/more than 268435456/)
  })

  it('refuses descriptions nested too deeply, without exhausting the stack', () => {
    let json: unknown = { kind: 'tanh' }
    for (let i = 0; i < 100_000; i++) json = { kind: 'sequential', names: ['x'], layers: [json] }
    const parsed = parseLayer(json)
    expect(E.isLeft(parsed) && parsed.left).toMatch(new RegExp(`deeper than ${MAX_DESCRIPTION_DEPTH}`))
  })

  it('names layers as sequential() does: a name and that name followed by a dot cannot both be taken', () => {
    expect(() => sequential([tanh(), tanh()], ['a', 'a.b'])).toThrow(/followed by a dot/)
    expect(() => sequential([tanh()], [''])).toThrow(/empty/)
    expect(() => sequential([tanh(), tanh()], ['fuse.0.linear', 'fuse.0.norm'])).not.toThrow()
  })
})

describe('shape rules', () => {
  it("outputShape is the shape forward gives, and inputSteps(net, 1) the stack's time axis", () => {
    fc.assert(
      fc.property(anyStack, ({ stack, x, mode }) => {
        expect(outputShape(stack, x.shape)).toEqual(forward(k, stack, x, mode).y.shape)
        expect(inputSteps(stack, 1)).toBe(x.shape[1])
      }),
      RUNS,
    )
  })

  it('names the layer that cannot take its input', () => {
    const net = wavenet({ vocab: 5, levels: 2, embedding: 3, hidden: 4, seed: 1 }).net
    expect(() => outputShape(net, [1, 6])).toThrow(/layer "fuse\.1\.flatten": flatten\(2\): time axis 3 is not a multiple of 2/)
    const nested = sequential([sequential([linear(zeros([2, 3]), null)], ['inner'])], ['outer'])
    expect(() => outputShape(nested, [4, 5])).toThrow(/layer "outer": layer "inner": linear\(3 → 2\) got input \[4, 5\]/)
  })

  it("gives the constructors' receptive fields", () => {
    expect(inputSteps(wavenet({ vocab: 5, levels: 3, groupSize: 3, embedding: 2, hidden: 2, seed: 1 }).net, 1)).toBe(27)
    expect(inputSteps(flatMlp({ vocab: 5, context: 7, embedding: 2, hidden: 2, seed: 1 }).net, 1)).toBe(7)
    expect(inputSteps(tanh(), 5)).toBe(5)
  })
})
