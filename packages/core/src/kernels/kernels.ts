/**
 * The numeric primitives that dominate the cost of a training step.
 *
 * Destination-passing style: every primitive writes into an output buffer it is
 * given and returns nothing (except reductions that produce a scalar). Buffers
 * are plain typed arrays, so a backend whose memory lives elsewhere (a
 * WebAssembly memory, a GPU) can hand out views of its own memory through
 * `alloc` and recognise them when they come back, without the layers changing.
 *
 * Matrices are row-major. Unless a doc says otherwise, an output is fully
 * overwritten (its previous contents are never read).
 */
import type { FloatArray } from '../tensor.js'

export interface Kernels {
  /** Name reported to users, e.g. `js` or `wasm`. */
  readonly name: string

  /**
   * A buffer of `n` elements of the same precision as `like`. Its contents are
   * unspecified: kernels that write it overwrite it completely.
   */
  alloc<D extends FloatArray>(like: D, n: number): D

  /**
   * C = op(A) · op(B), or C += op(A) · op(B) when `accumulate`.
   * C is m×n; op(A) is m×k (A is stored k×m when `transA`); op(B) is k×n (B is
   * stored n×k when `transB`).
   */
  matmul(
    m: number, n: number, k: number,
    a: FloatArray, transA: boolean,
    b: FloatArray, transB: boolean,
    c: FloatArray, accumulate: boolean,
  ): void

  /** Every row of the rows×cols matrix `out` set to the vector `v` (cols). */
  broadcastRows(v: FloatArray, out: FloatArray, rows: number, cols: number): void

  /** out[j] = Σ_i x[i, j] over a rows×cols matrix (a bias gradient). */
  sumRows(x: FloatArray, out: FloatArray, rows: number, cols: number): void

  /** y = tanh(x), elementwise over n values. */
  tanhForward(x: FloatArray, y: FloatArray, n: number): void

  /** dx = dy · (1 − y²), the derivative of tanh written with its output y. */
  tanhBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, n: number): void

  /**
   * Dropout's mask over n values: y[i] = x[i] · s where i is kept, else 0,
   * with s = 1/(1 − p) rounded to float32 (then y[i] is rounded once to the
   * buffer's precision, so every backend gives the same bits). Whether i is
   * kept follows from the step's seed (`seed[0]`), the layer's salt and i
   * alone, through `dropoutKeeps`: a counter-based integer hash, so the
   * gradient (the same call on dy) recomputes the mask.
   */
  dropout(x: FloatArray, seed: Int32Array, y: FloatArray, n: number, salt: number, p: number): void

  /** out[i, :] = table[ids[i], :] for count ids; table rows have `dim` values. */
  gather(table: FloatArray, ids: Int32Array, out: FloatArray, count: number, dim: number): void

  /**
   * dst[r·dstStride + dstOffset + j] = (accumulate ? that : 0) +
   * src[r·srcStride + srcOffset + j], for rows r and cols j (strides and
   * offsets in elements): a block of columns of one matrix added to, or
   * copied into, a block of another (a residual connection's input, a skip
   * connection's tap).
   */
  addStrided(
    src: FloatArray, srcStride: number, srcOffset: number, dst: FloatArray, dstStride: number, dstOffset: number,
    rows: number, cols: number, accumulate: boolean,
  ): void

  /**
   * table[ids[i], :] = x[i, :] for count ids, in order; the table's other
   * rows (of `rows`) keep their values. Rows written into a table read later
   * (a generator's queues of past nodes).
   */
  scatterRows(x: FloatArray, ids: Int32Array, table: FloatArray, count: number, dim: number, rows: number): void

  /**
   * dTable = Σ over i with ids[i] = r of dy[i, :], for every row r of a table
   * of `rows` rows (rows not indexed get zeros). The scatter-add that is
   * gather's gradient.
   */
  scatterAdd(dy: FloatArray, ids: Int32Array, dTable: FloatArray, count: number, dim: number, rows: number): void

  /**
   * Per-column batch statistics of a rows×cols matrix: mean[j] and the biased
   * variance var[j] = (1/rows) Σ_i (x[i, j] − mean[j])².
   */
  columnMoments(x: FloatArray, mean: FloatArray, variance: FloatArray, rows: number, cols: number): void

  /**
   * Normalise then scale and shift, per column j:
   * xhat = (x − mean[j]) / sqrt(var[j] + eps), y = gamma[j] · xhat + beta[j].
   * Writes both xhat (kept for backward) and y.
   */
  normalize(
    x: FloatArray, mean: FloatArray, variance: FloatArray, gamma: FloatArray, beta: FloatArray, eps: number,
    xhat: FloatArray, y: FloatArray, rows: number, cols: number,
  ): void

  /**
   * Gradient of `normalize`, per column j with s = 1/sqrt(var[j] + eps), n = rows:
   * dgamma = Σ dy·xhat, dbeta = Σ dy, and
   * - batch statistics (training mode, mean and var are functions of x):
   *   dx = gamma·s/n · (n·dy − dbeta − xhat·dgamma);
   * - fixed statistics (eval mode): dx = gamma·s·dy.
   */
  normalizeBackward(
    dy: FloatArray, xhat: FloatArray, variance: FloatArray, gamma: FloatArray, eps: number, batchStatistics: boolean,
    dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray, rows: number, cols: number,
  ): void

  /**
   * Softmax of each row of a rows×cols matrix of logits into `probs`, and the
   * mean over rows of −log softmax(logits)[target]. Stable: each row is
   * shifted by its maximum before exponentiation.
   */
  softmaxCrossEntropy(logits: FloatArray, targets: Int32Array, probs: FloatArray, rows: number, cols: number): number

  /** dlogits = scale · (probs − onehot(targets)), the gradient of the mean loss times rows·scale. */
  softmaxCrossEntropyBackward(
    probs: FloatArray, targets: Int32Array, scale: number, dlogits: FloatArray, rows: number, cols: number,
  ): void

  // In-place updates. Unlike the kernels above, these read and overwrite their
  // first arguments. Each stored value is the float64 evaluation of the
  // formula, rounded once to the buffer's precision, so every backend gives the
  // same bits.

  /** SGD over n values: params ← params − lr·grads. */
  sgdUpdate(params: FloatArray, grads: FloatArray, lr: number, n: number): void

  /**
   * AdamW over n values, with the bias corrections c1 = 1 − β₁ᵗ, c2 = 1 − β₂ᵗ
   * and the weight decay factor decay = 1 − lr·λ given:
   * m ← β₁·m + (1 − β₁)·g; v ← β₂·v + ((1 − β₂)·g)·g (both stored, then used as stored);
   * params ← params·decay − (lr·(m / c1)) / (sqrt(v / c2) + eps).
   */
  adamwUpdate(
    params: FloatArray, grads: FloatArray, m: FloatArray, v: FloatArray, n: number,
    lr: number, beta1: number, beta2: number, eps: number, decay: number, c1: number, c2: number,
  ): void

  /**
   * A moving average over n values: out = keep·running + weight·batch
   * (batchnorm's running statistics). `out` may be `running` itself.
   */
  movingAverage(running: FloatArray, batch: FloatArray, out: FloatArray, keep: number, weight: number, n: number): void

  /**
   * Runs `f` and reclaims the working memory it allocated through `alloc`
   * (TensorFlow.js's `tidy`). What `f` returns is kept: any of its arrays
   * that live in that memory are copied out to ordinary arrays first, so a
   * value handed out is never overwritten later. Memory allocated before the
   * call is untouched.
   */
  scope<A>(f: () => A): A
}

/** The numeric kernels: every method of `Kernels` but `alloc` and `scope`. */
export type KernelName = Exclude<keyof Kernels, 'name' | 'alloc' | 'scope'>

/** The arguments of kernel `K`. */
export type KernelArgs<K extends KernelName> = Parameters<Kernels[K]>

/** How a kernel uses one of its array arguments. */
export type Use = 'in' | 'out' | 'inout'

/** An array argument of a kernel call: its position, name, the elements the kernel touches, and how. */
export interface ArrayArg {
  readonly at: number
  readonly name: string
  readonly count: number
  readonly use: Use
  /** For token ids and targets: every id read must lie in [0, bound). */
  readonly bound?: number
}

/** Dropout seeds are whole numbers in [0, SEED_BOUND): any non-negative int32. */
export const SEED_BOUND = 2 ** 31

/** lowbias32 (Chris Wellons' hash prospector): a bijection of 32-bit words whose every output bit depends on every input bit. */
const mix32 = (word: number): number => {
  let x = word ^ (word >>> 16)
  x = Math.imul(x, 0x21f0aaad)
  x ^= x >>> 15
  x = Math.imul(x, 0x735a2d97)
  return (x ^ (x >>> 15)) >>> 0
}

/**
 * Dropout's keep rule, which every backend implements bit for bit (the
 * WebAssembly kernel in `assembly/elementwise.ts`): with key =
 * mix32(seed ^ mix32(salt)), element i is kept when mix32(mix32(i) ^ key),
 * an unsigned 32-bit word, is at least ⌊p · 2^32⌋. Returns a test of i.
 */
export const dropoutKeeps = (seed: number, salt: number, p: number): ((i: number) => boolean) => {
  const key = mix32(seed ^ mix32(salt))
  const threshold = Math.floor(p * 2 ** 32)
  return (i) => mix32(mix32(i) ^ key) >= threshold
}

const arg = (at: number, name: string, count: number, use: Use, bound?: number): ArrayArg =>
  bound === undefined ? { at, name, count, use } : { at, name, count, use, bound }

/**
 * The array arguments of every kernel, from a call's arguments: what a
 * backend checks and stages, and what a recorded step's passes read to know
 * which call reads and writes which buffer.
 */
export const kernelArrays: { readonly [K in KernelName]: (...args: KernelArgs<K>) => readonly ArrayArg[] } = {
  matmul: (m, n, k, _a, _ta, _b, _tb, _c, accumulate) =>
    [arg(3, 'a', m * k, 'in'), arg(5, 'b', k * n, 'in'), arg(7, 'c', m * n, accumulate ? 'inout' : 'out')],
  broadcastRows: (_v, _out, rows, cols) => [arg(0, 'v', cols, 'in'), arg(1, 'out', rows * cols, 'out')],
  sumRows: (_x, _out, rows, cols) => [arg(0, 'x', rows * cols, 'in'), arg(1, 'out', cols, 'out')],
  tanhForward: (_x, _y, n) => [arg(0, 'x', n, 'in'), arg(1, 'y', n, 'out')],
  tanhBackward: (_y, _dy, _dx, n) => [arg(0, 'y', n, 'in'), arg(1, 'dy', n, 'in'), arg(2, 'dx', n, 'out')],
  dropout: (_x, _seed, _y, n) => [arg(0, 'x', n, 'in'), arg(1, 'seed', 1, 'in', SEED_BOUND), arg(2, 'y', n, 'out')],
  gather: (table, _ids, _out, count, dim) => {
    // With dim = 0 no row is read, so any id is harmless.
    const rows = dim === 0 ? 0 : Math.floor(table.length / dim)
    return [arg(0, 'table', rows * dim, 'in'), arg(1, 'ids', count, 'in', dim === 0 ? undefined : rows), arg(2, 'out', count * dim, 'out')]
  },
  addStrided: (_src, srcStride, srcOffset, _dst, dstStride, dstOffset, rows, cols, accumulate) => [
    arg(0, 'src', rows === 0 || cols === 0 ? 0 : (rows - 1) * srcStride + srcOffset + cols, 'in'),
    arg(3, 'dst', rows === 0 || cols === 0 ? 0 : (rows - 1) * dstStride + dstOffset + cols, accumulate ? 'inout' : 'out'),
  ],
  scatterRows: (_x, _ids, _table, count, dim, rows) =>
    [arg(0, 'x', count * dim, 'in'), arg(1, 'ids', count, 'in', dim === 0 ? undefined : rows), arg(2, 'table', rows * dim, 'inout')],
  scatterAdd: (_dy, _ids, _dTable, count, dim, rows) =>
    [arg(0, 'dy', count * dim, 'in'), arg(1, 'ids', count, 'in', dim === 0 ? undefined : rows), arg(2, 'dTable', rows * dim, 'out')],
  columnMoments: (_x, _mean, _variance, rows, cols) =>
    [arg(0, 'x', rows * cols, 'in'), arg(1, 'mean', cols, 'out'), arg(2, 'variance', cols, 'out')],
  normalize: (_x, _mean, _variance, _gamma, _beta, _eps, _xhat, _y, rows, cols) => [
    arg(0, 'x', rows * cols, 'in'), arg(1, 'mean', cols, 'in'), arg(2, 'variance', cols, 'in'), arg(3, 'gamma', cols, 'in'),
    arg(4, 'beta', cols, 'in'), arg(6, 'xhat', rows * cols, 'out'), arg(7, 'y', rows * cols, 'out'),
  ],
  normalizeBackward: (_dy, _xhat, _variance, _gamma, _eps, _batchStatistics, _dx, _dgamma, _dbeta, rows, cols) => [
    arg(0, 'dy', rows * cols, 'in'), arg(1, 'xhat', rows * cols, 'in'), arg(2, 'variance', cols, 'in'), arg(3, 'gamma', cols, 'in'),
    arg(6, 'dx', rows * cols, 'out'), arg(7, 'dgamma', cols, 'out'), arg(8, 'dbeta', cols, 'out'),
  ],
  softmaxCrossEntropy: (_logits, _targets, _probs, rows, cols) =>
    [arg(0, 'logits', rows * cols, 'in'), arg(1, 'targets', rows, 'in', cols), arg(2, 'probs', rows * cols, 'out')],
  softmaxCrossEntropyBackward: (_probs, _targets, _scale, _dlogits, rows, cols) =>
    [arg(0, 'probs', rows * cols, 'in'), arg(1, 'targets', rows, 'in', cols), arg(3, 'dlogits', rows * cols, 'out')],
  sgdUpdate: (_params, _grads, _lr, n) => [arg(0, 'params', n, 'inout'), arg(1, 'grads', n, 'in')],
  adamwUpdate: (_params, _grads, _m, _v, n) =>
    [arg(0, 'params', n, 'inout'), arg(1, 'grads', n, 'in'), arg(2, 'm', n, 'inout'), arg(3, 'v', n, 'inout')],
  movingAverage: (_running, _batch, _out, _keep, _weight, n) =>
    [arg(0, 'running', n, 'in'), arg(1, 'batch', n, 'in'), arg(2, 'out', n, 'out')],
}

/** Every kernel's name. */
export const kernelNames = Object.keys(kernelArrays) as readonly KernelName[]

/** The array arguments of a call of `kernel` with `args`. */
export const arraysOf = <K extends KernelName>(kernel: K, args: KernelArgs<K>): readonly ArrayArg[] =>
  (kernelArrays[kernel] as (...a: KernelArgs<K>) => readonly ArrayArg[])(...args)
