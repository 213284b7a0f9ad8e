/**
 * The gradient property for any layer: backward agrees with float64 central
 * differences for every parameter tensor and for the input.
 */
import { expect } from 'vitest'
import {
  backward, crossEntropy, crossEntropyBackward, forward, layerParameters, referenceKernels as k, withTensors,
  type Activation, type IndexTensor, type Layer, type Mode, type Tensor,
} from '../../src/index.js'
import { numericalGradient, project, relativeError, TOLERANCE } from './gradcheck.js'

/** A scalar objective of a layer's output and its gradient with respect to that output. */
export interface Objective {
  value(y: Tensor): number
  gradient(y: Tensor): Tensor
}

/** Σ y·r, whose gradient is r: checks backward through an arbitrary dy. */
export const projection = (r: Tensor): Objective => ({ value: (y) => project(y, r), gradient: () => r })

/** Mean cross-entropy of the output against targets. */
export const crossEntropyObjective = (targets: IndexTensor): Objective => ({
  value: (y) => crossEntropy(k, y, targets).loss,
  gradient: (y) => crossEntropyBackward(k, crossEntropy(k, y, targets).tape),
})

/** Relative errors of every parameter gradient and of the input gradient (when the input is a float tensor). */
export const gradientErrors = (layer: Layer, x: Activation, mode: Mode, objective: Objective): Record<string, number> => {
  const out = forward(k, layer, x, mode)
  const { dx, grads } = backward(k, layer, out.tape, objective.gradient(out.y))
  const errors: Record<string, number> = {}
  for (const [name, p] of Object.entries(layerParameters(layer))) {
    const data = Float64Array.from(p.data)
    const perturbed = withTensors(layer, { [name]: { shape: p.shape, data } })
    const numeric = numericalGradient(() => objective.value(forward(k, perturbed, x, mode).y), data)
    errors[name] = relativeError(grads[name]!.data, numeric)
  }
  if (!(x.data instanceof Int32Array)) {
    const data = Float64Array.from(x.data)
    const numeric = numericalGradient(() => objective.value(forward(k, layer, { shape: x.shape, data }, mode).y), data)
    errors['input'] = relativeError(dx!.data, numeric)
  }
  return errors
}

/** Asserts every relative error is below the tolerance; names the offending tensor when not. */
export const expectGradientsAgree = (layer: Layer, x: Activation, mode: Mode, objective: Objective): void => {
  for (const [name, error] of Object.entries(gradientErrors(layer, x, mode, objective))) {
    expect(error, `relative error of the gradient of ${name}`).toBeLessThan(TOLERANCE)
  }
}
