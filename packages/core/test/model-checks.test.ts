/**
 * The model constructors' checks and messages, the order of the checkpoint
 * names, and the shapes modelForward accepts.
 */
import { describe, expect, it } from 'vitest'
import {
  describeConfig, flatMlp, indices, modelForward, parameterCount, parameters, referenceKernels as k, trainableParameters, wavenet, withParameters, zeros,
} from '../src/index.js'

const lecture = { vocab: 5, levels: 2, embedding: 3, hidden: 4, seed: 1 }
const mlp = { vocab: 5, context: 3, embedding: 2, hidden: 4, seed: 1 }

describe('model constructors', () => {
  it('wavenet refuses sizes that are not positive whole numbers, naming the size, and a group size below 2', () => {
    for (const name of ['vocab', 'levels', 'embedding', 'hidden'] as const) {
      for (const value of [0, -1, 2.5]) {
        expect(() => wavenet({ ...lecture, [name]: value })).toThrow(new RangeError(`${name} must be a positive integer, got ${value}`))
      }
    }
    for (const groupSize of [1, 0, 2.5]) {
      expect(() => wavenet({ ...lecture, groupSize })).toThrow(new RangeError(`groupSize must be an integer of at least 2, got ${groupSize}`))
    }
    expect(wavenet({ ...lecture, vocab: 1, levels: 1, embedding: 1, hidden: 1 }).config).toEqual({ kind: 'wavenet', vocab: 1, levels: 1, groupSize: 2, embedding: 1, hidden: 1 })
    expect(wavenet({ ...lecture, groupSize: 3 }).config).toMatchObject({ kind: 'wavenet', groupSize: 3 })
  })

  it('flatMlp refuses sizes that are not positive whole numbers, naming the size', () => {
    for (const name of ['vocab', 'context', 'embedding', 'hidden'] as const) {
      expect(() => flatMlp({ ...mlp, [name]: 0 })).toThrow(new RangeError(`${name} must be a positive integer, got 0`))
      expect(() => flatMlp({ ...mlp, [name]: 1.5 })).toThrow(new RangeError(`${name} must be a positive integer, got 1.5`))
    }
    expect(flatMlp(mlp).config).toEqual({ kind: 'mlp', vocab: 5, context: 3, embedding: 2, hidden: 4 })
  })

  it('records flags only when they are set', () => {
    const config = wavenet({ ...lecture, residual: false, skip: false }).config!
    expect('residual' in config || 'skip' in config).toBe(false)
    expect(wavenet({ ...lecture, residual: true }).config).toEqual({ kind: 'wavenet', vocab: 5, levels: 2, groupSize: 2, embedding: 3, hidden: 4, residual: true })
    expect(wavenet({ ...lecture, skip: true }).config).toEqual({ kind: 'wavenet', vocab: 5, levels: 2, groupSize: 2, embedding: 3, hidden: 4, skip: true })
  })

  it("describes the flat MLP as the lecture's layers, named hidden.*", () => {
    expect(describeConfig({ kind: 'mlp', vocab: 5, context: 3, embedding: 2, hidden: 4 })).toEqual({
      kind: 'sequential',
      names: ['embedding', 'hidden.flatten', 'hidden.linear', 'hidden.norm', 'hidden.tanh', 'head'],
      layers: [
        { kind: 'embedding', vocab: 5, dim: 2 },
        { kind: 'flatten', n: 3 },
        { kind: 'linear', in: 6, out: 4, bias: false },
        { kind: 'batchnorm', dim: 4, eps: 1e-5, momentum: 0.1 },
        { kind: 'tanh' },
        { kind: 'linear', in: 4, out: 5, bias: true },
      ],
    })
  })
})

describe('model tensors', () => {
  it('lists every tensor in layer order, each layer\'s parameters before its buffers', () => {
    expect(Object.keys(parameters(flatMlp(mlp)))).toEqual([
      'embedding.weight', 'hidden.linear.weight', 'hidden.norm.weight', 'hidden.norm.bias', 'hidden.norm.running_mean', 'hidden.norm.running_var',
      'head.weight', 'head.bias',
    ])
    expect(Object.keys(trainableParameters(flatMlp(mlp)))).toEqual([
      'embedding.weight', 'hidden.linear.weight', 'hidden.norm.weight', 'hidden.norm.bias', 'head.weight', 'head.bias',
    ])
    const model = flatMlp(mlp)
    expect(parameters(model)['hidden.norm.running_var']).toBe(model.net.layers[3]!.kind === 'batchnorm' ? model.net.layers[3]!.runningVar : undefined)
    // 5·2 + 6·4 + 4 + 4 + 4·5 + 5 trainable scalars.
    expect(parameterCount(model)).toBe(10 + 24 + 8 + 20 + 5)
  })

  it('replaces tensors by checkpoint name, keeping the recipe', () => {
    const model = flatMlp(mlp)
    const bias = zeros([5])
    const replaced = withParameters(model, { 'head.bias': bias })
    expect(trainableParameters(replaced)['head.bias']).toBe(bias)
    expect(replaced.config).toBe(model.config)
    expect(trainableParameters(replaced)['head.weight']).toBe(trainableParameters(model)['head.weight'])
  })
})

describe('modelForward', () => {
  it('takes contexts (B, receptive field) only, and gives the model back unchanged in eval mode', () => {
    const model = wavenet(lecture)
    expect(() => modelForward(k, model, indices([2, 3], new Int32Array(6)), 'eval')).toThrow(new RangeError('contexts must be (B, 4), got [2, 3]'))
    expect(() => modelForward(k, model, indices([8], new Int32Array(8)), 'eval')).toThrow(new RangeError('contexts must be (B, 4), got [8]'))
    expect(() => modelForward(k, model, indices([1, 2, 4], new Int32Array(8)), 'eval')).toThrow(new RangeError('contexts must be (B, 4), got [1, 2, 4]'))
    const out = modelForward(k, model, indices([2, 4], Int32Array.of(0, 1, 2, 3, 4, 3, 2, 1)), 'eval')
    expect(out.y.shape).toEqual([2, 5])
    expect(out.layer).toBe(model)
    const trained = modelForward(k, model, indices([2, 4], Int32Array.of(0, 1, 2, 3, 4, 3, 2, 1)), 'train')
    expect(trained.layer).not.toBe(model)
    expect(trained.layer.config).toBe(model.config)
  })
})
