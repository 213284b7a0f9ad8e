/**
 * Tensors: a shape and row-major data, never mutated once returned.
 *
 * The element type is a parameter so that the same layer code runs in float32
 * (training) and float64 (finite-difference gradient checks).
 */

/** The floating-point element arrays a tensor may hold. */
export type FloatArray = Float32Array | Float64Array

/** A row-major tensor. `data.length` is the product of `shape`. */
export interface Tensor<D extends FloatArray = FloatArray> {
  readonly shape: readonly number[]
  readonly data: D
}

/** Integer indices (token ids, targets) with a shape, row-major. */
export interface IndexTensor {
  readonly shape: readonly number[]
  readonly data: Int32Array
}

/** Number of elements of a shape: the product of its dimensions (1 for a scalar). */
export const size = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1)

/** A tensor over existing data; checks that the data fills the shape. */
export const tensor = <D extends FloatArray>(shape: readonly number[], data: D): Tensor<D> => {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`invalid shape [${shape.join(', ')}]`)
  }
  if (size(shape) !== data.length) {
    throw new RangeError(`shape [${shape.join(', ')}] needs ${size(shape)} elements, data has ${data.length}`)
  }
  return { shape: [...shape], data }
}

/** A float32 tensor of zeros. */
export const zeros = (shape: readonly number[]): Tensor<Float32Array> => tensor(shape, new Float32Array(size(shape)))

/** An index tensor over existing ids. */
export const indices = (shape: readonly number[], data: Int32Array): IndexTensor => {
  if (size(shape) !== data.length) {
    throw new RangeError(`shape [${shape.join(', ')}] needs ${size(shape)} indices, data has ${data.length}`)
  }
  return { shape: [...shape], data }
}

/** A new, zero-filled array of the same element type as `like`. */
export const allocLike = <D extends FloatArray>(like: D, n: number): D =>
  (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as D

/** A deep copy, in the same precision. */
export const clone = <D extends FloatArray>(t: Tensor<D>): Tensor<D> => ({ shape: [...t.shape], data: t.data.slice() as D })

/** The same values converted to float64 (for gradient checks). */
export const toFloat64 = (t: Tensor): Tensor<Float64Array> => ({ shape: [...t.shape], data: Float64Array.from(t.data) })

/** The same values rounded to float32. */
export const toFloat32 = (t: Tensor): Tensor<Float32Array> => ({ shape: [...t.shape], data: Float32Array.from(t.data) })

/** The same data seen with another shape of equal size (no copy: tensors are immutable). */
export const reshape = <D extends FloatArray>(t: Tensor<D>, shape: readonly number[]): Tensor<D> => tensor(shape, t.data)
