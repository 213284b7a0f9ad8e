// Softmax cross-entropy over the rows of a rows×cols matrix of logits.

import { exp4 } from './math'

/** Σ of the 4 lanes of an f32x4, in float64. */
// @ts-ignore: decorator
@inline
function sumLanes(v: v128): f64 {
  const lo = f64x2.promote_low_f32x4(v)
  const s = f64x2.add(lo, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)))
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1)
}

/**
 * probs[i, :] = softmax(logits[i, :]) and the mean over rows of
 * −log softmax(logits[i, :])[targets[i]] = log Σ_j e^(l_j − max) − (l_t − max).
 * The exponentials are float32, their sum and the logarithm float64.
 */
export function softmaxCrossEntropy(logits: usize, targets: usize, probs: usize, rows: i32, cols: i32): f64 {
  const rowBytes = <usize>cols * 4
  let total: f64 = 0
  for (let i = 0; i < rows; i++) {
    const l = logits + <usize>i * rowBytes
    const p = probs + <usize>i * rowBytes
    let max4 = f32x4.splat(-Infinity)
    let j = 0
    for (; j + 4 <= cols; j += 4) max4 = f32x4.max(max4, v128.load(l + <usize>j * 4))
    let top = max(max(f32x4.extract_lane(max4, 0), f32x4.extract_lane(max4, 1)), max(f32x4.extract_lane(max4, 2), f32x4.extract_lane(max4, 3)))
    for (; j < cols; j++) top = max(top, load<f32>(l + <usize>j * 4))
    const shift = f32x4.splat(top)
    let sum: f64 = 0
    j = 0
    for (; j + 4 <= cols; j += 4) {
      const e = exp4(f32x4.sub(v128.load(l + <usize>j * 4), shift))
      v128.store(p + <usize>j * 4, e)
      sum += sumLanes(e)
    }
    for (; j < cols; j++) {
      const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(l + <usize>j * 4) - top)), 0)
      store<f32>(p + <usize>j * 4, e)
      sum += <f64>e
    }
    const sum4 = f32x4.splat(<f32>sum)
    j = 0
    for (; j + 4 <= cols; j += 4) v128.store(p + <usize>j * 4, f32x4.div(v128.load(p + <usize>j * 4), sum4))
    for (; j < cols; j++) store<f32>(p + <usize>j * 4, load<f32>(p + <usize>j * 4) / <f32>sum)
    const target = <usize>load<i32>(targets + <usize>i * 4)
    total += Math.log(sum) - (<f64>load<f32>(l + target * 4) - <f64>top)
  }
  return total / <f64>rows
}

/** dlogits = scale · (probs − onehot(targets)). */
export function softmaxCrossEntropyBackward(
  probs: usize, targets: usize, scale: f64, dlogits: usize, rows: i32, cols: i32,
): void {
  const s = <f32>scale
  const s4 = f32x4.splat(s)
  const rowBytes = <usize>cols * 4
  for (let i = 0; i < rows; i++) {
    const p = probs + <usize>i * rowBytes
    const d = dlogits + <usize>i * rowBytes
    let j = 0
    for (; j + 4 <= cols; j += 4) v128.store(d + <usize>j * 4, f32x4.mul(s4, v128.load(p + <usize>j * 4)))
    for (; j < cols; j++) store<f32>(d + <usize>j * 4, s * load<f32>(p + <usize>j * 4))
    const t = d + <usize>load<i32>(targets + <usize>i * 4) * 4
    store<f32>(t, <f32>(<f64>load<f32>(t) - scale))
  }
}
