import { describe, expect, it } from 'vitest'
import { run } from './hand-built.js'

describe('examples/hand-built', () => {
  it('trains a hand-composed model with the core API and samples words of its alphabet', () => {
    const { losses, words } = run()
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    // From about ln(9) ≈ 2.2 at the start to well under it after 400 steps.
    expect(mean(losses.slice(0, 20))).toBeGreaterThan(1.9)
    expect(mean(losses.slice(-50))).toBeLessThan(1.5)
    expect(words).toHaveLength(10)
    expect(words.every((w) => /^[abdehlnopitv]*$/.test(w))).toBe(true)
  })
})
