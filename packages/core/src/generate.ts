/**
 * Generators: the model run forward one character at a time for several
 * rows side by side (each row its own sequence), giving the logits of each
 * row's next character.
 *
 * - `cachedGenerator` (Paine et al., "Fast Wavenet Generation", 2016): the
 *   sequence view (`sequence.ts`) with, for every fusion, the nodes later
 *   positions reuse kept in a queue per row, so a new character costs one
 *   fusion per level instead of the whole tree. Before a row's first
 *   character every fusion reads its level's boundary node, computed once.
 * - `naiveGenerator`: the whole tree for every character, from a sliding
 *   window of the last R tokens (R, the receptive field), in chunks of rows
 *   sized to R so deep models stay within memory.
 *
 * Both compute every node from the same inputs with the same kernels, so
 * with kernels whose per-row results do not depend on how many rows are
 * computed together (both backends' are) they give the same bits.
 */
import { BOUNDARY } from './data.js'
import type { Kernels } from './kernels/kernels.js'
import type { Packing } from './layers/layer.js'
import { sequenceForward } from './layers/sequential.js'
import { logitsWidth, type Model, modelForward, receptiveField } from './model.js'
import { indices, type Tensor, tensor } from './tensor.js'

export interface Generator {
  /** Logits (rows.length × V) of the next character of each of these rows. */
  logits(rows: readonly number[]): Float32Array
  /** Appends one token to each of these rows. */
  push(rows: readonly number[], tokens: Int32Array): void
}

/** Context tokens per naive forward pass, at most: rows per chunk = this / R (at least 1). */
const NAIVE_CHUNK_TOKENS = 1 << 16

/** The whole tree for every character (see the module comment). */
export const naiveGenerator = (kernels: Kernels, model: Model, count: number): Generator => {
  const field = receptiveField(model)
  const classes = logitsWidth(model)
  const contexts = Array.from({ length: count }, () => new Int32Array(field).fill(BOUNDARY))
  const chunk = Math.max(1, Math.floor(NAIVE_CHUNK_TOKENS / field))
  return {
    logits(rows) {
      const out = new Float32Array(rows.length * classes)
      for (let first = 0; first < rows.length; first += chunk) {
        const part = rows.slice(first, first + chunk)
        const batch = new Int32Array(part.length * field)
        part.forEach((row, i) => batch.set(contexts[row]!, i * field))
        out.set(kernels.scope(() => modelForward(kernels, model, indices([part.length, field], batch), 'eval').y.data), first * classes)
      }
      return out
    },
    push(rows, tokens) {
      rows.forEach((row, i) => {
        const context = contexts[row]!
        context.copyWithin(0, 1)
        context[field - 1] = tokens[i]!
      })
    },
  }
}

/** The queues of one fusion: for every row, the last `span` input nodes, position q at slot q mod span. */
interface Queue {
  readonly span: number
  readonly width: number
  readonly values: Float32Array
}

/** The queue-cached generator (see the module comment). */
export const cachedGenerator = (kernels: Kernels, model: Model, count: number): Generator => {
  const classes = logitsWidth(model)
  // Every fusion's boundary node, and the logits of the all-boundary context, from one pass over a lone boundary token.
  const boundary = new Map<string, Float32Array>()
  const boundaryLogits = kernels.scope(() => sequenceForward(kernels, model.net, indices([1], Int32Array.of(BOUNDARY)), 1, {
    fusion(nodes, group, dilation) {
      boundary.set(`${group}×${dilation}`, Float32Array.from(nodes.data))
      return { nodes, sources: indices([group], new Int32Array(group)) }
    },
  }, 'eval').y.data)
  const queues = new Map<string, Queue>()
  /** Tokens each row has been given. */
  const position = new Int32Array(count)
  /** Each row's logits after its last token. */
  const latest = new Float32Array(count * classes)
  for (let row = 0; row < count; row++) latest.set(boundaryLogits, row * classes)

  /** The fusion of a step: a table of the boundary node, the queued nodes each row reads and the new nodes; then the new nodes queued. */
  const fusion = (rows: readonly number[]) => (x: Tensor, group: number, dilation: number) => {
    const key = `${group}×${dilation}`
    const width = x.shape[1]!
    const span = (group - 1) * dilation
    let queue = queues.get(key)
    if (queue === undefined) {
      queue = { span, width, values: new Float32Array(count * span * width) }
      queues.set(key, queue)
    }
    const n = rows.length
    const table = new Float32Array((1 + n * group) * width)
    table.set(boundary.get(key)!, 0)
    const sources = new Int32Array(n * group)
    rows.forEach((row, i) => {
      const t = position[row]!
      for (let j = 0; j < group - 1; j++) {
        const q = t - (group - 1 - j) * dilation
        if (q < 0) continue
        const at = 1 + i * (group - 1) + j
        const slot = (row * span + (q % span)) * width
        table.set(queue.values.subarray(slot, slot + width), at * width)
        sources[i * group + j] = at
      }
      const fresh = 1 + n * (group - 1) + i
      const node = x.data.subarray(i * width, (i + 1) * width)
      table.set(node, fresh * width)
      sources[i * group + group - 1] = fresh
      if (span > 0) queue.values.set(node, (row * span + (t % span)) * width)
    })
    return { nodes: tensor([1 + n * group, width], table), sources: indices([n * group], sources) }
  }

  return {
    logits(rows) {
      const out = new Float32Array(rows.length * classes)
      rows.forEach((row, i) => out.set(latest.subarray(row * classes, (row + 1) * classes), i * classes))
      return out
    },
    push(rows, tokens) {
      const packing: Packing = { fusion: fusion(rows) }
      const logits = kernels.scope(() => sequenceForward(kernels, model.net, indices([rows.length], tokens), 1, packing, 'eval').y.data)
      rows.forEach((row, i) => {
        latest.set(logits.subarray(i * classes, (i + 1) * classes), row * classes)
        position[row] = position[row]! + 1
      })
    },
  }
}
