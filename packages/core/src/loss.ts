/**
 * Cross-entropy from logits: loss = mean over rows of −log softmax(logits)[target].
 * Stable: log Σ exp is computed after subtracting each row's maximum.
 * Gradient: dlogits = (softmax(logits) − onehot(target)) / rows · dloss.
 */
import type { Kernels } from './kernels/kernels.js'
import { type IndexTensor, type Tensor, tensor } from './tensor.js'

export interface CrossEntropyTape {
  readonly probs: Tensor
  readonly targets: IndexTensor
}

export interface CrossEntropy {
  readonly loss: number
  readonly tape: CrossEntropyTape
}

/** Mean cross-entropy of (rows, vocab) logits against `targets` (rows). */
export const crossEntropy = (kernels: Kernels, logits: Tensor, targets: IndexTensor): CrossEntropy => {
  if (logits.shape.length !== 2) throw new RangeError(`cross-entropy expects (B, V) logits, got [${logits.shape.join(', ')}]`)
  const [rows, cols] = logits.shape as [number, number]
  if (targets.data.length !== rows) throw new RangeError(`${rows} rows of logits but ${targets.data.length} targets`)
  for (const t of targets.data) {
    if (!(t >= 0 && t < cols)) throw new RangeError(`target ${t} outside the ${cols} classes`)
  }
  const probs = kernels.alloc(logits.data, rows * cols)
  const loss = kernels.softmaxCrossEntropy(logits.data, targets.data, probs, rows, cols)
  return { loss, tape: { probs: tensor(logits.shape, probs), targets } }
}

/** The gradient of the mean loss with respect to the logits, times `dloss`. */
export const crossEntropyBackward = (kernels: Kernels, tape: CrossEntropyTape, dloss = 1): Tensor => {
  const [rows, cols] = tape.probs.shape as [number, number]
  const dlogits = kernels.alloc(tape.probs.data, rows * cols)
  kernels.softmaxCrossEntropyBackward(tape.probs.data, tape.targets.data, dloss / rows, dlogits, rows, cols)
  return tensor(tape.probs.shape, dlogits)
}
