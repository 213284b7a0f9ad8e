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
import { BOUNDARY, textStream } from './data.js'
import type { Kernels } from './kernels/kernels.js'
import { type Mode, type Packing, trainingMode } from './layers/layer.js'
import { sequenceBackward, sequenceForward } from './layers/sequential.js'
import { crossEntropy, crossEntropyBackward } from './loss.js'
import { type Model, receptiveField } from './model.js'
import { indices, type IndexTensor, type Tensor, tensor } from './tensor.js'
import type { Gradients } from './train.js'

/** Words for the sequence view: each word's token ids, without boundary tokens. */
export interface WordBatch {
  readonly words: readonly Int32Array[]
  /** (1): the step's dropout seed, for a model with dropout layers (see `withStepSeed`). */
  readonly seed?: IndexTensor
}

/** A batch laid out as the sequence view's nodes: whole words (`packWords`) or windows of running text (`packWindows`). */
export interface PackedSequence extends Packing {
  /** (N): the token of every node of the first level. */
  readonly tokens: IndexTensor
  /** (T): the rows of the top level whose predictions are scored. */
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

/** A packing's `sources` and `fusion` from a maker of index lists, each list made once per fusion shape. */
const fusionsOf = (make: (group: number, dilation: number) => Int32Array): Pick<PackedSequence, 'sources' | 'fusion'> => {
  const made = new Map<string, IndexTensor>()
  const sources = (group: number, dilation: number): IndexTensor => {
    const key = `${group}×${dilation}`
    const found = made.get(key)
    if (found !== undefined) return found
    const data = make(group, dilation)
    const list = indices([data.length], data)
    made.set(key, list)
    return list
  }
  return { sources, fusion: (_kernels, nodes, group, dilation) => ({ nodes, sources: sources(group, dilation) }) }
}

/** The layout of a batch of words (see the module comment); `sources` is computed per fusion shape on demand. */
export const packWords = (batch: WordBatch): PackedSequence => {
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
  return {
    tokens: indices([rows], tokens),
    outputs: indices([outputs.length], outputs),
    targets: indices([targets.length], targets),
    // Node r at position p fuses the nodes at p − (group−1−j)·dilation, j = 0 … group−1; before 0, the boundary node.
    ...fusionsOf((group, dilation) => {
      const data = new Int32Array(rows * group)
      for (let r = 0; r < rows; r++) {
        const position = r - start[r]!
        for (let j = 0; j < group; j++) {
          const q = position - (group - 1 - j) * dilation
          data[r * group + j] = r === boundaryRow || q < 0 ? boundaryRow : start[r]! + q
        }
      }
      return data
    }),
    at: () => undefined,
    ...(batch.seed === undefined ? {} : { seed: batch.seed }),
  }
}

/**
 * Windows of running text for the sequence view: each window W = R − 1 + T
 * consecutive tokens (R, the model's receptive field) and the T characters
 * that follow its last T positions, so every target has its whole context
 * in the window (a document's start is preceded by boundary tokens).
 */
export interface WindowBatch {
  /** (B·W): the windows' tokens end to end. */
  readonly tokens: Int32Array
  /** (B·T): each window's targets, in order. */
  readonly targets: Int32Array
  /** B, the number of windows. */
  readonly windows: number
  /** (1): the step's dropout seed, for a model with dropout layers (see `withStepSeed`). */
  readonly seed?: IndexTensor
}

/**
 * The layout of windows of running text, as dilated causal convolutions
 * with no padding: a level of nodes `s` steps apart has, in each window, a
 * node at every position whose field of s tokens lies in the window
 * (positions s − 1 … W − 1), so each level holds s − 1 fewer nodes per
 * window than the tokens, and the top level (s = R) holds exactly the T
 * nodes that predict the targets. Batch statistics are taken over these
 * nodes, as a convolution over the windows would.
 */
export const packWindows = (batch: WindowBatch): PackedSequence => {
  const { windows } = batch
  if (!Number.isInteger(windows) || windows < 1) throw new RangeError(`a batch needs at least one window, got ${windows}`)
  const width = batch.tokens.length / windows
  const count = batch.targets.length / windows
  if (!Number.isInteger(width) || !Number.isInteger(count) || count < 1 || count > width) {
    throw new RangeError(`${windows} windows cannot hold ${batch.tokens.length} tokens and ${batch.targets.length} targets`)
  }
  const field = width - count + 1
  /** Nodes per window of a level whose nodes are `stride` steps apart. */
  const nodes = (stride: number): number => {
    if (stride > field) throw new RangeError(`a level of nodes ${stride} steps apart sees more than the windows' ${field} characters of context`)
    return width - stride + 1
  }
  return {
    tokens: indices([batch.tokens.length], batch.tokens),
    outputs: indices([batch.targets.length], Int32Array.from({ length: batch.targets.length }, (_, i) => i)),
    targets: indices([batch.targets.length], batch.targets),
    ...fusionsOf((group, dilation) => {
      const [below, above] = [nodes(dilation), nodes(group * dilation)]
      const data = new Int32Array(windows * above * group)
      for (let b = 0, i = 0; b < windows; b++) {
        // The node at position p (from group·dilation − 1) fuses those at p − (group−1−j)·dilation; the level below starts at dilation − 1.
        for (let n = 0; n < above; n++) {
          for (let j = 0; j < group; j++) data[i++] = b * below + n + j * dilation
        }
      }
      return data
    }),
    at(stride) {
      if (stride === field) return undefined
      const per = nodes(stride)
      const data = new Int32Array(windows * count)
      for (let b = 0; b < windows; b++) for (let t = 0; t < count; t++) data[b * count + t] = b * per + field - stride + t
      return indices([data.length], data)
    },
    ...(batch.seed === undefined ? {} : { seed: batch.seed }),
  }
}

/** Logits (T, V) of a packed batch's outputs; in train mode also the model with updated running statistics. */
export const sequenceLogits = (kernels: Kernels, model: Model, packed: PackedSequence, mode: Mode) => {
  const out = sequenceForward(kernels, model.net, packed.tokens, 1, packed, mode)
  const nodes = out.y
  if (nodes.shape.length !== 2) throw new RangeError(`the sequence view expects (N, V) logits of the nodes, got [${nodes.shape.join(', ')}]`)
  if (packed.at(out.stride) !== undefined) throw new RangeError(`the model sees ${out.stride} characters, fewer than the batch's windows hold before each target`)
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
export const sequenceGradients = (kernels: Kernels, model: Model, packed: PackedSequence): Gradients => {
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

/**
 * A window for the targets `stream[first … first + count − 1]` of a stream
 * of tokens, with the `field` tokens before the first (`first` ≥ `field`):
 * one window of a `WindowBatch`.
 */
export const windowAt = (stream: Int32Array, field: number, first: number, count: number): WindowBatch => {
  if (!(first >= field && count >= 1 && first + count <= stream.length)) {
    throw new RangeError(`targets ${first} … ${first + count - 1} need ${field} tokens before them, inside a stream of ${stream.length}`)
  }
  return { tokens: stream.subarray(first - field, first + count - 1), targets: stream.subarray(first, first + count), windows: 1 }
}

/** Windows that read every character of each document once, in order, up to `chunk` targets each, each document preceded by `field` boundary tokens. */
export function* documentWindows(documents: readonly Int32Array[], field: number, chunk = 1024): Generator<WindowBatch> {
  for (const document of documents) {
    const stream = textStream([document], field)
    for (let first = field; first < stream.length; first += chunk) yield windowAt(stream, field, first, Math.min(chunk, stream.length - first))
  }
}

/** The summed cross-entropy (nats) of a batch of windows' targets in eval mode, and how many targets. */
export const windowsLoss = (kernels: Kernels, model: Model, batch: WindowBatch): { readonly total: number; readonly count: number } => {
  const packed = packWindows(batch)
  const count = batch.targets.length
  return { total: kernels.scope(() => crossEntropy(kernels, sequenceLogits(kernels, model, packed, 'eval').logits, packed.targets).loss) * count, count }
}

/** How `evaluateText` runs. */
export interface EvaluateTextOptions {
  /** Targets per forward pass, at most (default 1024). */
  readonly chunk?: number
}

/**
 * Mean cross-entropy (nats) over every character of some documents of
 * running text in eval mode, each document preceded by R boundary tokens
 * (R, the model's receptive field) as in training: every character once,
 * with its whole context.
 */
export const evaluateText = (kernels: Kernels, model: Model, documents: readonly Int32Array[], options: EvaluateTextOptions = {}): number => {
  let total = 0
  let count = 0
  for (const window of documentWindows(documents, receptiveField(model), options.chunk)) {
    const loss = windowsLoss(kernels, model, window)
    total += loss.total
    count += loss.count
  }
  return count === 0 ? Number.NaN : total / count
}
