/** Optimizers: they refuse gradients and state of another size, and a configuration rebuilds the optimizer it describes. */
import { describe, expect, it } from 'vitest'
import { adamW, type Named, type OptimizerConfig, optimizerFrom, sgd, tensor } from '../src/index.js'

const schedule = { lr: 0.05, totalSteps: 10, decayAt: 0.5, decay: 0.1 }
const params = (values: number[]): Named => ({ w: tensor([values.length], Float32Array.from(values)) })
const bits = (named: Named): number[] => Array.from(new Uint32Array(Float32Array.from(named['w']!.data).buffer))

describe('optimizers', () => {
  it('refuse a missing gradient, a gradient of another size, and state of another size', () => {
    const p = params([1, 2, 3])
    for (const optimizer of [sgd(schedule), adamW(schedule)]) {
      const state = optimizer.init(p)
      expect(() => optimizer.update(p, {}, state)).toThrow('no gradient of the right size for w')
      expect(() => optimizer.update(p, params([1, 2]), state)).toThrow('no gradient of the right size for w')
      expect(() => optimizer.update(p, params([1, 2, 3, 4]), state)).toThrow('no gradient of the right size for w')
    }
    const adam = adamW(schedule)
    const state = adam.init(p)
    expect(() => adam.update(p, params([1, 1, 1]), { ...state, slots: { ...state.slots, m: params([0, 0]) } })).toThrow('no AdamW state m for w')
    expect(() => adam.update(p, params([1, 1, 1]), { ...state, slots: { m: state.slots['m']! } })).toThrow('no AdamW state v for w')
  })

  it('are rebuilt from their configuration (what a checkpoint records): the same updates, bit for bit', () => {
    const configs: OptimizerConfig[] = [
      { kind: 'sgd', ...schedule },
      { kind: 'sgd', ...schedule, shape: 'cosine' },
      { kind: 'adamw', ...schedule, betas: [0.8, 0.95], eps: 1e-3, weightDecay: 0.3 },
      { kind: 'adamw', ...schedule, shape: 'cosine', betas: [0.5, 0.9], eps: 1e-6, weightDecay: 0 },
    ]
    for (const config of configs) {
      const rebuilt = optimizerFrom(config)
      const direct = config.kind === 'sgd' ? sgd(config) : adamW(config, config)
      expect(rebuilt.name).toBe(config.kind)
      expect(rebuilt.slotNames).toEqual(direct.slotNames)
      let [a, b] = [params([0.5, -1, 2]), params([0.5, -1, 2])]
      let [sa, sb] = [rebuilt.init(a), direct.init(b)]
      for (let step = 0; step < 8; step++) {
        const g = params([0.1 * step - 0.3, 0.7, -0.2 * step])
        ;[a, sa] = rebuilt.update(a, g, sa)
        ;[b, sb] = direct.update(b, g, sb)
        expect(bits(a)).toEqual(bits(b))
        expect(rebuilt.learningRate(step)).toBe(direct.learningRate(step))
      }
      // And the settings matter: other betas, eps or decay give other values.
      if (config.kind === 'adamw') {
        const plain = adamW(config)
        let [c, sc] = [params([0.5, -1, 2]), plain.init(params([0.5, -1, 2]))]
        for (let step = 0; step < 8; step++) [c, sc] = plain.update(c, params([0.1 * step - 0.3, 0.7, -0.2 * step]), sc)
        expect(bits(c)).not.toEqual(bits(a))
      }
    }
  })
})
