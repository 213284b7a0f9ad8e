/** Optimizers: they refuse gradients and state of another size, and a configuration rebuilds the optimizer it describes. */
import { describe, expect, it } from 'vitest'
import { adamW, learningRateAt, type Named, type OptimizerConfig, optimizerFrom, referenceKernels, sgd, tensor } from '../src/index.js'

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

/**
 * torch.optim.AdamW written out from its documentation, in float64 with the
 * parameters and moments stored in float32 after each update: t = step + 1,
 * p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
 * p ← p − lr·(m / (1 − β₁ᵗ)) / (sqrt(v / (1 − β₂ᵗ)) + ε).
 */
const adamWByHand = (
  p: number[], grads: number[][], lrs: number[], [beta1, beta2]: readonly [number, number], eps: number, weightDecay: number,
): number[] => {
  const f = Math.fround
  let [x, m, v] = [p.map(f), p.map(() => 0), p.map(() => 0)]
  grads.forEach((g, step) => {
    const t = step + 1
    const lr = lrs[step]!
    m = m.map((mi, i) => f(beta1 * mi + (1 - beta1) * f(g[i]!)))
    v = v.map((vi, i) => f(beta2 * vi + (1 - beta2) * f(g[i]!) ** 2))
    x = x.map((xi, i) => f(xi * (1 - lr * weightDecay) - (lr * (m[i]! / (1 - beta1 ** t))) / (Math.sqrt(v[i]! / (1 - beta2 ** t)) + eps)))
  })
  return x
}

describe('optimizers, against hand computations', () => {
  const grads = [[0.3, -0.02, 1.5], [-0.1, 0.4, 1.2], [0.25, 0.0, -2], [0.05, -0.3, 0.7]]
  const run = (optimizer: ReturnType<typeof sgd>, start: number[]): number[] => {
    let p = params(start)
    let state = optimizer.init(p)
    for (const [step, g] of grads.entries()) {
      const before = state
      ;[p, state] = optimizer.update(p, params(g), state)
      expect(state.step).toBe(step + 1)
      expect(before.step).toBe(step)
    }
    return Array.from(p['w']!.data)
  }
  const close = (got: number[], want: number[]) => got.forEach((x, i) => expect(Math.abs(x - want[i]!), `element ${i}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(want[i]!))))

  it('AdamW with its defaults (β = 0.9, 0.999, ε = 1e-8, λ = 0.01) over four steps of changing gradients', () => {
    const lrs = [0.05, 0.05, 0.05, 0.05]
    close(run(adamW({ lr: 0.05, totalSteps: 10, decayAt: 1, decay: 1 }), [0.5, -1, 2]), adamWByHand([0.5, -1, 2], grads, lrs, [0.9, 0.999], 1e-8, 0.01))
  })

  it('AdamW with its own betas, eps and weight decay, on a step schedule that decays mid-run', () => {
    const schedule = { lr: 0.1, totalSteps: 4, decayAt: 0.5, decay: 0.1 }
    const lrs = [0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]
    const got = run(adamW(schedule, { betas: [0.7, 0.9], eps: 0.05, weightDecay: 0.5 }), [0.5, -1, 2])
    close(got, adamWByHand([0.5, -1, 2], grads, lrs, [0.7, 0.9], 0.05, 0.5))
  })

  it('SGD: p − lr·g at each step, with the schedule\'s rate', () => {
    const schedule = { lr: 0.2, totalSteps: 4, decayAt: 0.5, decay: 0.25 }
    let want = [0.5, -1, 2]
    grads.forEach((g, step) => { want = want.map((x, i) => Math.fround(x - (step < 2 ? 0.2 : 0.05) * Math.fround(g[i]!))) })
    close(run(sgd(schedule), [0.5, -1, 2]), want)
  })

  it('start from an empty state (SGD) or zero moments shaped as the parameters (AdamW)', () => {
    const p: Named = { w: tensor([2, 3], new Float32Array(6).fill(1)), b: tensor([3], new Float32Array(3).fill(2)) }
    expect(sgd(schedule).init(p)).toEqual({ step: 0, slots: {} })
    expect(sgd(schedule).slotNames).toEqual([])
    const adam = adamW(schedule)
    expect(adam.slotNames).toEqual(['m', 'v'])
    const state = adam.init(p)
    expect(state.step).toBe(0)
    expect(Object.keys(state.slots)).toEqual(['m', 'v'])
    for (const slot of ['m', 'v']) {
      expect(Object.keys(state.slots[slot]!)).toEqual(['w', 'b'])
      expect(state.slots[slot]!['w']!.shape).toEqual([2, 3])
      expect(state.slots[slot]!['b']!.shape).toEqual([3])
      expect(Array.from(state.slots[slot]!['w']!.data)).toEqual([0, 0, 0, 0, 0, 0])
    }
    // The update keeps the state's shapes and names.
    const [, next] = adam.update(p, { w: tensor([2, 3], new Float32Array(6).fill(0.5)), b: tensor([3], new Float32Array(3)) }, state)
    expect(next.slots['m']!['w']!.shape).toEqual([2, 3])
    expect(Array.from(next.slots['m']!['w']!.data)).toEqual(new Array(6).fill(Math.fround(0.1 * 0.5)))
    expect(Array.from(next.slots['v']!['b']!.data)).toEqual([0, 0, 0])
  })

  it('AdamW in place refuses to run without its two slots', () => {
    const adam = adamW(schedule)
    const buffer = () => new Float32Array(3)
    expect(() => adam.updateInPlace(referenceKernels, 0, buffer(), buffer(), [buffer()], 3)).toThrow('AdamW needs its m and v slots')
    expect(() => adam.updateInPlace(referenceKernels, 0, buffer(), buffer(), [], 3)).toThrow('AdamW needs its m and v slots')
    expect(() => adam.updateInPlace(referenceKernels, 0, buffer(), buffer(), [undefined, buffer()] as unknown as Float32Array[], 3)).toThrow('AdamW needs its m and v slots')
  })

  it('the cosine schedule stays at lr·decay after its last step, and the step schedule switches exactly at decayAt·totalSteps', () => {
    const cosine = learningRateAt({ lr: 2, totalSteps: 10, decayAt: 0.5, decay: 0.1, shape: 'cosine' })
    expect(cosine(0)).toBe(2)
    expect(cosine(5)).toBeCloseTo(2 * (0.1 + 0.9 / 2), 14)
    expect(cosine(10)).toBeCloseTo(0.2, 14)
    expect(cosine(15)).toBeCloseTo(0.2, 14)
    expect(cosine(20)).toBeCloseTo(0.2, 14)
    const step = learningRateAt({ lr: 2, totalSteps: 10, decayAt: 0.5, decay: 0.1 })
    expect([4, 5, 6].map(step)).toEqual([2, 2 * 0.1, 2 * 0.1])
  })
})
