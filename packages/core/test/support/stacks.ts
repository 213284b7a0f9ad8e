/**
 * Random Sequential stacks of every layer kind ending in a head for the loss,
 * with their inputs: shared by the gradient and purity properties.
 */
import fc from 'fast-check'
import {
  batchNorm1d, dropout, embedding, flattenConsecutive, linear, sequential, tanh, withTensors,
  type Activation, type IndexTensor, type Layer, type Mode, type Sequential,
} from '../../src/index.js'
import { randomTensor } from './gradcheck.js'
import { toFloat32Layer, toFloat64Layer } from './layers.js'

export const ids = (values: readonly number[], shape: readonly number[]): IndexTensor => ({ shape, data: Int32Array.from(values) })

/**
 * A random stack is a sequence of blocks, each ending in a nonlinearity (or a
 * flatten), so that every batchnorm sees a linear without bias of at least two
 * inputs, a tanh output, or the stack's input, as in the lecture. The rule
 * avoids parameters whose gradient is identically (or nearly) zero, which no
 * relative error can check: batchnorm removes any per-channel shift and scale
 * of its input, so a bias (or a batchnorm's β) reaching it through affine
 * layers alone has a zero gradient, and so has a weight row of one entry
 * (nearly, through a tanh in its linear range). Hence every width is at
 * least 2.
 */
type Block =
  | { readonly op: 'dense'; readonly width: number; readonly bias: boolean }
  | { readonly op: 'norm'; readonly width: number }
  | { readonly op: 'dropout'; readonly p: number }
  | { readonly op: 'batchnorm' | 'tanh' | 'flatten' }

const block: fc.Arbitrary<Block> = fc.oneof(
  fc.record({ op: fc.constant('dense' as const), width: fc.integer({ min: 2, max: 5 }), bias: fc.boolean() }),
  fc.record({ op: fc.constant('norm' as const), width: fc.integer({ min: 2, max: 5 }) }),
  fc.record({ op: fc.constant('dropout' as const), p: fc.constantFrom(0, 0.25, 0.5) }),
  fc.record({ op: fc.constantFrom('batchnorm' as const, 'tanh' as const, 'flatten' as const) }),
)

/**
 * Builds the layers of the blocks over a (B, T, C) input; returns them with
 * the output's time axis (0 once flattened away) and width.
 */
const build = (blocks: readonly Block[], t: number, c: number, s: number): { layers: Layer[]; t: number; c: number } => {
  const layers: Layer[] = []
  let time = t
  let width = c
  const dense = (out: number, seed: number, bias: boolean): Layer =>
    linear(randomTensor(seed, [out, width], 1 / Math.sqrt(width)), bias ? randomTensor(-seed, [out], 0.1) : null)
  const norm = (seed: number): Layer => {
    const gamma = randomTensor(seed, [width], 0.5)
    return withTensors(batchNorm1d(width), {
      weight: { shape: gamma.shape, data: gamma.data.map((v) => 1 + v) },
      bias: randomTensor(seed + 1, [width], 0.1),
    })
  }
  blocks.forEach((b, i) => {
    const seed = s + 10 * i
    if (b.op === 'dense') {
      layers.push(dense(b.width, seed, b.bias), tanh())
      width = b.width
    } else if (b.op === 'norm') {
      layers.push(dense(b.width, seed, false))
      width = b.width
      layers.push(norm(seed + 2), tanh())
    } else if (b.op === 'batchnorm') {
      layers.push(norm(seed), tanh())
    } else if (b.op === 'tanh') {
      layers.push(tanh())
    } else if (b.op === 'dropout') {
      layers.push(tanh(), dropout(b.p, i))
    } else if (b.op === 'flatten' && time > 1) {
      layers.push(flattenConsecutive(2))
      time = time === 2 ? 0 : time / 2
      width *= 2
    }
  })
  return { layers, t: time, c: width }
}

export interface StackCase {
  readonly stack: Sequential
  readonly x: Activation
  readonly targets: IndexTensor
  readonly mode: Mode
}

export const stackCase: fc.Arbitrary<StackCase> = fc
  .record({
    // At least 3 rows: with 2, a batchnorm's output is ±1 whatever its input, its input
    // gradient exists only through eps (≈1e-10 after two of them) and a finite
    // difference would measure rounding noise, not the gradient.
    b: fc.integer({ min: 3, max: 5 }),
    t: fc.constantFrom(1, 2, 4),
    c: fc.integer({ min: 2, max: 5 }),
    blocks: fc.array(block, { maxLength: 5 }),
    classes: fc.integer({ min: 4, max: 6 }),
    embed: fc.boolean(),
    training: fc.boolean(),
    s: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ b, t, c, blocks, classes, embed, training, s }) => {
    const front: Layer[] = embed ? [embedding(randomTensor(s, [classes + 1, c]))] : []
    const body = build(blocks, t, c, s + 1)
    // Flatten what remains of the time axis so the head sees (B, C).
    const tail: Layer[] = body.t > 0 ? [flattenConsecutive(body.t)] : []
    const headIn = body.c * Math.max(body.t, 1)
    const head = linear(randomTensor(s + 2, [classes, headIn], 1 / Math.sqrt(headIn)), randomTensor(s + 3, [classes], 0.1))
    // Token (i, p) = s + i + 2p mod vocab: with B ≤ vocab every position holds distinct
    // tokens across the batch, so no batchnorm channel sees a constant.
    const x = embed
      ? ids(Array.from({ length: b * t }, (_, j) => (s + Math.floor(j / t) + 2 * (j % t)) % (classes + 1)), [b, t])
      : randomTensor(s + 4, [b, t, c])
    const targets = ids(Array.from({ length: b }, (_, i) => (s + i) % classes), [b])
    // Training takes a step's seed, which the dropout layers draw their masks from.
    const mode: Mode = training ? { seed: ids([s], [1]) } : 'eval'
    return { stack: toFloat64Layer(sequential([...front, ...body.layers, ...tail, head])), x, targets, mode }
  })

export interface NetworkCase {
  /** A float32 network from token ids (B, context) to logits (B, vocab). */
  readonly net: Sequential
  readonly vocab: number
  readonly context: number
}

/**
 * Random networks of every layer kind for training on token ids, in float32:
 * an embedding, random blocks (some of them nested in a Sequential of their
 * own), a flatten of what remains of the time axis and a head.
 */
export const networkCase: fc.Arbitrary<NetworkCase> = fc
  .record({
    context: fc.constantFrom(1, 2, 4),
    c: fc.integer({ min: 2, max: 5 }),
    blocks: fc.array(block, { maxLength: 5 }),
    vocab: fc.integer({ min: 2, max: 7 }),
    nest: fc.nat(),
    s: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ context, c, blocks, vocab, nest, s }) => {
    const body = build(blocks, context, c, s + 1)
    const cut = body.layers.length === 0 ? 0 : nest % (body.layers.length + 1)
    const layers: Layer[] = [
      embedding(randomTensor(s, [vocab, c])),
      ...body.layers.slice(0, cut),
      ...(cut < body.layers.length ? [sequential(body.layers.slice(cut), body.layers.slice(cut).map((_, i) => `inner${i}`))] : []),
      ...(body.t > 0 ? [flattenConsecutive(body.t)] : []),
      linear(randomTensor(s + 2, [vocab, body.c * Math.max(body.t, 1)], 0.5), randomTensor(s + 3, [vocab], 0.1)),
    ]
    return { net: toFloat32Layer(sequential(layers)), vocab, context }
  })

/**
 * A random stack with runs of its layers grouped into nested Sequentials
 * (some nested twice) under dotted names: the same function of its input,
 * but with tensor names three levels deep (`b.1.0.weight`).
 */
export const nestedStackCase: fc.Arbitrary<StackCase> = fc
  .record({ base: stackCase, runs: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 8 }), deeper: fc.boolean() })
  .map(({ base, runs, deeper }) => {
    const groups: Layer[] = []
    const layers = base.stack.layers
    for (let at = 0, i = 0; at < layers.length; i++) {
      const run = runs[i % Math.max(runs.length, 1)] ?? 1
      const chunk = layers.slice(at, at + run)
      groups.push(chunk.length === 1 ? chunk[0]! : sequential(chunk))
      at += run
    }
    const half = Math.ceil(groups.length / 2)
    const outer = deeper && groups.length > 1 ? [sequential(groups.slice(0, half)), ...groups.slice(half)] : groups
    return { ...base, stack: sequential(outer, outer.map((_, i) => `b.${i}`)) }
  })
