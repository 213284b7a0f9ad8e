/**
 * Compiles programs on a gpu.js context, once per key, and launches them.
 *
 * Plain JavaScript (type-checked through JSDoc) because the webgpu worker runs
 * it too, and a worker thread is loaded by Node itself: from `dist` after a
 * build, and straight from `src` under the test runner, which only transforms
 * the modules it imports on the main thread.
 */

/** @typedef {import('./gpujs.js').GpuJs} GpuJs */
/** @typedef {import('./gpujs.js').GpuJsKernel} GpuJsKernel */
/** @typedef {import('./gpujs.js').GpuJsModule} GpuJsModule */
/** @typedef {import('./gpujs.js').KernelResult} KernelResult */
/** @typedef {import('./programs.js').ProgramSpec} ProgramSpec */

/**
 * The kernels compiled on one gpu.js context, by program key. The cache
 * belongs to the context, so its keys need not name the mode.
 */
export class KernelHost {
  /** @type {Map<string, { kernel: GpuJsKernel, inputs: ProgramSpec['inputs'] }>} */
  #compiled = new Map()
  #gpu
  #input

  /**
   * @param {GpuJs} gpu
   * @param {GpuJsModule['input']} input
   */
  constructor(gpu, input) {
    this.#gpu = gpu
    this.#input = input
  }

  /** Number of kernels compiled so far. */
  get compiled() {
    return this.#compiled.size
  }

  /** @param {string} key */
  has(key) {
    return this.#compiled.has(key)
  }

  /** @param {ProgramSpec} spec */
  compile(spec) {
    this.#compiled.set(spec.key, { kernel: this.#gpu.createKernel(spec.source, spec.settings), inputs: spec.inputs })
  }

  /**
   * Runs the compiled program `key` on `args` (flat float32 arrays, one per
   * input of its spec). Synchronous except on webgpu.
   * @param {string} key
   * @param {readonly Float32Array[]} args
   * @returns {KernelResult | Promise<KernelResult>}
   */
  launch(key, args) {
    const program = this.#compiled.get(key)
    if (program === undefined) throw new Error(`${key} is not compiled`)
    const shaped = args.map((arg, i) => {
      const size = program.inputs[i]
      if (size === undefined) throw new RangeError(`${key}: ${args.length} arguments for ${program.inputs.length} inputs`)
      return size.length === 1 ? arg : this.#input(arg, size)
    })
    return program.kernel(...shaped)
  }
}

/**
 * Copies a kernel's result into the flat row-major `out`: one copy when the
 * rows are consecutive views of one buffer (webasm, webgpu), one per row
 * otherwise (cpu, headlessgl).
 * @param {KernelResult} result
 * @param {Float32Array} out
 */
export const copyResult = (result, out) => {
  if (result instanceof Float32Array) {
    out.set(result)
    return
  }
  const first = result[0]
  const last = result[result.length - 1]
  if (first === undefined || last === undefined) return
  const cols = first.length
  if (last.buffer === first.buffer && last.byteOffset === first.byteOffset + (result.length - 1) * cols * 4) {
    out.set(new Float32Array(first.buffer, first.byteOffset, result.length * cols))
    return
  }
  result.forEach((row, i) => out.set(row, i * cols))
}
