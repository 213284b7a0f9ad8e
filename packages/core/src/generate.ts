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
 *   window of the last R tokens (R, the receptive field). `sampleWords`
 *   generates in chunks of rows sized to R, so deep models stay within memory.
 *
 * Both compute every node from the same inputs with the same kernels, so
 * with kernels whose per-row results do not depend on how many rows are
 * computed together (both backends' are) they give the same bits.
 */
import { BOUNDARY } from './data.js'
import type { Kernels } from './kernels/kernels.js'
import type { Packing } from './layers/layer.js'
import { layerBuffers, layerParameters, sequenceForward } from './layers/sequential.js'
import { logitsWidth, type Model, modelForward, receptiveField, withParameters } from './model.js'
import { compile, fill, packed, type Program, workspace } from './compiled.js'
import type { Arena } from './kernels/wasm-arena.js'
import { type WasmKernels, wasmInternals } from './kernels/wasm.js'
import { type FloatArray, indices, tensor } from './tensor.js'

export interface Generator {
  /** Logits (rows.length × V) of the next character of each of these rows. */
  logits(rows: readonly number[]): Float32Array
  /** Appends one token to each of these rows. */
  push(rows: readonly number[], tokens: Int32Array): void
}

/** The whole tree for every character (see the module comment). */
export const naiveGenerator = (kernels: Kernels, model: Model, count: number): Generator => {
  const field = receptiveField(model)
  const contexts = Array.from({ length: count }, () => new Int32Array(field).fill(BOUNDARY))
  return {
    logits(rows) {
      const batch = new Int32Array(rows.length * field)
      rows.forEach((row, i) => batch.set(contexts[row]!, i * field))
      return Float32Array.from(kernels.scope(() => modelForward(kernels, model, indices([rows.length, field], batch), 'eval').y.data))
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

/**
 * A fusion's queues are one table of nodes: row 0 its boundary node, then
 * for each row of the generator `ring` slots, the node of position q at slot
 * q mod ring. A ring of (group − 1)·dilation + 1 slots holds the nodes the
 * next fusion reads and the one it writes.
 */
const ringOf = (group: number, dilation: number): number => (group - 1) * dilation + 1

/**
 * For generator rows at their positions, a fusion's step: the slot each new
 * node is written to, and the slots each node fuses, oldest first (position
 * q < 0: the boundary node).
 */
const queueRows = (rows: readonly number[], position: Int32Array, group: number, dilation: number) => {
  const ring = ringOf(group, dilation)
  const slot = (row: number, q: number): number => (q < 0 ? 0 : 1 + row * ring + (q % ring))
  const slots = Int32Array.from(rows, (row) => slot(row, position[row]!))
  const sources = new Int32Array(rows.length * group)
  rows.forEach((row, i) => {
    for (let j = 0; j < group; j++) sources[i * group + j] = slot(row, position[row]! - (group - 1 - j) * dilation)
  })
  return { slots, sources }
}

/** Every fusion's boundary node (keyed `group×dilation`), and the logits of the all-boundary context, from one pass over a lone boundary token. */
const boundaryOf = (kernels: Kernels, model: Model) =>
  kernels.scope(() => {
    const found: { readonly key: string; readonly group: number; readonly dilation: number; readonly node: FloatArray }[] = []
    const out = sequenceForward(kernels, model.net, indices([1], Int32Array.of(BOUNDARY)), 1, {
      fusion(_kernels, nodes, group, dilation) {
        found.push({ key: `${group}×${dilation}`, group, dilation, node: nodes.data.slice() })
        return { nodes, sources: indices([group], new Int32Array(group)) }
      },
      at: () => undefined,
    }, 'eval')
    return { logits: out.y.data, found }
  })

/** A generator over the logits each push computes (n rows × V, for the rows pushed); `latest` keeps each row's. */
const queued = (count: number, classes: number, first: FloatArray, run: (rows: readonly number[], tokens: Int32Array) => Float32Array | FloatArray): Generator => {
  const latest = new Float32Array(count * classes)
  for (let row = 0; row < count; row++) latest.set(first, row * classes)
  return {
    logits(rows) {
      const out = new Float32Array(rows.length * classes)
      rows.forEach((row, i) => out.set(latest.subarray(row * classes, (row + 1) * classes), i * classes))
      return out
    },
    push(rows, tokens) {
      const logits = run(rows, tokens)
      rows.forEach((row, i) => latest.set(logits.subarray(i * classes, (i + 1) * classes), row * classes))
    },
  }
}

/**
 * The queue-cached generator (see the module comment): compiled on the
 * WebAssembly kernels (one program per number of rows, replayed with no
 * allocation), run through the layers on any other kernels. Its queues are
 * allocated in the kernels' memory when it is made: make it inside
 * `kernels.scope`, which frees them when the generation is done.
 */
export const cachedGenerator = (kernels: Kernels, model: Model, count: number): Generator => {
  const internals = wasmInternals(kernels)
  return internals === undefined ? layeredGenerator(kernels, model, count) : compiledGenerator(kernels as WasmKernels, internals.arena, model, count)
}

const layeredGenerator = (kernels: Kernels, model: Model, count: number): Generator => {
  const classes = logitsWidth(model)
  const probe = boundaryOf(kernels, model)
  const tables = new Map(probe.found.map(({ key, group, dilation, node }) => {
    const table = kernels.alloc(node, (1 + count * ringOf(group, dilation)) * node.length)
    table.set(node, 0)
    return [key, table] as const
  }))
  const position = new Int32Array(count)
  return queued(count, classes, probe.logits, (rows, tokens) => {
    const packing: Packing = {
      fusion(k, x, group, dilation) {
        const table = tables.get(`${group}×${dilation}`)!
        const width = x.shape[1]!
        const { slots, sources } = queueRows(rows, position, group, dilation)
        k.scatterRows(x.data, slots, table, rows.length, width, table.length / width)
        return { nodes: tensor([table.length / width, width], table), sources: indices([sources.length], sources) }
      },
      at: () => undefined,
    }
    const logits = kernels.scope(() => sequenceForward(kernels, model.net, indices([rows.length], tokens), 1, packing, 'eval').y.data)
    for (const row of rows) position[row] = position[row]! + 1
    return logits
  })
}

const compiledGenerator = (kernels: WasmKernels, arena: Arena, model: Model, count: number): Generator => {
  const classes = logitsWidth(model)
  const tensors = { ...layerParameters(model.net), ...layerBuffers(model.net) }
  const weights = packed(arena, tensors)
  fill(weights.views(), tensors)
  const probe = boundaryOf(kernels, withParameters(model, weights.views()))
  const tables = new Map(probe.found.map(({ key, group, dilation, node }) => {
    const length = (1 + count * ringOf(group, dilation)) * node.length
    const at = arena.reserveMovable(length * 4)
    new Float32Array(arena.buffer(), at, node.length).set(node)
    return [key, { at, length, width: node.length }] as const
  }))
  const logitsAt = arena.reserveMovable(count * classes * 4)
  const place = workspace(arena)
  const position = new Int32Array(count)
  /** A program per number of rows, with the fusions whose slots and sources it takes, in input order. */
  const programs = new Map<number, { readonly run: Program; readonly fusions: readonly (readonly [number, number])[] }>()
  const programFor = (n: number) => {
    const fusions: (readonly [number, number])[] = []
    const run = compile(kernels, arena, place, (recording, _temporaries, input) => {
      const tokens = input(n, 'token id')
      const packing: Packing = {
        fusion(k, x, group, dilation) {
          fusions.push([group, dilation])
          const { at, length, width } = tables.get(`${group}×${dilation}`)!
          const table = new Float32Array(arena.buffer(), at, length)
          const [slots, sources] = [input(n, 'slot'), input(n * group, 'source')]
          k.scatterRows(x.data, slots, table, n, width, length / width)
          return { nodes: tensor([length / width, width], table), sources: indices([n * group], sources) }
        },
        at: () => undefined,
      }
      const views = weights.views()
      const y = sequenceForward(recording, withParameters(model, views).net, indices([n], tokens), 1, packing, 'eval').y
      return {
        bindings: new Map([[y.data, new Float32Array(arena.buffer(), logitsAt, n * classes)]]),
        value: false,
        // The generator's own copy of the weights: nothing writes it while it lives.
        constants: new Set(Object.values(views).map((t) => t.data)),
      }
    })
    return { run, fusions }
  }
  return queued(count, classes, probe.logits, (rows, tokens) => {
    const n = rows.length
    const program = programs.get(n) ?? programFor(n)
    programs.set(n, program)
    const inputs = program.fusions.flatMap(([group, dilation]) => {
      const { slots, sources } = queueRows(rows, position, group, dilation)
      return [slots, sources]
    })
    program.run([tokens, ...inputs])
    for (const row of rows) position[row] = position[row]! + 1
    return new Float32Array(arena.buffer(), logitsAt, n * classes)
  })
}
