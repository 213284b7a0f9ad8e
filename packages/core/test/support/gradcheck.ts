/**
 * Central finite differences in float64, and the relative error the gradient
 * properties bound: ‖g − g_fd‖ / max(‖g‖, ‖g_fd‖, NOISE / TOLERANCE).
 */
import { expect } from 'vitest'
import {
  layerParameters, type Model, normals, type PackedSequence, referenceKernels, seeded, sequenceGradients, type Tensor, withTensors,
} from '../../src/index.js'

/**
 * The derivative by the five-point central difference
 * D(h) = (8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h, whose error is
 * c·h⁴ + O(h⁶), refined by Richardson extrapolation (16·D(h) − D(2h)) / 15,
 * whose error is O(h⁶). With h = 1e-4 truncation stays far below the
 * tolerance even where a batchnorm over a few close values curves sharply,
 * and rounding contributes about 1e-16·|f|/h ≈ 1e-12·|f|.
 */
const H = 1e-4

/** The numerical gradient of `f` with respect to every element of `x` (which it perturbs and restores). */
export const numericalGradient = (f: () => number, x: Float64Array): Float64Array => {
  const g = new Float64Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!
    const at = (offset: number): number => {
      x[i] = saved + offset
      return f()
    }
    const fivePoint = (h: number): number => (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)
    g[i] = (16 * fivePoint(H) - fivePoint(2 * H)) / 15
    x[i] = saved
  }
  return g
}

const norm = (v: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!
  return Math.sqrt(s)
}

/** The bound every gradient property asserts. */
export const TOLERANCE = 1e-6

/**
 * The finite differences' own rounding: about 1e-16·|f|/h ≈ 1e-12 per
 * evaluation for losses near 1, which the five-point and Richardson weights
 * multiply to a few 1e-12 per element. A gradient whose norm is below
 * NOISE / TOLERANCE = 1e-5 cannot be resolved to TOLERANCE relatively, so it
 * is held to NOISE absolutely. Batchnorm makes such gradients: over a batch
 * of three rows, two of them equal (dropout zeroed both), the normalized
 * column no longer depends on the weights before it, and their true
 * gradient is near zero (5e-7, with 1.6e-12 of rounding, in the case that
 * failed).
 */
const NOISE = 1e-11

export const relativeError = (g: ArrayLike<number>, gfd: ArrayLike<number>): number => {
  const diff = Float64Array.from({ length: g.length }, (_, i) => g[i]! - gfd[i]!)
  return norm(diff) / Math.max(norm(g), norm(gfd), NOISE / TOLERANCE)
}

/** A float64 tensor of N(0, 1)·scale values from a seed. */
export const randomTensor = (seed: number, shape: readonly number[], scale = 1): Tensor<Float64Array> => {
  const n = shape.reduce((a, b) => a * b, 1)
  const [values] = normals(seeded(seed), n)
  return { shape: [...shape], data: values.map((v) => v * scale) }
}

/** Σ y·r: a scalar whose gradient with respect to y is r, to check a layer through any dy. */
export const project = (y: Tensor, r: Tensor): number => {
  let s = 0
  for (let i = 0; i < y.data.length; i++) s += y.data[i]! * r.data[i]!
  return s
}

/** Expects the sequence view's gradient of every parameter (training mode, reference kernels) to agree with float64 central differences of its loss. */
export const expectSequenceGradients = (model: Model, packed: PackedSequence): void => {
  const { grads } = sequenceGradients(referenceKernels, model, packed)
  for (const [name, p] of Object.entries(layerParameters(model.net))) {
    const data = Float64Array.from(p.data)
    const perturbed: Model = { net: withTensors(model.net, { [name]: { shape: p.shape, data } }) }
    const numeric = numericalGradient(() => sequenceGradients(referenceKernels, perturbed, packed).loss, data)
    expect(relativeError(grads[name]!.data, numeric), `relative error of the gradient of ${name}`).toBeLessThan(TOLERANCE)
  }
}
