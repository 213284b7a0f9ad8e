// Vectorised float32 tanh and exp, accurate to a few ulp.

/** |x| beyond which float32 tanh(x) rounds to ±(1 − 2⁻²⁴) or closer to ±1. */
const TANH_CLAMP: f32 = 7.90531110763549805
/** Below this |x|, tanh(x) = x − x³/3 + … rounds to x in float32. */
const TANH_TINY: f32 = 0.0004

/**
 * tanh(x) = x·P(x²)/Q(x²) for |x| ≤ 7.9053, a [13/6] rational minimax fit
 * (the coefficients Eigen uses for float32), clamped beyond: tanh(7.9053) is
 * within 3·10⁻⁷ of 1. Tiny |x| returns x itself so the relative error stays
 * at float32 rounding where the fit's constant terms would dominate.
 *
 * The clamps are pmin/pmax (b < a ? b : a), one instruction each on x64,
 * where min/max's rules for NaN and signed zeros cost V8 about eight: with
 * finite nonzero bounds they agree with min/max, and NaN still comes out NaN.
 */
// @ts-ignore: decorator
@inline
export function tanh4(x: v128): v128 {
  const c = f32x4.splat(TANH_CLAMP)
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.neg(c)), c)
  const x2 = f32x4.mul(xc, xc)
  let p = f32x4.splat(-2.76076847742355e-16)
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.00018790482477e-13))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-8.60467152213735e-11))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(5.12229709037114e-8))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(1.48572235717979e-5))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(6.37261928875436e-4))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(4.89352455891786e-3))
  p = f32x4.mul(p, xc)
  let q = f32x4.splat(1.19825839466702e-6)
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(1.18534705686654e-4))
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(2.26843463243900e-3))
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(4.89352518554385e-3))
  const tiny = f32x4.lt(f32x4.abs(x), f32x4.splat(TANH_TINY))
  return v128.bitselect(x, f32x4.div(p, q), tiny)
}

/** Below this, e^x is under the smallest normal float32 and 2ⁿ would underflow. */
const EXP_MIN: f32 = -87.33654
const LOG2E: f32 = 1.44269504088896341
/** ln 2 split in two so that n·LN2_HI is exact for |n| ≤ 2⁹. */
const LN2_HI: f32 = 0.693359375
const LN2_LO: f32 = -2.12194440e-4

/**
 * e^x for x ≤ 88 (softmax feeds x − max ≤ 0). Range reduction
 * x = n·ln 2 + r with n = round(x / ln 2), |r| ≤ ln 2 / 2, then
 * e^r ≈ 1 + r + r²·P(r) with Cephes' degree-5 minimax P, and 2ⁿ built in the
 * exponent bits. Below EXP_MIN the result is 0: e^x is under the smallest
 * normal float32 there (1.2·10⁻³⁸), and 2ⁿ could not be built. NaN stays NaN.
 */
// @ts-ignore: decorator
@inline
export function exp4(x: v128): v128 {
  // pmax as in tanh4: the same result, cheaper.
  const xc = f32x4.pmax(x, f32x4.splat(EXP_MIN))
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)))
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)))
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)))
  let p = f32x4.splat(1.9875691500e-4)
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1))
  const er = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1))
  const twoN = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23)
  return v128.andnot(f32x4.mul(er, twoN), f32x4.lt(x, f32x4.splat(EXP_MIN)))
}
