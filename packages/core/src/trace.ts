/**
 * Recording kernels: `Kernels` that compute nothing and list every call made
 * to them instead, so that a pure computation run once on them (a training
 * step's forward, loss and backward) becomes a program of kernel calls that
 * a backend can optimise and replay on fixed buffers (jax-js's `jit`). The
 * layers' control flow depends on shapes, never on values, so one recording
 * holds for every batch of the same shapes.
 */
import { type KernelName, kernelNames, type Kernels } from './kernels/kernels.js'
import type { FloatArray } from './tensor.js'

/** One recorded kernel call: the kernel's name and its arguments, arrays by identity. */
export interface Call {
  readonly kernel: string
  readonly args: readonly unknown[]
}

export interface Recording {
  /** The kernels to run the computation on. */
  readonly kernels: Kernels
  /** The calls made so far, in order. */
  readonly calls: readonly Call[]
  /** The arrays `alloc` handed out: placeholders for the buffers a replay places. */
  readonly temporaries: ReadonlySet<ArrayBufferView>
  /** The indices of the calls whose returned value the computation received (e.g. a loss). */
  readonly valued: readonly number[]
}

/** Kernels whose calls return a value. */
const returnsValue: ReadonlySet<KernelName> = new Set(['softmaxCrossEntropy'])

/**
 * New recording kernels. `alloc` gives zero-filled float32 placeholders (a
 * float64 request is an error: the replayed kernels are float32), so code
 * that reads values it did not compute (ids to check) still runs; the value
 * of a kernel that returns one is NaN.
 */
export const recorder = (): Recording => {
  const calls: Call[] = []
  const temporaries = new Set<ArrayBufferView>()
  const valued: number[] = []
  const record = (kernel: KernelName) => (...args: unknown[]): number | undefined => {
    calls.push({ kernel, args })
    if (!returnsValue.has(kernel)) return undefined
    valued.push(calls.length - 1)
    return Number.NaN
  }
  const kernels = {
    ...(Object.fromEntries(kernelNames.map((kernel) => [kernel, record(kernel)])) as unknown as Omit<Kernels, 'name' | 'alloc' | 'scope'>),
    name: 'recorder',
    alloc<D extends FloatArray>(like: D, n: number): D {
      if (!(like instanceof Float32Array)) throw new TypeError('a recorded computation runs in float32 only')
      const placeholder = new Float32Array(n)
      temporaries.add(placeholder)
      return placeholder as D
    },
    scope: <A>(f: () => A): A => f(),
  } satisfies Kernels
  return { kernels, calls, temporaries, valued }
}
