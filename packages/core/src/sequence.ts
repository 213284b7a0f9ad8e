/**
 * The sequence view: the tree run over whole words as dilated causal
 * convolutions (DeepMind's WaveNet), each node computed once and shared by
 * every later position that sees it — L fusions per character instead of
 * 2^L − 1. The same model and weights as per-example training; only the
 * fusions run differently (`FlattenConsecutive`'s sequence op gathers the
 * nodes at dilated positions), so a model trained either way runs either way.
 *
 * A word w of n characters is, as per-example training sees it, R boundary
 * tokens then w (R, the receptive field), with n + 1 outputs: the predictions
 * of w[0] … w[n−1] and of the final boundary. Here its characters are nodes
 * at positions 0 … n−1 of every level; a fusion that reaches before position
 * 0 reads the level's boundary node instead — the node whose whole field is
 * boundary tokens, identical for every word, so computed once per level per
 * batch rather than once per word. Its top-level value predicts every word's
 * first character; position p predicts w[p+1], or the boundary after the last.
 *
 * Rows of every level: the words' characters end to end (word after word,
 * position after position), then the boundary node. Training in this view
 * takes batch statistics over exactly those rows (each real node once, and the
 * boundary node once), where per-example training counts a node once per
 * example that contains it; the loss is the mean over every output, as there.
 */
import { BOUNDARY } from './data.js'
import type { Kernels } from './kernels/kernels.js'
import { type Mode, type Packing, trainingMode } from './layers/layer.js'
import { sequenceBackward, sequenceForward } from './layers/sequential.js'
import { crossEntropy, crossEntropyBackward } from './loss.js'
import type { Model } from './model.js'
import { indices, type IndexTensor, type Tensor, tensor } from './tensor.js'
import type { Gradients } from './train.js'

/** Words for the sequence view: each word's token ids, without boundary tokens. */
export interface WordBatch {
  readonly words: readonly Int32Array[]
  /** (1): the step's dropout seed, for a model with dropout layers (see `withStepSeed`). */
  readonly seed?: IndexTensor
}

/** A batch of words laid out as the sequence view's nodes. */
export interface PackedWords extends Packing {
  /** (N): every word's characters end to end, then one boundary token. */
  readonly tokens: IndexTensor
  /** (T): the rows of the top level whose predictions are scored, n + 1 per word of n characters. */
  readonly outputs: IndexTensor
  /** (T): what each output predicts. */
  readonly targets: IndexTensor
  /** For a fusion of `group` nodes `dilation` steps apart, the rows each node of its level fuses (the nodes below are the table). */
  sources(group: number, dilation: number): IndexTensor
  /** (1): the step's dropout seed, as the batch gave it. */
  readonly seed?: IndexTensor
}

/** Outputs (predictions scored) of a word of `length` characters: one per character and the final boundary. */
export const outputsOf = (length: number): number => length + 1

/** The layout of a batch of words (see the module comment); `sources` is computed per fusion shape on demand. */
export const packWords = (batch: WordBatch): PackedWords => {
  const { words } = batch
  const chars = words.reduce((n, w) => n + w.length, 0)
  const boundaryRow = chars
  const rows = chars + 1
  const tokens = new Int32Array(rows)
  const outputs = new Int32Array(chars + words.length)
  const targets = new Int32Array(chars + words.length)
  /** For each row, its word's first row (the boundary row: itself) and its position in the word. */
  const start = new Int32Array(rows)
  let row = 0
  let out = 0
  for (const word of words) {
    tokens.set(word, row)
    outputs[out] = boundaryRow
    targets[out++] = word[0] ?? BOUNDARY
    for (let p = 0; p < word.length; p++) {
      start[row + p] = row
      outputs[out] = row + p
      targets[out++] = word[p + 1] ?? BOUNDARY
    }
    row += word.length
  }
  tokens[boundaryRow] = BOUNDARY
  start[boundaryRow] = boundaryRow
  const made = new Map<string, IndexTensor>()
  const sources = (group: number, dilation: number): IndexTensor => {
    const key = `${group}×${dilation}`
    const found = made.get(key)
    if (found !== undefined) return found
    // Node r at position p fuses the nodes at p − (group−1−j)·dilation, j = 0 … group−1; before 0, the boundary node.
    const data = new Int32Array(rows * group)
    for (let r = 0; r < rows; r++) {
      const position = r - start[r]!
      for (let j = 0; j < group; j++) {
        const q = position - (group - 1 - j) * dilation
        data[r * group + j] = r === boundaryRow || q < 0 ? boundaryRow : start[r]! + q
      }
    }
    const list = indices([rows * group], data)
    made.set(key, list)
    return list
  }
  return {
    tokens: indices([rows], tokens),
    outputs: indices([outputs.length], outputs),
    targets: indices([targets.length], targets),
    sources,
    fusion: (_kernels, nodes, group, dilation) => ({ nodes, sources: sources(group, dilation) }),
    ...(batch.seed === undefined ? {} : { seed: batch.seed }),
  }
}

/** Logits (T, V) of a packed batch's outputs; in train mode also the model with updated running statistics. */
export const sequenceLogits = (kernels: Kernels, model: Model, packed: PackedWords, mode: Mode) => {
  const out = sequenceForward(kernels, model.net, packed.tokens, 1, packed, mode)
  const nodes = out.y
  if (nodes.shape.length !== 2) throw new RangeError(`the sequence view expects (N, V) logits of the nodes, got [${nodes.shape.join(', ')}]`)
  const [rows, classes] = nodes.shape as [number, number]
  const count = packed.outputs.data.length
  const logits = kernels.alloc(nodes.data, count * classes)
  kernels.gather(nodes.data, packed.outputs.data, logits, count, classes)
  const after: Model = out.layer === model.net ? model : { ...model, net: out.layer }
  return { logits: tensor([count, classes], logits), tape: out.tape, rows, model: after }
}

/**
 * Forward in train mode over whole words, cross-entropy over every output,
 * and backward: the sequence view's `gradients`.
 */
export const sequenceGradients = (kernels: Kernels, model: Model, packed: PackedWords): Gradients => {
  const { logits, tape, rows, model: after } = sequenceLogits(kernels, model, packed, trainingMode(packed.seed))
  const loss = crossEntropy(kernels, logits, packed.targets)
  const dlogits: Tensor = crossEntropyBackward(kernels, loss.tape)
  const [count, classes] = logits.shape as [number, number]
  const dnodes = kernels.alloc(dlogits.data, rows * classes)
  kernels.scatterAdd(dlogits.data, packed.outputs.data, dnodes, count, classes, rows)
  const { grads } = sequenceBackward(kernels, model.net, tape, tensor([rows, classes], dnodes))
  return { loss: loss.loss, grads, model: after }
}

/** How `evaluateWords` runs. */
export interface EvaluateWordsOptions {
  /** Outputs per forward pass, at most (whole words; a longer word alone; default 2048: the nodes stay in the caches). */
  readonly chunk?: number
}

/**
 * Mean cross-entropy over every output of every word in eval mode, each node
 * computed once per word: the same figure as `evaluate` over the words'
 * (context, next character) examples.
 */
export const evaluateWords = (kernels: Kernels, model: Model, words: readonly Int32Array[], options: EvaluateWordsOptions = {}): number => {
  const chunk = options.chunk ?? 2048
  let total = 0
  let outputs = 0
  for (let first = 0; first < words.length;) {
    let last = first
    let count = 0
    while (last < words.length && (last === first || count + outputsOf(words[last]!.length) <= chunk)) count += outputsOf(words[last++]!.length)
    const packed = packWords({ words: words.slice(first, last) })
    total += kernels.scope(() => crossEntropy(kernels, sequenceLogits(kernels, model, packed, 'eval').logits, packed.targets).loss) * count
    outputs += count
    first = last
  }
  return outputs === 0 ? Number.NaN : total / outputs
}
