// In-place updates of parameters and running statistics. The arithmetic is
// float64 and each stored value is rounded once to float32, exactly as the
// reference kernels evaluate the same expressions in JavaScript numbers and
// store them into a Float32Array: the results agree bit for bit. Values move
// two at a time: two float32 loaded into the low half of a v128 and widened
// to an f64x2 (exact), then narrowed back and stored, which measured faster
// than widening both halves of an f32x4 (the high half needs a shuffle).

/** The two float32 at `at`, as an f64x2. */
// @ts-ignore: decorator
@inline
function loadPair(at: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(at))
}

/** An f64x2 rounded to two float32, stored at `at`. */
// @ts-ignore: decorator
@inline
function storePair(at: usize, v: v128): void {
  v128.store64_lane(at, f32x4.demote_f64x2_zero(v), 0)
}

/** params[i] ← params[i] − lr·grads[i] over n values. */
export function sgdUpdate(params: usize, grads: usize, lr: f64, n: i32): void {
  const rate = f64x2.splat(lr)
  let i = 0
  // Four values per iteration: two independent pairs.
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * 4
    const p0 = f64x2.sub(loadPair(params + at), f64x2.mul(rate, loadPair(grads + at)))
    const p1 = f64x2.sub(loadPair(params + at + 8), f64x2.mul(rate, loadPair(grads + at + 8)))
    storePair(params + at, p0)
    storePair(params + at + 8, p1)
  }
  for (; i < n; i++) {
    const at = <usize>i * 4
    store<f32>(params + at, <f32>(<f64>load<f32>(params + at) - lr * <f64>load<f32>(grads + at)))
  }
}

/**
 * AdamW over n values: m ← β₁m + (1 − β₁)g and v ← β₂v + ((1 − β₂)g)g, each
 * rounded to float32 and used rounded, then
 * params ← params·decay − (lr·(m / c1)) / (sqrt(v / c2) + eps).
 */
export function adamwUpdate(
  params: usize, grads: usize, m: usize, v: usize, n: i32,
  lr: f64, beta1: f64, beta2: f64, eps: f64, decay: f64, c1: f64, c2: f64,
): void {
  let i = 0
  for (; i + 2 <= n; i += 2) {
    const at = <usize>i * 4
    const g = loadPair(grads + at)
    storePair(m + at, momentUpdate(beta1, loadPair(m + at), g, false))
    storePair(v + at, momentUpdate(beta2, loadPair(v + at), g, true))
    storePair(params + at, adamwStep(loadPair(params + at), loadPair(m + at), loadPair(v + at), lr, eps, decay, c1, c2))
  }
  if (i < n) {
    const at = <usize>i * 4
    const g = f64x2.splat(<f64>load<f32>(grads + at))
    store<f32>(m + at, <f32>f64x2.extract_lane(momentUpdate(beta1, f64x2.splat(<f64>load<f32>(m + at)), g, false), 0))
    store<f32>(v + at, <f32>f64x2.extract_lane(momentUpdate(beta2, f64x2.splat(<f64>load<f32>(v + at)), g, true), 0))
    const p = f64x2.splat(<f64>load<f32>(params + at))
    const next = adamwStep(p, f64x2.splat(<f64>load<f32>(m + at)), f64x2.splat(<f64>load<f32>(v + at)), lr, eps, decay, c1, c2)
    store<f32>(params + at, <f32>f64x2.extract_lane(next, 0))
  }
}

/** β·moment + (1 − β)·g, or β·moment + ((1 − β)·g)·g when `squared`, in float64. */
// @ts-ignore: decorator
@inline
function momentUpdate(beta: f64, moment: v128, g: v128, squared: bool): v128 {
  const fresh = f64x2.mul(f64x2.splat(1 - beta), g)
  return f64x2.add(f64x2.mul(f64x2.splat(beta), moment), squared ? f64x2.mul(fresh, g) : fresh)
}

/** p·decay − (lr·(m / c1)) / (sqrt(v / c2) + eps), in float64. */
// @ts-ignore: decorator
@inline
function adamwStep(p: v128, m: v128, v: v128, lr: f64, eps: f64, decay: f64, c1: f64, c2: f64): v128 {
  const rise = f64x2.mul(f64x2.splat(lr), f64x2.div(m, f64x2.splat(c1)))
  const run = f64x2.add(f64x2.sqrt(f64x2.div(v, f64x2.splat(c2))), f64x2.splat(eps))
  return f64x2.sub(f64x2.mul(p, f64x2.splat(decay)), f64x2.div(rise, run))
}

/** out[j] = keep·running[j] + weight·batch[j] over n values (a moving average); out may be running. */
export function movingAverage(running: usize, batch: usize, out: usize, keep: f64, weight: f64, n: i32): void {
  for (let j = 0; j < n; j++) {
    const at = <usize>j * 4
    store<f32>(out + at, <f32>(keep * <f64>load<f32>(running + at) + weight * <f64>load<f32>(batch + at)))
  }
}
