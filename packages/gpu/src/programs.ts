/**
 * The kernels, as gpu.js source text plus the settings to compile them with.
 *
 * A program is specialised to one shape: gpu.js compiles a kernel for fixed
 * output and argument sizes, and a shape-specific loop bound lets the GL
 * backends emit a constant loop. A spec is plain data (it crosses to the
 * webgpu worker by structured clone), keyed so that a compiled kernel is
 * reused for every later call of the same variant and shape.
 */
import type { GpuJsKernelSettings } from './gpujs.js'

/**
 * A kernel for one shape, named by its key; its spec is built only when the
 * key is not compiled yet.
 */
export interface Program {
  readonly key: string
  spec(): ProgramSpec
}

/** What compiling a program needs. */
export interface ProgramSpec {
  /** Variant and shape; equal keys mean the same compiled kernel. */
  readonly key: string
  /** A `function (…) { … }` in the JavaScript subset gpu.js translates. */
  readonly source: string
  readonly settings: GpuJsKernelSettings
  /**
   * Per argument, the size to view its flat array with: [length] passes the
   * array as it is, [cols, rows] wraps it as a row-major 2-D input.
   */
  readonly inputs: readonly (readonly number[])[]
}

const settings = (output: readonly number[], constants: Record<string, number>, loop: number): GpuJsKernelSettings => ({
  output,
  constants,
  loopMaxIterations: Math.max(loop, 1),
  precision: 'single',
  tactic: 'precision',
})

/**
 * C = op(A)·op(B) (+ C when `accumulate`), with the same meaning as
 * `Kernels.matmul`: C is m×n, op(A) is m×k (A stored k×m when `transA`),
 * op(B) is k×n (B stored n×k when `transB`).
 *
 * One thread per element of C, on a 2-D grid (x = column j, y = row i): 2-D
 * inputs index as a[row][col] without the integer division a 1-D thread would
 * need, which measured 1.4–2× faster. The loop over k is unrolled by four
 * (1.4× on webasm, 1.2× on cpu, no change on the GL backends), its remainder
 * written out with constant indices. Arguments: a, b, then c when
 * accumulating (C is read back in as an input; the result overwrites it).
 */
export const matmulProgram = (
  m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean,
): Program => {
  const key = `matmul:${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${accumulate ? '+' : '='}:${m}x${n}x${k}`
  const spec = (): ProgramSpec => {
    const term = (p: string): string =>
      `${transA ? `a[${p}][this.thread.y]` : `a[this.thread.y][${p}]`} * ${transB ? `b[this.thread.x][${p}]` : `b[${p}][this.thread.x]`}`
    const unrolled = k - (k % 4)
    const loop = unrolled === 0 ? '' : `
  for (let p = 0; p < this.constants.unrolled; p += 4) {
    sum += ${[0, 1, 2, 3].map((d) => term(d === 0 ? 'p' : `p + ${d}`)).join(' + ')};
  }`
    const remainder = Array.from({ length: k % 4 }, (_, d) => `
  sum += ${term(String(unrolled + d))};`).join('')
    const source = `function (a, b${accumulate ? ', c' : ''}) {
  let sum = 0;${loop}${remainder}
  return ${accumulate ? 'c[this.thread.y][this.thread.x] + sum' : 'sum'};
}`
    // [cols, rows] of a matrix of rows×cols, or of its transpose as stored.
    const stored = (trans: boolean, rows: number, cols: number): number[] => (trans ? [rows, cols] : [cols, rows])
    return {
      key,
      source,
      settings: settings([n, m], { unrolled }, unrolled),
      inputs: [stored(transA, m, k), stored(transB, k, n), ...(accumulate ? [[n, m]] : [])],
    }
  }
  return { key, spec }
}

/** A kernel over n values from `arity` arrays of n values, one thread per value. */
const elementwise = (key: string, n: number, arity: number, source: string): Program => ({
  key,
  spec: () => ({ key, source, settings: settings([n], {}, 0), inputs: Array.from({ length: arity }, () => [n]) }),
})

/**
 * y = tanh(x) over n values. The argument is clamped to ±15 first: the GL
 * backends compute tanh as (e^2x − 1)/(e^2x + 1), which overflows to ∞/∞ = NaN
 * past about 44, and float32 tanh already rounds to ±1 beyond about 9, so the
 * clamp changes no float32 result.
 */
export const tanhForwardProgram = (n: number): Program => elementwise(
  `tanh:${n}`, n, 1,
  `function (x) {
  return Math.tanh(Math.min(Math.max(x[this.thread.x], -15), 15));
}`,
)

/** dx = dy · (1 − y²) over n values, the derivative of tanh written with its output y. */
export const tanhBackwardProgram = (n: number): Program => elementwise(
  `tanhBackward:${n}`, n, 2,
  `function (y, dy) {
  const yi = y[this.thread.x];
  return dy[this.thread.x] * (1 - yi * yi);
}`,
)
