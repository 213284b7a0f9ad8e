/**
 * BatchNorm1d over the last axis, (…, C) → (…, C), as torch.nn.BatchNorm1d
 * with the lecture's extension to 3-D inputs: statistics are taken over every
 * axis but the last.
 *
 * train: xhat = (x − mean) / sqrt(var + eps) with the batch mean and the
 *        biased batch variance; running_mean ← (1 − m)·running_mean + m·mean,
 *        running_var ← (1 − m)·running_var + m·var·n/(n − 1) (unbiased).
 * eval:  the same with the running statistics.
 * Both:  y = weight · xhat + bias.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Kernels } from '../kernels/kernels.js'
import { MAX_PARAMETERS } from '../limits.js'
import { type FloatArray, type Tensor, tensor } from '../tensor.js'
import type { LayerOps } from './layer.js'
import { descriptionFields, floatInput, numberField, replaced, shapeText, sizeField, tensorOfShape } from './layer.js'

export interface BatchNorm1d {
  readonly kind: 'batchnorm'
  /** γ, (C) */
  readonly weight: Tensor
  /** β, (C) */
  readonly bias: Tensor
  /** (C) */
  readonly runningMean: Tensor
  /** (C), unbiased */
  readonly runningVar: Tensor
  readonly eps: number
  readonly momentum: number
}

export interface BatchNormOptions {
  readonly eps?: number
  readonly momentum?: number
}

/** torch.nn.BatchNorm1d's defaults, which `batchNorm1d` takes when not told otherwise. */
export const BATCHNORM_DEFAULTS = { eps: 1e-5, momentum: 0.1 } as const

export interface BatchNormDescription {
  readonly kind: 'batchnorm'
  /** Channels C. */
  readonly dim: number
  readonly eps: number
  readonly momentum: number
}

/** A fresh layer: γ = 1, β = 0, running mean 0, running variance 1. */
export const batchNorm1d = (dim: number, options: BatchNormOptions = {}): BatchNorm1d => ({
  kind: 'batchnorm',
  weight: tensor([dim], new Float32Array(dim).fill(1)),
  bias: tensor([dim], new Float32Array(dim)),
  runningMean: tensor([dim], new Float32Array(dim)),
  runningVar: tensor([dim], new Float32Array(dim).fill(1)),
  eps: options.eps ?? BATCHNORM_DEFAULTS.eps,
  momentum: options.momentum ?? BATCHNORM_DEFAULTS.momentum,
})

// (…, C) → (…, C)
const outputShape = (layer: BatchNorm1d, input: readonly number[]): readonly number[] => {
  const cols = layer.weight.shape[0]!
  if (input[input.length - 1] !== cols) throw new RangeError(`batchnorm(${cols}) got input ${shapeText(input)}`)
  return input
}

export interface BatchNormTape {
  readonly xhat: Tensor
  /** The variance that normalised the input: the batch's (train) or the running one (eval). */
  readonly variance: FloatArray
  readonly batchStatistics: boolean
}

/** (1 − m)·running + (m·scale)·batch, elementwise, into a new array. */
const blend = (k: Kernels, running: FloatArray, batch: FloatArray, momentum: number, scale: number): FloatArray => {
  const next = k.alloc(running, running.length)
  k.movingAverage(running, batch, next, 1 - momentum, momentum * scale, running.length)
  return next
}

export const batchNormOps: LayerOps<BatchNorm1d, BatchNormTape, BatchNormDescription> = {
  forward(k, layer, input, mode) {
    const x = floatInput(input, 'batchnorm')
    outputShape(layer, x.shape)
    const cols = layer.weight.shape[0]!
    const rows = x.data.length / cols
    const xhat = k.alloc(x.data, x.data.length)
    const y = k.alloc(x.data, x.data.length)
    if (mode === 'eval') {
      const { runningMean: mean, runningVar: variance } = layer
      k.normalize(x.data, mean.data, variance.data, layer.weight.data, layer.bias.data, layer.eps, xhat, y, rows, cols)
      return {
        y: tensor(x.shape, y),
        tape: { xhat: tensor(x.shape, xhat), variance: variance.data, batchStatistics: false },
        layer,
      }
    }
    if (rows < 2) throw new RangeError('batchnorm in training mode needs more than one value per channel')
    const mean = k.alloc(x.data, cols)
    const variance = k.alloc(x.data, cols)
    k.columnMoments(x.data, mean, variance, rows, cols)
    k.normalize(x.data, mean, variance, layer.weight.data, layer.bias.data, layer.eps, xhat, y, rows, cols)
    const updated: BatchNorm1d = {
      ...layer,
      runningMean: tensor([cols], blend(k, layer.runningMean.data, mean, layer.momentum, 1)),
      runningVar: tensor([cols], blend(k, layer.runningVar.data, variance, layer.momentum, rows / (rows - 1))),
    }
    return { y: tensor(x.shape, y), tape: { xhat: tensor(x.shape, xhat), variance, batchStatistics: true }, layer: updated }
  },

  backward(k, layer, tape, dy) {
    const cols = layer.weight.shape[0]!
    const rows = dy.data.length / cols
    const dx = k.alloc(dy.data, dy.data.length)
    const dWeight = k.alloc(dy.data, cols)
    const dBias = k.alloc(dy.data, cols)
    k.normalizeBackward(
      dy.data, tape.xhat.data, tape.variance, layer.weight.data, layer.eps, tape.batchStatistics,
      dx, dWeight, dBias, rows, cols,
    )
    return { dx: tensor(dy.shape, dx), grads: { weight: tensor([cols], dWeight), bias: tensor([cols], dBias) } }
  },

  parameters: (layer) => ({ weight: layer.weight, bias: layer.bias }),
  buffers: (layer) => ({ running_mean: layer.runningMean, running_var: layer.runningVar }),
  withTensors: (layer, tensors) => ({
    ...layer,
    weight: replaced(tensors, 'weight', layer.weight),
    bias: replaced(tensors, 'bias', layer.bias),
    runningMean: replaced(tensors, 'running_mean', layer.runningMean),
    runningVar: replaced(tensors, 'running_var', layer.runningVar),
  }),
  outputShape,
  inputSteps: (_layer, steps) => steps,
  describe: (layer) => ({ kind: 'batchnorm', dim: layer.weight.shape[0]!, eps: layer.eps, momentum: layer.momentum }),
  parse: (json) =>
    pipe(
      descriptionFields(json, 'batchnorm', ['dim', 'eps', 'momentum']),
      E.chain((fields) => pipe(
        E.Do,
        E.bind('dim', () => sizeField('batchnorm', fields, 'dim', MAX_PARAMETERS)),
        E.bind('eps', () => numberField('batchnorm', fields, 'eps', 'positive', (eps) => eps > 0)),
        E.bind('momentum', () => numberField('batchnorm', fields, 'momentum', 'from 0 to 1', (m) => m >= 0 && m <= 1)),
      )),
      E.map((d) => ({ kind: 'batchnorm', ...d })),
    ),
  tensorShapes: ({ dim }) => ({ weight: [dim], bias: [dim], running_mean: [dim], running_var: [dim] }),
  build: ({ dim, eps, momentum }, tensors) => ({
    kind: 'batchnorm',
    weight: tensorOfShape(tensors, 'weight', [dim]),
    bias: tensorOfShape(tensors, 'bias', [dim]),
    runningMean: tensorOfShape(tensors, 'running_mean', [dim]),
    runningVar: tensorOfShape(tensors, 'running_var', [dim]),
    eps,
    momentum,
  }),
}
