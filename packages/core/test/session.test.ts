/**
 * The lean session against the pure one, and the kernels it adds.
 *
 * Bit-identity. `leanSession` replays the WebAssembly kernel calls that the
 * pure step makes, recorded once, in the same order on the same values (the
 * fused kernels give the same bits as the pairs they fuse, in-place calls
 * the same bits as out-of-place ones, and the optimizer updates compute
 * exactly what the pure code computes), so N steps of a lean session equal N
 * steps of a `pureSession` over the same kernels bit for bit: losses,
 * parameters, running statistics and optimizer state, for any network.
 *
 * wasm against js. One whole training step (forward, loss, backward) on the
 * WebAssembly kernels against the reference kernels. Each kernel agrees with
 * its reference to within a few float32 roundings (u = 2⁻²⁴) of the
 * magnitude of its terms (wasm.test.ts); through the model those errors
 * compound, and where a gradient is a sum of terms that nearly cancel (a
 * bias's gradient, Σ over the batch of softmax − onehot) they are large
 * relative to the sum itself. Hence a normwise bound per gradient tensor,
 * ‖g_wasm − g_js‖ ≤ 2⁻¹⁰·‖g_js‖ (about 10⁻³, 2¹⁴·u), which holds with a
 * margin of 40 over 600 random configurations of the shapes drawn below (the
 * worst seen: 2.5·10⁻⁵, a head bias); on the lecture's model every tensor
 * agrees to 2⁻¹⁶ (1.5·10⁻⁵; seen: 1·10⁻⁶), and the loss to 10⁻⁶ relative
 * (seen: 10⁻⁸, as the softmax kernels promise). Batches of fewer than 4 rows
 * and widths below 4 are left out of that comparison: there a batchnorm's
 * output is nearly independent of its input (with 2 rows it is ±1 whatever
 * the input), so its gradients are rounding noise of size 10⁻⁷ that no
 * relative bound can judge. The bit-identity properties cover those sizes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  adamW, backward, batchLoss, createWasmKernels, leanWindowsSession, leanWordsSession, pureWindowsSession, pureWordsSession, crossEntropy, crossEntropyBackward, flatMlp, indices, integers, leanSession, logitsWidth,
  modelForward, parameters, pureSession, receptiveField, referenceKernels, seeded, sgd,
  trainableParameters, uniforms, wasmKernelsUnavailable, wavenet, withStepSeed,
  type Batch, type Kernels, type Model, type Optimizer, type OptimizerState, type TrainingSession, type WasmKernels, type WindowBatch, type WordBatch,
} from '../src/index.js'
import { wasmInternals } from '../src/kernels/wasm.js'
import { snapshot } from './support/layers.js'
import { networkCase } from './support/stacks.js'

const maybeWasm = createWasmKernels()
if (maybeWasm === undefined) throw new Error(`wasm kernels unavailable: ${wasmKernelsUnavailable()}`)
const wasm: WasmKernels = maybeWasm

/** A step's dropout seed, from a seed: models without dropout layers take it and ignore it. */
const stepSeed = (seed: number, i: number) => indices([1], Int32Array.of((seed * 7 + i) % 2 ** 31))

/** `count` batches of `size` random examples for `model`, from a seed, each with its dropout seed. */
const batches = (model: Model, size: number, count: number, seed: number): Batch[] => {
  const field = receptiveField(model)
  const vocab = logitsWidth(model)
  return Array.from({ length: count }, (_, i) => {
    const [contexts] = integers(seeded(seed + 2 * i), size * field, vocab)
    const [targets] = integers(seeded(seed + 2 * i + 1), size, vocab)
    return { contexts: indices([size, field], contexts), targets: indices([size], targets), seed: stepSeed(seed, i) }
  })
}

/** A step of a pure session: `trainStep` frees the wasm memory it used and returns plain arrays. */
const stepPure = (session: TrainingSession, batch: Batch): number => {
  const used = wasm.arena.usedBytes
  const loss = session.step(batch)
  expect(wasm.arena.usedBytes).toBe(used)
  return loss
}

/** What a session holds, as bytes: every model tensor (running statistics included) and the optimizer state. */
const held = <B>(session: TrainingSession<B>): unknown => {
  const { model, state } = session.snapshot()
  return snapshot({ tensors: parameters(model), state })
}

const modelArbitrary: fc.Arbitrary<Model> = fc.oneof(
  fc.record({
    vocab: fc.integer({ min: 2, max: 9 }),
    levels: fc.integer({ min: 1, max: 3 }),
    groupSize: fc.integer({ min: 2, max: 3 }),
    embedding: fc.integer({ min: 1, max: 7 }),
    hidden: fc.integer({ min: 1, max: 12 }),
    residual: fc.boolean(),
    skip: fc.boolean(),
    dropout: fc.constantFrom(0, 0.1, 0.5),
    seed: fc.nat(),
  }).map(wavenet),
  fc.record({
    vocab: fc.integer({ min: 2, max: 9 }),
    context: fc.integer({ min: 1, max: 6 }),
    embedding: fc.integer({ min: 1, max: 7 }),
    hidden: fc.integer({ min: 1, max: 12 }),
    seed: fc.nat(),
  }).map(flatMlp),
  // Hand-built networks of every layer kind, nested Sequentials included.
  networkCase.map(({ net }): Model => ({ net })),
)

/** SGD whose learning rate decays halfway through `steps`, or AdamW with its own decay. */
const optimizerArbitrary = (steps: number): fc.Arbitrary<Optimizer> => fc.oneof(
  fc.double({ min: 0.01, max: 0.5, noNaN: true }).map((lr) => sgd({ lr, totalSteps: steps, decayAt: 0.5, decay: 0.1 })),
  fc.record({ lr: fc.double({ min: 1e-3, max: 0.05, noNaN: true }), weightDecay: fc.constantFrom(0, 0.01, 0.1) })
    .map(({ lr, weightDecay }) => adamW({ lr, totalSteps: steps, decayAt: 0.5, decay: 0.3 }, { weightDecay })),
)

describe('leanSession equals pureSession on the same kernels, bit for bit', () => {
  it('for random models, batch sizes (odd ones too) and both optimizers: every loss and the final state', () => {
    fc.assert(
      fc.property(
        modelArbitrary, fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 5 }).chain((steps) =>
          fc.tuple(fc.constant(steps), optimizerArbitrary(steps))), fc.nat(),
        (model, size, [steps, optimizer], seed) => {
          const state = optimizer.init(trainableParameters(model))
          const lean = leanSession(wasm, model, optimizer, state, size)
          try {
            const pure = pureSession(wasm, model, optimizer, state)
            for (const batch of batches(model, size, steps, seed)) {
              expect(lean.step(batch)).toBe(stepPure(pure, batch))
            }
            expect(held(lean)).toEqual(held(pure))
            expect(lean.snapshot().state.step).toBe(steps)
          } finally {
            lean.dispose()
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it("on the lecture's model at batch 32, with the lecture's SGD decay reached within the run", () => {
    const model = wavenet({ vocab: 27, levels: 3, embedding: 24, hidden: 128, seed: 42 })
    const optimizer = sgd({ lr: 0.1, totalSteps: 8, decayAt: 0.75, decay: 0.1 })
    const state = optimizer.init(trainableParameters(model))
    const lean = leanSession(wasm, model, optimizer, state, 32)
    const pure = pureSession(wasm, model, optimizer, state)
    for (const batch of batches(model, 32, 8, 7)) expect(lean.step(batch)).toBe(stepPure(pure, batch))
    expect(held(lean)).toEqual(held(pure))
    lean.dispose()
  })

  it("with dropout, takes each step's seed as an input of the compiled step, never as a constant", () => {
    const model = wavenet({ vocab: 27, levels: 3, embedding: 24, hidden: 128, dropout: 0.2, seed: 42 })
    const optimizer = sgd({ lr: 0.1, totalSteps: 8, decayAt: 0.75, decay: 0.1 })
    const state = optimizer.init(trainableParameters(model))
    const [batch] = batches(model, 32, 1, 7)
    const reseeded = { ...batch!, seed: indices([1], Int32Array.of(batch!.seed!.data[0]! + 1)) }
    const losses = [batch!, reseeded, batch!].map((b) => {
      const lean = leanSession(wasm, model, optimizer, state, 32)
      const loss = lean.step(b)
      expect(loss).toBe(stepPure(pureSession(wasm, model, optimizer, state), b))
      lean.dispose()
      return loss
    })
    expect(losses[1]).not.toBe(losses[0])
    expect(losses[2]).toBe(losses[0])
    const lean = leanSession(wasm, model, optimizer, state, 32)
    expect(() => lean.step({ contexts: batch!.contexts, targets: batch!.targets })).toThrow(/seed/)
    lean.dispose()
  })

  it('resumes bit-exactly: N steps, a snapshot, a new session, M steps equal N + M steps in one session', () => {
    fc.assert(
      fc.property(modelArbitrary, fc.integer({ min: 2, max: 6 }), optimizerArbitrary(6), fc.nat(), (model, size, optimizer, seed) => {
        const data = batches(model, size, 6, seed)
        const whole = leanSession(wasm, model, optimizer, optimizer.init(trainableParameters(model)), size)
        const wholeLosses = data.map((batch) => whole.step(batch))
        const first = leanSession(wasm, model, optimizer, optimizer.init(trainableParameters(model)), size)
        const firstLosses = data.slice(0, 3).map((batch) => first.step(batch))
        const middle = first.snapshot()
        first.dispose()
        const second = leanSession(wasm, middle.model, optimizer, middle.state, size)
        const secondLosses = data.slice(3).map((batch) => second.step(batch))
        expect([...firstLosses, ...secondLosses]).toEqual(wholeLosses)
        expect(held(second)).toEqual(held(whole))
        second.dispose()
        whole.dispose()
      }),
      { numRuns: 20 },
    )
  })
})

describe('withStepSeed', () => {
  it("draws a step's dropout seed after the batch only for a model with dropout layers", () => {
    const plain = wavenet({ vocab: 5, levels: 1, embedding: 2, hidden: 3, seed: 1 })
    const dropped = wavenet({ vocab: 5, levels: 1, embedding: 2, hidden: 3, dropout: 0.1, seed: 1 })
    const batch: WordBatch = { words: [Int32Array.of(1, 2)] }
    const rng = seeded(9)
    expect(withStepSeed(plain)([batch, rng])).toEqual([batch, rng])
    const [seededBatch, next] = withStepSeed(dropped)([batch, rng])
    expect(seededBatch.words).toBe(batch.words)
    expect(next).not.toEqual(rng)
    expect(seededBatch.seed!.data[0]).toBeGreaterThanOrEqual(0)
    expect(withStepSeed(dropped)([batch, rng])).toEqual([seededBatch, next])
  })
})

/**
 * A sequence-view session's property: the lean session equals the pure one bit for bit, every loss and the final state, for random
 * models, optimizers and step counts, on the batches `batches` draws for a model from a seed.
 */
const expectLeanEqualsPure = <B>(
  lean: (kernels: WasmKernels, model: Model, optimizer: Optimizer, state: OptimizerState) => TrainingSession<B>,
  pure: (kernels: Kernels, model: Model, optimizer: Optimizer, state: OptimizerState) => TrainingSession<B>,
  batches: (model: Model, count: number, seed: number) => B[],
): void => {
  fc.assert(
    fc.property(modelArbitrary, fc.integer({ min: 1, max: 6 }).chain((steps) => fc.tuple(fc.constant(steps), optimizerArbitrary(steps))), fc.nat(),
      (model, [steps, optimizer], seed) => {
        const state = optimizer.init(trainableParameters(model))
        const session = lean(wasm, model, optimizer, state)
        try {
          const reference = pure(wasm, model, optimizer, state)
          for (const batch of batches(model, steps, seed)) expect(session.step(batch)).toBe(reference.step(batch))
          expect(held(session)).toEqual(held(reference))
        } finally {
          session.dispose()
        }
      }),
    { numRuns: 60 },
  )
}

describe('leanWordsSession equals pureWordsSession on the same kernels, bit for bit', () => {
  /** `count` batches of 1 to 4 random words (0 to 6 characters) for `model`, from a seed: several shapes. */
  const wordBatches = (model: Model, count: number, seed: number): WordBatch[] => {
    const vocab = logitsWidth(model)
    return Array.from({ length: count }, (_, i) => {
      const [sizes] = integers(seeded(seed + 3 * i), 5, 7)
      const words = Array.from({ length: 1 + (sizes[4]! % 4) }, (_, w) => {
        const [chars] = integers(seeded(seed + 3 * i + 1 + 1000 * w), sizes[w]!, vocab - 1)
        return Int32Array.from(chars, (c) => c + 1)
      })
      // Batchnorm in training mode needs two nodes: one character at least beside the boundary node.
      return { words: words.some((w) => w.length > 0) ? words : [Int32Array.of(1), ...words], seed: stepSeed(seed, i) }
    })
  }

  it('for random trees, flat MLPs and hand-built networks, both optimizers: every loss and the final state', () => {
    expectLeanEqualsPure(leanWordsSession, pureWordsSession, wordBatches)
  })
})

describe('leanWindowsSession equals pureWindowsSession on the same kernels, bit for bit', () => {
  /** `count` batches of 1 to 3 windows of 1 to 4 targets for `model`, from a seed: several shapes, boundary tokens among the ids. */
  const windowBatches = (model: Model, count: number, seed: number): WindowBatch[] => {
    const field = receptiveField(model)
    const vocab = logitsWidth(model)
    return Array.from({ length: count }, (_, i) => {
      const [[windows, targets]] = integers(seeded(seed + 3 * i), 2, 3)
      const [b, t] = [1 + windows!, 2 + targets!]
      return {
        tokens: integers(seeded(seed + 3 * i + 1), b * (field - 1 + t), vocab)[0], targets: integers(seeded(seed + 3 * i + 2), b * t, vocab)[0], windows: b,
        seed: stepSeed(seed, i),
      }
    })
  }

  it('for random trees, flat MLPs and hand-built networks, both optimizers: every loss and the final state', () => {
    expectLeanEqualsPure(leanWindowsSession, pureWindowsSession, windowBatches)
  })
})

describe('one whole training step on wasm matches js', () => {
  /** The loss and every parameter's gradient of one step, through the layers, on `kernels`. */
  const lossAndGradients = (kernels: Kernels, model: Model, batch: Batch) => {
    const out = modelForward(kernels, model, batch.contexts, 'train')
    const { loss, tape } = crossEntropy(kernels, out.y, batch.targets)
    return { loss, grads: backward(kernels, model.net, out.tape, crossEntropyBackward(kernels, tape)).grads }
  }

  const normwiseError = (actual: ArrayLike<number>, expected: ArrayLike<number>): number => {
    let difference = 0
    let norm = 0
    for (let i = 0; i < expected.length; i++) {
      difference += (actual[i]! - expected[i]!) ** 2
      norm += expected[i]! ** 2
    }
    return Math.sqrt(difference / norm)
  }

  const expectAgreement = (model: Model, batch: Batch, gradientBound: number): void => {
    const mark = wasm.arena.mark()
    try {
      const onWasm = lossAndGradients(wasm, model, batch)
      const onJs = lossAndGradients(referenceKernels, model, batch)
      expect(Math.abs(onWasm.loss - onJs.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(onJs.loss))
      for (const [name, g] of Object.entries(onJs.grads)) {
        expect(normwiseError(onWasm.grads[name]!.data, g.data), `gradient of ${name}`).toBeLessThanOrEqual(gradientBound)
      }
    } finally {
      wasm.arena.reset(mark)
    }
  }

  it('in loss and every gradient, on random models', () => {
    const sized = fc.oneof(
      fc.record({
        vocab: fc.integer({ min: 3, max: 12 }),
        levels: fc.integer({ min: 1, max: 3 }),
        groupSize: fc.integer({ min: 2, max: 3 }),
        embedding: fc.integer({ min: 2, max: 9 }),
        hidden: fc.integer({ min: 4, max: 19 }),
        seed: fc.nat(),
      }).map(wavenet),
      fc.record({
        vocab: fc.integer({ min: 3, max: 12 }),
        context: fc.integer({ min: 1, max: 6 }),
        embedding: fc.integer({ min: 2, max: 9 }),
        hidden: fc.integer({ min: 4, max: 19 }),
        seed: fc.nat(),
      }).map(flatMlp),
    )
    // A batch of one or two distinct contexts is left out: batch normalisation
    // maps two values of a column to ±1 whatever they are, so the true gradient
    // of everything below it is ~eps-small and both backends return rounding
    // noise (seen: a one-character MLP of vocabulary 3, contexts 1 1 2 1 2).
    const distinctContexts = (batch: Batch): number => {
      const [size, field] = batch.contexts.shape as [number, number]
      return new Set(Array.from({ length: size }, (_, i) => batch.contexts.data.subarray(i * field, (i + 1) * field).join())).size
    }
    fc.assert(
      fc.property(sized, fc.integer({ min: 4, max: 43 }), fc.nat(), (model, size, seed) => {
        const batch = batches(model, size, 1, seed)[0]!
        fc.pre(distinctContexts(batch) >= 3)
        expectAgreement(model, batch, 2 ** -10)
      }),
      { numRuns: 60 },
    )
  })

  it("in loss and every gradient, on the lecture's model at batch 32", () => {
    const model = wavenet({ vocab: 27, levels: 3, embedding: 24, hidden: 128, seed: 42 })
    for (const seed of [1, 2, 3]) expectAgreement(model, batches(model, 32, 1, seed)[0]!, 2 ** -16)
  })

  it('and a lean session step on wasm gives the loss of a pure step on js', () => {
    const model = wavenet({ vocab: 27, levels: 3, embedding: 24, hidden: 128, seed: 42 })
    const optimizer = sgd({ lr: 0.1, totalSteps: 3, decayAt: 1, decay: 1 })
    const state = optimizer.init(trainableParameters(model))
    const lean = leanSession(wasm, model, optimizer, state, 32)
    const pure = pureSession(referenceKernels, model, optimizer, state)
    for (const batch of batches(model, 32, 3, 11)) {
      const [onWasm, onJs] = [lean.step(batch), pure.step(batch)]
      expect(Math.abs(onWasm - onJs)).toBeLessThanOrEqual(1e-5 * onJs)
    }
    lean.dispose()
  })
})

describe('snapshots', () => {
  it('are copies outside the wasm memory, never changed by later steps', () => {
    fc.assert(
      fc.property(modelArbitrary, fc.integer({ min: 2, max: 6 }), optimizerArbitrary(4), fc.nat(), (model, size, optimizer, seed) => {
        const lean = leanSession(wasm, model, optimizer, optimizer.init(trainableParameters(model)), size)
        const [first, ...rest] = batches(model, size, 4, seed)
        lean.step(first!)
        const taken = lean.snapshot()
        const before = snapshot({ tensors: parameters(taken.model), state: taken.state })
        for (const tensor of Object.values(parameters(taken.model))) expect(wasm.owns(tensor.data)).toBe(false)
        for (const named of Object.values(taken.state.slots)) {
          for (const tensor of Object.values(named)) expect(wasm.owns(tensor.data)).toBe(false)
        }
        for (const batch of rest) lean.step(batch)
        lean.dispose()
        expect(snapshot({ tensors: parameters(taken.model), state: taken.state })).toEqual(before)
        expect(taken.state.step).toBe(1)
      }),
      { numRuns: 20 },
    )
  })

  it('leave the values the session started from untouched', () => {
    const model = wavenet({ vocab: 5, levels: 2, embedding: 3, hidden: 4, seed: 3 })
    const optimizer = adamW({ lr: 0.01, totalSteps: 3, decayAt: 1, decay: 1 })
    const state = optimizer.init(trainableParameters(model))
    const before = snapshot({ tensors: parameters(model), state })
    const lean = leanSession(wasm, model, optimizer, state, 4)
    for (const batch of batches(model, 4, 3, 5)) lean.step(batch)
    lean.dispose()
    expect(snapshot({ tensors: parameters(model), state })).toEqual(before)
  })
})

describe('the session as a resource', () => {
  const model = wavenet({ vocab: 5, levels: 2, embedding: 3, hidden: 4, seed: 1 })
  const optimizer = sgd({ lr: 0.1, totalSteps: 10, decayAt: 1, decay: 1 })
  const state = optimizer.init(trainableParameters(model))

  it('allocates once: steps leave the arena as they found it; dispose frees it all', () => {
    const used = wasm.arena.usedBytes
    const lean = leanSession(wasm, model, optimizer, state, 4)
    const allocated = wasm.arena.usedBytes
    expect(allocated).toBeGreaterThan(used)
    for (const batch of batches(model, 4, 3, 1)) lean.step(batch)
    expect(wasm.arena.usedBytes).toBe(allocated)
    lean.dispose()
    lean.dispose()
    expect(wasm.arena.usedBytes).toBe(used)
    expect(() => lean.step(batches(model, 4, 1, 1)[0]!)).toThrow(/disposed/)
  })

  it("compiles the lecture's step with each batchnorm and its tanh fused, both ways", () => {
    const kernelsCalled: string[] = []
    const lecture = wavenet({ vocab: 27, levels: 3, embedding: 24, hidden: 128, seed: 42 })
    const lean = leanSession(wasm, lecture, optimizer, optimizer.init(trainableParameters(lecture)), 32, {
      profile: ({ kernel }, run) => {
        kernelsCalled.push(kernel)
        return run
      },
    })
    lean.dispose()
    const count = (kernel: string) => kernelsCalled.filter((k) => k === kernel).length
    expect([count('normalizeTanh'), count('tanhNormalizeBackward')]).toEqual([3, 3])
    expect([count('normalize'), count('tanhForward'), count('tanhBackward'), count('normalizeBackward')]).toEqual([0, 0, 0, 0])
    // 3 levels × (linear, columnMoments, normalizeTanh, 2 running statistics), the head's bias and product, the loss, its gradient,
    // the head's 3 backward calls, 3 levels × (fused backward, 2 products), the embedding's scatter.
    expect(kernelsCalled).toHaveLength(15 + 2 + 2 + 3 + 9 + 1 + 1)
  })

  it('lets the memory grow while it lives: an evaluation larger than the memory runs between steps, and the steps stay exact', () => {
    const small = createWasmKernels({ memoryBytes: 64 * 1024 })!
    const lean = leanSession(small, model, optimizer, state, 4)
    const pure = pureSession(small, model, optimizer, state)
    const data = batches(model, 4, 4, 9)
    const capacity = small.arena.capacityBytes
    for (const batch of data.slice(0, 2)) expect(lean.step(batch)).toBe(pure.step(batch))
    const [large] = batches(model, 20_000, 1, 3)
    const onSmall = batchLoss(small, lean.snapshot().model, large!)
    expect(small.arena.capacityBytes).toBeGreaterThan(capacity)
    expect(onSmall).toBe(batchLoss(small, pure.snapshot().model, large!))
    for (const batch of data.slice(2)) expect(lean.step(batch)).toBe(pure.step(batch))
    expect(held(lean)).toEqual(held(pure))
    lean.dispose()
    expect(small.arena.usedBytes).toBe(0)
  })

  it('refuses batches of another shape and ids outside the vocabulary', () => {
    const lean = leanSession(wasm, model, optimizer, state, 4)
    const [batch] = batches(model, 5, 1, 2)
    expect(() => lean.step(batch!)).toThrow(RangeError)
    const [good] = batches(model, 4, 1, 2)
    const badIds = Int32Array.from(good!.contexts.data, (id, i) => (i === 3 ? 5 : id))
    expect(() => lean.step({ ...good!, contexts: indices(good!.contexts.shape, badIds) })).toThrow(/token id 5/)
    const badTargets = Int32Array.from(good!.targets.data, (t, i) => (i === 0 ? -1 : t))
    expect(() => lean.step({ ...good!, targets: indices([4], badTargets) })).toThrow(/target -1/)
    lean.dispose()
  })

  it('refuses what the pure step refuses, and memory too small for its buffers, leaving the arena as it was', () => {
    const used = wasm.arena.usedBytes
    expect(() => leanSession(wasm, model, optimizer, state, 1)).toThrow(/more than one value per channel/)
    expect(wasm.arena.usedBytes).toBe(used)
    const small = createWasmKernels({ memoryBytes: 64 * 1024 })!
    // With the arena in use, the memory cannot grow (views would detach): the session does not fit.
    small.alloc(new Float32Array(0), 1)
    const large = wavenet({ vocab: 27, levels: 3, embedding: 24, hidden: 128, seed: 1 })
    expect(() => leanSession(small, large, optimizer, optimizer.init(trainableParameters(large)), 32)).toThrow(/memoryBytes/)
  })
})

describe('the kernels the session adds agree with the reference bit for bit', () => {
  /** n float32 values uniform in [lo, hi) from a seed. */
  const uniform = (seed: number, n: number, lo: number, hi: number): Float32Array =>
    Float32Array.from(uniforms(seeded(seed), n)[0], (u) => lo + (hi - lo) * u)
  /** A copy in the wasm arena. */
  const copyIn = (data: Float32Array): Float32Array => {
    const view = wasm.alloc(new Float32Array(0), data.length)
    view.set(data)
    return view
  }
  /** A copy in the wasm arena, or as an ordinary array. */
  const place = (data: Float32Array, inWasm: boolean): Float32Array => (inWasm ? copyIn(data) : data.slice())
  const inArena = (body: () => void): void => {
    const mark = wasm.arena.mark()
    try {
      body()
    } finally {
      wasm.arena.reset(mark)
    }
  }
  const n = fc.integer({ min: 0, max: 70 })

  it('sgdUpdate, adamwUpdate and movingAverage, in or out of the wasm memory', () => {
    fc.assert(
      fc.property(n, fc.nat(), fc.boolean(), fc.double({ min: 1e-4, max: 1, noNaN: true }), fc.integer({ min: 1, max: 2000 }),
        (count, seed, inWasm, lr, t) => inArena(() => {
          const [p, g, m, v] = [uniform(seed, count, -1, 1), uniform(seed + 1, count, -3, 3), uniform(seed + 2, count, -1, 1), uniform(seed + 3, count, 0, 1)]
          const [wp, wg, wm, wv] = [p, g, m, v].map((x) => place(x, inWasm)) as [Float32Array, Float32Array, Float32Array, Float32Array]
          const [rp, rm, rv] = [p.slice(), m.slice(), v.slice()]
          wasm.sgdUpdate(wp, wg, lr, count)
          referenceKernels.sgdUpdate(rp, g, lr, count)
          expect(Array.from(wp)).toEqual(Array.from(rp))

          const [beta1, beta2, eps, decay] = [0.9, 0.999, 1e-8, 1 - lr * 0.01]
          const [c1, c2] = [1 - beta1 ** t, 1 - beta2 ** t]
          wasm.adamwUpdate(wp, wg, wm, wv, count, lr, beta1, beta2, eps, decay, c1, c2)
          referenceKernels.adamwUpdate(rp, g, rm, rv, count, lr, beta1, beta2, eps, decay, c1, c2)
          expect([Array.from(wp), Array.from(wm), Array.from(wv)]).toEqual([Array.from(rp), Array.from(rm), Array.from(rv)])

          const out = place(new Float32Array(count), inWasm)
          wasm.movingAverage(wm, wg, out, 0.9, lr, count)
          wasm.movingAverage(wm, wg, wm, 0.9, lr, count)
          referenceKernels.movingAverage(rm, g, rm, 0.9, lr, count)
          expect([Array.from(out), Array.from(wm)]).toEqual([Array.from(rm), Array.from(rm)])
        })),
      { numRuns: 200 },
    )
  })

  it('normalizeTanh and tanhNormalizeBackward give the bits of the calls they fuse, in place too', () => {
    // The module's own exports, over byte offsets: the fused kernels exist only there.
    type Export = 'normalize' | 'tanhForward' | 'normalizeTanh' | 'tanhBackward' | 'normalizeBackward' | 'tanhNormalizeBackward'
      | 'normalizeScratchBytes' | 'normalizeBackwardScratchBytes'
    const k = wasmInternals(wasm)!.exports as unknown as { readonly [E in Export]: (...args: number[]) => number }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.nat(), fc.boolean(), (rows, cols, seed, batchStatistics) =>
        inArena(() => {
          const size = rows * cols
          const [x, mean, variance, gamma, beta, dh] = [
            uniform(seed, size, -3, 3), uniform(seed + 1, cols, -1, 1), uniform(seed + 2, cols, 0, 4),
            uniform(seed + 3, cols, -2, 2), uniform(seed + 4, cols, -1, 1), uniform(seed + 5, size, -1, 1),
          ].map(copyIn) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array]
          const like = new Float32Array(0)
          const scratch = wasm.alloc(like, Math.max(k.normalizeScratchBytes(cols), k.normalizeBackwardScratchBytes(cols)) / 4)
          const [xhat, y, h] = [wasm.alloc(like, size), wasm.alloc(like, size), wasm.alloc(like, size)]
          k.normalize(x.byteOffset, mean.byteOffset, variance.byteOffset, gamma.byteOffset, beta.byteOffset, 1e-5, xhat.byteOffset, y.byteOffset, rows, cols, scratch.byteOffset)
          k.tanhForward(y.byteOffset, h.byteOffset, size)
          const fused = copyIn(x)
          const fusedH = wasm.alloc(like, size)
          k.normalizeTanh(fused.byteOffset, mean.byteOffset, variance.byteOffset, gamma.byteOffset, beta.byteOffset, 1e-5, fused.byteOffset, fusedH.byteOffset, rows, cols, scratch.byteOffset)
          expect(Array.from(fused)).toEqual(Array.from(xhat))
          expect(Array.from(fusedH)).toEqual(Array.from(h))

          const [dy, dx, dgamma, dbeta] = [wasm.alloc(like, size), wasm.alloc(like, size), wasm.alloc(like, cols), wasm.alloc(like, cols)]
          k.tanhBackward(h.byteOffset, dh.byteOffset, dy.byteOffset, size)
          k.normalizeBackward(dy.byteOffset, xhat.byteOffset, variance.byteOffset, gamma.byteOffset, 1e-5, batchStatistics ? 1 : 0, dx.byteOffset, dgamma.byteOffset, dbeta.byteOffset, rows, cols, scratch.byteOffset)
          const [inPlace, fusedDgamma, fusedDbeta] = [copyIn(dh), wasm.alloc(like, cols), wasm.alloc(like, cols)]
          k.tanhNormalizeBackward(inPlace.byteOffset, h.byteOffset, xhat.byteOffset, variance.byteOffset, gamma.byteOffset, 1e-5, batchStatistics ? 1 : 0, inPlace.byteOffset, fusedDgamma.byteOffset, fusedDbeta.byteOffset, rows, cols, scratch.byteOffset)
          expect([Array.from(inPlace), Array.from(fusedDgamma), Array.from(fusedDbeta)]).toEqual([Array.from(dx), Array.from(dgamma), Array.from(dbeta)])
        })),
      { numRuns: 100 },
    )
  })
})
