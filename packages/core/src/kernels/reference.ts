/**
 * The plain-TypeScript kernels: the oracle every other backend is tested
 * against. Written for clarity over speed; they work in either precision.
 */
import { allocLike } from '../tensor.js'
import { dropoutKeeps, type Kernels } from './kernels.js'

export const referenceKernels: Kernels = {
  name: 'js',

  alloc: allocLike,

  // Ordinary arrays: the garbage collector reclaims them.
  scope: (f) => f(),

  matmul(m, n, k, a, transA, b, transB, c, accumulate) {
    // i-p-j loop order: the innermost loop walks rows of B and C contiguously
    // when B is not transposed.
    if (!accumulate) c.fill(0, 0, m * n)
    for (let i = 0; i < m; i++) {
      const ci = i * n
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * m + i]! : a[i * k + p]!
        if (transB) {
          for (let j = 0; j < n; j++) c[ci + j]! += aip * b[j * k + p]!
        } else {
          const bp = p * n
          for (let j = 0; j < n; j++) c[ci + j]! += aip * b[bp + j]!
        }
      }
    }
  },

  broadcastRows(v, out, rows, cols) {
    for (let i = 0; i < rows; i++) out.set(v.subarray(0, cols), i * cols)
  },

  sumRows(x, out, rows, cols) {
    out.fill(0, 0, cols)
    for (let i = 0; i < rows; i++) {
      const xi = i * cols
      for (let j = 0; j < cols; j++) out[j]! += x[xi + j]!
    }
  },

  tanhForward(x, y, n) {
    for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!)
  },

  tanhBackward(y, dy, dx, n) {
    for (let i = 0; i < n; i++) {
      const yi = y[i]!
      dx[i] = dy[i]! * (1 - yi * yi)
    }
  },

  dropout(x, seed, y, n, salt, p) {
    const keeps = dropoutKeeps(seed[0]!, salt, p)
    const scale = Math.fround(1 / (1 - p))
    for (let i = 0; i < n; i++) y[i] = keeps(i) ? x[i]! * scale : 0
  },

  gather(table, ids, out, count, dim) {
    for (let i = 0; i < count; i++) {
      const row = ids[i]!
      out.set(table.subarray(row * dim, row * dim + dim), i * dim)
    }
  },

  addStrided(src, srcStride, srcOffset, dst, dstStride, dstOffset, rows, cols, accumulate) {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        const at = r * dstStride + dstOffset + j
        dst[at] = (accumulate ? dst[at]! : 0) + src[r * srcStride + srcOffset + j]!
      }
    }
  },

  scatterRows(x, ids, table, count, dim) {
    for (let i = 0; i < count; i++) table.set(x.subarray(i * dim, i * dim + dim), ids[i]! * dim)
  },

  scatterAdd(dy, ids, dTable, count, dim, rows) {
    dTable.fill(0, 0, rows * dim)
    for (let i = 0; i < count; i++) {
      const row = ids[i]! * dim
      const src = i * dim
      for (let j = 0; j < dim; j++) dTable[row + j]! += dy[src + j]!
    }
  },

  columnMoments(x, mean, variance, rows, cols) {
    // Two passes (mean, then squared deviations): no cancellation.
    mean.fill(0, 0, cols)
    variance.fill(0, 0, cols)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j]! += x[i * cols + j]!
    for (let j = 0; j < cols; j++) mean[j]! /= rows
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const d = x[i * cols + j]! - mean[j]!
        variance[j]! += d * d
      }
    }
    for (let j = 0; j < cols; j++) variance[j]! /= rows
  },

  normalize(x, mean, variance, gamma, beta, eps, xhat, y, rows, cols) {
    for (let j = 0; j < cols; j++) {
      const s = 1 / Math.sqrt(variance[j]! + eps)
      for (let i = 0; i < rows; i++) {
        const at = i * cols + j
        const h = (x[at]! - mean[j]!) * s
        xhat[at] = h
        y[at] = gamma[j]! * h + beta[j]!
      }
    }
  },

  normalizeBackward(dy, xhat, variance, gamma, eps, batchStatistics, dx, dgamma, dbeta, rows, cols) {
    for (let j = 0; j < cols; j++) {
      let sumDy = 0
      let sumDyXhat = 0
      for (let i = 0; i < rows; i++) {
        const at = i * cols + j
        sumDy += dy[at]!
        sumDyXhat += dy[at]! * xhat[at]!
      }
      dgamma[j] = sumDyXhat
      dbeta[j] = sumDy
      const gs = gamma[j]! / Math.sqrt(variance[j]! + eps)
      for (let i = 0; i < rows; i++) {
        const at = i * cols + j
        dx[at] = batchStatistics
          ? (gs / rows) * (rows * dy[at]! - sumDy - xhat[at]! * sumDyXhat)
          : gs * dy[at]!
      }
    }
  },

  softmaxCrossEntropy(logits, targets, probs, rows, cols) {
    let total = 0
    for (let i = 0; i < rows; i++) {
      const r = i * cols
      let max = -Infinity
      for (let j = 0; j < cols; j++) max = Math.max(max, logits[r + j]!)
      let sum = 0
      for (let j = 0; j < cols; j++) {
        const e = Math.exp(logits[r + j]! - max)
        probs[r + j] = e
        sum += e
      }
      for (let j = 0; j < cols; j++) probs[r + j]! /= sum
      // −log softmax = log Σ exp(l − max) − (l_target − max)
      total += Math.log(sum) - (logits[r + targets[i]!]! - max)
    }
    return total / rows
  },

  softmaxCrossEntropyBackward(probs, targets, scale, dlogits, rows, cols) {
    for (let i = 0; i < rows; i++) {
      const r = i * cols
      for (let j = 0; j < cols; j++) dlogits[r + j] = scale * probs[r + j]!
      dlogits[r + targets[i]!]! -= scale
    }
  },

  sgdUpdate(params, grads, lr, n) {
    for (let i = 0; i < n; i++) params[i] = params[i]! - lr * grads[i]!
  },

  adamwUpdate(params, grads, m, v, n, lr, beta1, beta2, eps, decay, c1, c2) {
    for (let i = 0; i < n; i++) {
      const g = grads[i]!
      m[i] = beta1 * m[i]! + (1 - beta1) * g
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g
      params[i] = params[i]! * decay - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps)
    }
  },

  movingAverage(running, batch, out, keep, weight, n) {
    for (let j = 0; j < n; j++) out[j] = keep * running[j]! + weight * batch[j]!
  },
}
