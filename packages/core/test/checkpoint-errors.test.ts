/**
 * Checkpoints read from untrusted files: each damaged field gives its own
 * error, with the message the CLI prints, and each optional field is read
 * back exactly as written (absent stays absent).
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import {
  adamW, buildVocabulary, type Checkpoint, CHECKPOINT_VERSION, type CheckpointError, decodeCheckpoint, decodeSafetensors, encodeCheckpoint,
  encodeSafetensors, MAX_RECEPTIVE_FIELD, type Model, seeded, sgd, trainableParameters, wavenet,
} from '../src/index.js'

const vocab = buildVocabulary(['emma', 'olivia', 'ava'])
const V = vocab.symbols.length
const model: Model = wavenet({ vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 4, seed: 2 })
const adamConfig = { kind: 'adamw' as const, lr: 3e-3, totalSteps: 100, decayAt: 0.75, decay: 0.1, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0.01 }
const base: Checkpoint = { model, vocab, step: 12, rng: seeded(5), history: { train: [[10, 2.5]], val: [[12, 2.7]] } }
const withOptimizer: Checkpoint = {
  ...base, optimizer: { config: adamConfig, state: { ...adamW(adamConfig, adamConfig).init(trainableParameters(model)), step: 12 } },
}

type Tensors = { name: string; tensor: { shape: readonly number[]; data: Float32Array } }[]
/** The file of `checkpoint` with its tensors and metadata edited. */
const rewrite = (checkpoint: Checkpoint, edit: (tensors: Tensors, metadata: Record<string, string>) => void): Uint8Array => {
  const decoded = decodeSafetensors(encodeCheckpoint(checkpoint))
  if (E.isLeft(decoded)) throw new Error(decoded.left.message)
  const list: Tensors = [...decoded.right.tensors].map(([name, tensor]) => ({ name, tensor }))
  const meta = { ...decoded.right.metadata }
  edit(list, meta)
  return encodeSafetensors(list, meta)
}
const withMetadata = (field: string, value: string | undefined, checkpoint = base): Uint8Array => rewrite(checkpoint, (_, m) => {
  if (value === undefined) delete m[field]
  else m[field] = value
})
const error = (bytes: Uint8Array): CheckpointError => {
  const result = decodeCheckpoint(bytes)
  if (E.isRight(result)) throw new Error('expected the file to be refused')
  return result.left
}
const decoded = (bytes: Uint8Array): Checkpoint => {
  const result = decodeCheckpoint(bytes)
  if (E.isLeft(result)) throw new Error(result.left.message)
  return result.right
}
const bad = (field: string, why: string): CheckpointError => ({ kind: 'bad-metadata', field, message: `checkpoint metadata "${field}" ${why}` })

describe('checkpoint errors, each with its message', () => {
  it('a file that is not a checkpoint of a version this build reads', () => {
    const container = error(new TextEncoder().encode('not a checkpoint at all'))
    expect(container.kind).toBe('container')
    expect(container.message).toMatch(/^not a valid safetensors file: ./)
    expect(error(withMetadata('format', 'other'))).toEqual({ kind: 'not-wavenet', message: 'not a wavenet checkpoint (metadata "format" is not "wavenet")' })
    expect(error(withMetadata('format', undefined)).kind).toBe('not-wavenet')
    expect(error(withMetadata('version', '3'))).toEqual({
      kind: 'unsupported-version', message: `checkpoint format version "3" is not supported (this build reads versions 1 and ${CHECKPOINT_VERSION})`,
    })
    expect(error(withMetadata('version', undefined)).message).toBe('checkpoint format version null is not supported (this build reads versions 1 and 2)')
    expect(error(withMetadata('version', '02')).kind).toBe('unsupported-version')
  })

  it('an unsupported dtype is named as the container reports it, as a checkpoint problem', () => {
    const bytes = encodeCheckpoint(base)
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)).replace('"F32"', '"I32"')
    const edited = new Uint8Array(bytes)
    edited.set(new TextEncoder().encode(header), 8)
    expect(error(edited).message).toMatch(/^checkpoint [^:]*dtype "I32"/)
  })

  it('missing or malformed JSON fields', () => {
    expect(error(withMetadata('network', undefined))).toEqual(bad('network', 'is missing'))
    expect(error(withMetadata('network', '{"kind":'))).toEqual(bad('network', 'is not valid JSON'))
    expect(error(withMetadata('network', '{"kind":"tanh"}'))).toEqual(bad('network', 'describes a tanh, not a Sequential'))
    expect(error(withMetadata('network', '{"kind":"nothing"}')).message).toMatch(/^checkpoint metadata "network" is not a valid network description: ./)
    expect(error(withMetadata('config', '{"kind":'))).toEqual(bad('config', 'is not valid JSON'))
    expect(error(withMetadata('vocab', undefined))).toEqual(bad('vocab', 'is missing'))
    expect(error(withMetadata('vocab', '{"0":""}'))).toEqual(bad('vocab', 'is not a list of distinct characters after ""'))
    expect(error(withMetadata('vocab', JSON.stringify(['', 'a', 'a', ...vocab.symbols.slice(3)])))).toEqual(bad('vocab', 'is not a list of distinct characters after ""'))
    expect(error(withMetadata('vocab', JSON.stringify(vocab.symbols.slice(0, -1))))).toEqual(bad('vocab', `has ${V - 1} symbols but the network gives ${V} logits`))
    expect(error(withMetadata('rng', '[1,2,3]'))).toEqual(bad('rng', 'is not a generator state of four 32-bit words'))
    expect(error(withMetadata('rng', '{"0":1,"1":2,"2":3,"3":4}'))).toEqual(bad('rng', 'is not a generator state of four 32-bit words'))
    expect(error(withMetadata('rng', undefined))).toEqual(bad('rng', 'is missing'))
    expect(error(withMetadata('history', undefined))).toEqual(bad('history', 'is missing'))
  })

  it('values: a zero running variance is a variance, a negative one is not', () => {
    const withVariance = (value: number) => rewrite(base, (t) => {
      const found = t.find((x) => x.name === 'fuse.0.norm.running_var')!
      const data = Float32Array.from(found.tensor.data)
      data[2] = value
      found.tensor = { shape: found.tensor.shape, data }
    })
    expect(decoded(withVariance(0)).model).toBeDefined()
    expect(error(withVariance(-1e-30))).toEqual({
      kind: 'bad-value', tensor: 'fuse.0.norm.running_var',
      message: `checkpoint tensor "fuse.0.norm.running_var" holds a negative running variance (${Math.fround(-1e-30)}) at index 2`,
    })
  })

  it('the history: pairs of a whole step and a loss, for train and val', () => {
    const why = 'is not {"train": [[step, loss], …], "val": [[step, loss], …]}'
    for (const history of ['[]', '{"train":[]}', '{"val":[]}', '{"train":[[1,2]],"val":[[1]]}', '{"train":[[1,2,3]],"val":[]}', '{"train":[[-1,2]],"val":[]}',
      '{"train":[[1.5,2]],"val":[]}', '{"train":[],"val":[[1,"2"]]}', '{"train":[[1,2]],"val":{}}', '{"train":[1],"val":[]}']) {
      expect(error(withMetadata('history', history)), history).toEqual(bad('history', why))
    }
    expect(decoded(withMetadata('history', '{"train":[[0,2.5],[3,-1]],"val":[]}')).history).toEqual({ train: [[0, 2.5], [3, -1]], val: [] })
  })

  it('step and seed: non-negative whole numbers in decimal, the seed optional', () => {
    for (const field of ['step', 'seed']) {
      for (const text of ['-1', '1.5', '', ' 12', '12 ', '1e3', '0x10', '9007199254740993', 'twelve']) {
        expect(error(withMetadata(field, text)), `${field} ${JSON.stringify(text)}`).toEqual(bad(field, 'is not a non-negative integer'))
      }
    }
    expect(error(withMetadata('step', undefined))).toEqual(bad('step', 'is not a non-negative integer'))
    expect(decoded(withMetadata('step', '0')).step).toBe(0)
    expect(decoded(withMetadata('step', '9007199254740991')).step).toBe(2 ** 53 - 1)
    const seeded7 = decoded(encodeCheckpoint({ ...base, seed: 7 }))
    expect(seeded7.seed).toBe(7)
    expect('seed' in decoded(encodeCheckpoint(base))).toBe(false)
    expect(decoded(encodeCheckpoint({ ...base, seed: 0 })).seed).toBe(0)
  })

  it('mode: example, sequence or text, absent when not recorded', () => {
    expect(error(withMetadata('mode', 'words'))).toEqual(bad('mode', 'is not one of example, sequence, text'))
    expect(error(withMetadata('mode', ''))).toEqual(bad('mode', 'is not one of example, sequence, text'))
    for (const mode of ['example', 'sequence', 'text'] as const) expect(decoded(encodeCheckpoint({ ...base, mode })).mode).toBe(mode)
    expect('mode' in decoded(encodeCheckpoint(base))).toBe(false)
    expect('training' in decoded(encodeCheckpoint(base))).toBe(false)
    expect('optimizer' in decoded(encodeCheckpoint(base))).toBe(false)
  })

  it('training: exactly a positive batch, a data digest and a backend, and a positive window on running text', () => {
    const why = 'is not {"batch": N, "data": TEXT, "backend": TEXT} (and "window": N on running text)'
    for (const record of ['{"batch":1.5,"data":"x","backend":"wasm"}', '{"batch":8,"data":"x","backend":2}', '{"batch":"8","data":"x","backend":"js"}', '"x"', 'null',
      '{"batch":8,"data":"x","backend":"js","window":0}', '{"batch":8,"data":"x","backend":"js","window":2.5}', '{"batch":8,"data":"x","window":4}',
      '{"batch":8,"data":"x","backend":"js","other":4}', '{"batch":8,"data":"x","backend":"js","window":4,"other":1}']) {
      expect(error(withMetadata('training', record)), record).toEqual(bad('training', why))
    }
    const plain = decoded(withMetadata('training', '{"backend":"js","batch":1,"data":""}')).training
    expect(plain).toEqual({ batch: 1, data: '', backend: 'js' })
    expect(plain !== undefined && 'window' in plain).toBe(false)
    expect(decoded(withMetadata('training', '{"batch":8,"data":"x","backend":"js","window":64}')).training).toEqual({ batch: 8, data: 'x', backend: 'js', window: 64 })
  })
})

describe('the model recipe (config)', () => {
  const config = (value: Record<string, unknown>): Uint8Array => withMetadata('config', JSON.stringify(value))
  const wave = { kind: 'wavenet', vocab: V, levels: 2, groupSize: 2, embedding: 3, hidden: 4 }

  it('needs an object with positive whole vocab, embedding and hidden', () => {
    expect(error(withMetadata('config', '[]'))).toEqual(bad('config', 'is not an object'))
    expect(error(withMetadata('config', 'null'))).toEqual(bad('config', 'is not an object'))
    for (const field of ['vocab', 'embedding', 'hidden']) {
      for (const value of [0, 1.5, '3', null, -1]) {
        expect(error(config({ ...wave, [field]: value })), `${field} ${value}`).toEqual(bad('config', 'needs positive integer vocab, embedding and hidden'))
      }
    }
  })

  it('a wavenet: positive whole levels, a group size of at least 2, a context within the limit, flags true or false', () => {
    const why = 'needs positive integer levels and a groupSize of at least 2'
    for (const change of [{ levels: 0 }, { levels: 1.5 }, { groupSize: 1 }, { groupSize: 0 }, { groupSize: 2.5 }, { groupSize: undefined }, { levels: '2' }]) {
      expect(error(config({ ...wave, ...change })), JSON.stringify(change)).toEqual(bad('config', why))
    }
    expect(error(config({ ...wave, levels: 21 }))).toEqual(bad('config', `describes a context of more than ${MAX_RECEPTIVE_FIELD} characters`))
    expect(error(config({ ...wave, groupSize: 3, levels: 13 }))).toEqual(bad('config', `describes a context of more than ${MAX_RECEPTIVE_FIELD} characters`))
    // At the limit the recipe is fine: it just does not describe this file's network.
    expect(error(config({ ...wave, levels: 20 }))).toEqual(bad('config', 'does not describe the network'))
    for (const flags of [{ residual: 'yes' }, { skip: 1 }, { residual: null }]) {
      expect(error(config({ ...wave, ...flags })), JSON.stringify(flags)).toEqual(bad('config', 'has a residual or skip that is not true or false'))
    }
    // Flags that are false are the same recipe as no flags.
    const plain = decoded(config({ ...wave, residual: false, skip: false })).model.config
    expect(plain).toEqual(wave)
    expect(plain !== undefined && 'residual' in plain).toBe(false)
    expect(plain !== undefined && 'skip' in plain).toBe(false)
    expect(error(config({ ...wave, residual: true }))).toEqual(bad('config', 'does not describe the network'))
    expect(error(config({ ...wave, skip: true }))).toEqual(bad('config', 'does not describe the network'))
    expect(error(config({ ...wave, hidden: 5 }))).toEqual(bad('config', 'does not describe the network'))
  })

  it('an mlp: a positive whole context within the limit; any other kind is refused', () => {
    const mlp = { kind: 'mlp', vocab: V, context: 4, embedding: 3, hidden: 4 }
    for (const context of [0, 2.5, '4', undefined]) {
      expect(error(config({ ...mlp, context })), String(context)).toEqual(bad('config', 'needs a positive integer context'))
    }
    expect(error(config({ ...mlp, context: MAX_RECEPTIVE_FIELD + 1 }))).toEqual(bad('config', `describes a context of more than ${MAX_RECEPTIVE_FIELD} characters`))
    expect(error(config({ ...mlp, context: MAX_RECEPTIVE_FIELD }))).toEqual(bad('config', 'does not describe the network'))
    expect(error(config(mlp))).toEqual(bad('config', 'does not describe the network'))
    expect(error(config({ ...wave, kind: 'transformer' }))).toEqual(bad('config', 'has an unknown model kind'))
  })

  it('version 1 files: the recipe is the network, checked the same way', () => {
    const v1 = (value: unknown): Uint8Array => rewrite(base, (_, m) => {
      m['version'] = '1'
      delete m['network']
      m['config'] = JSON.stringify(value)
    })
    expect(decoded(v1(wave)).model.config).toEqual(wave)
    expect(error(v1({ ...wave, groupSize: 1 }))).toEqual(bad('config', 'needs positive integer levels and a groupSize of at least 2'))
    expect(error(rewrite(base, (_, m) => { m['version'] = '1'; delete m['config'] }))).toEqual(bad('config', 'is missing'))
    // A recipe whose network is too large to describe is named as the config's fault.
    const huge = error(v1({ ...wave, embedding: 2 ** 14, hidden: 2 ** 15 }))
    expect(huge.kind).toBe('bad-metadata')
    expect(huge.message).toMatch(/^checkpoint metadata "config" is not a valid network description: ./)
  })

  it('a model without a recipe has no config at all', () => {
    const model = decoded(withMetadata('config', undefined)).model
    expect('config' in model).toBe(false)
  })
})

describe('tensors and optimizer state', () => {
  it('missing, misshapen and unexpected tensors are named', () => {
    const drop = (name: string, checkpoint = base) => rewrite(checkpoint, (t) => { t.splice(t.findIndex((x) => x.name === name), 1) })
    expect(error(drop('head.bias'))).toEqual({ kind: 'missing-tensor', tensor: 'head.bias', message: 'checkpoint lacks tensor "head.bias"' })
    const reshaped = (name: string, shape: number[], checkpoint = base) => rewrite(checkpoint, (t) => {
      const found = t.find((x) => x.name === name)!
      found.tensor = { shape, data: found.tensor.data }
    })
    expect(error(reshaped('head.bias', [1, V]))).toEqual({
      kind: 'wrong-shape', tensor: 'head.bias', message: `checkpoint tensor "head.bias" has shape [1, ${V}], expected [${V}]`,
    })
    expect(error(reshaped('head.weight', [4, V]))).toEqual({
      kind: 'wrong-shape', tensor: 'head.weight', message: `checkpoint tensor "head.weight" has shape [4, ${V}], expected [${V}, 4]`,
    })
    expect(error(reshaped('fuse.0.norm.num_batches_tracked', [1]))).toEqual({
      kind: 'wrong-shape', tensor: 'fuse.0.norm.num_batches_tracked', message: 'checkpoint tensor "fuse.0.norm.num_batches_tracked" has shape [1], expected []',
    })
    expect(error(reshaped('fuse.0.norm.num_batches_tracked', [1, 1])).message).toBe('checkpoint tensor "fuse.0.norm.num_batches_tracked" has shape [1, 1], expected []')
    // A shape of fewer axes is wrong even when the axes it has agree.
    expect(error(rewrite(base, (t) => {
      const found = t.find((x) => x.name === 'head.weight')!
      found.tensor = { shape: [V], data: found.tensor.data.slice(0, V) }
    }))).toEqual({ kind: 'wrong-shape', tensor: 'head.weight', message: `checkpoint tensor "head.weight" has shape [${V}], expected [${V}, 4]` })
    expect(error(rewrite(base, (t) => { t.push({ name: 'extra', tensor: { shape: [1], data: Float32Array.of(1) } }) }))).toEqual({
      kind: 'unexpected-tensor', tensor: 'extra', message: 'checkpoint has an unexpected tensor "extra"',
    })
    // Optimizer tensors belong only to a file that records the optimizer.
    const moments = decodeSafetensors(encodeCheckpoint(withOptimizer))
    if (E.isLeft(moments)) throw new Error(moments.left.message)
    const stray = rewrite(base, (t) => { t.push({ name: 'optimizer.m.head.bias', tensor: moments.right.tensors.get('optimizer.m.head.bias')! }) })
    expect(error(stray)).toEqual({ kind: 'unexpected-tensor', tensor: 'optimizer.m.head.bias', message: 'checkpoint has an unexpected tensor "optimizer.m.head.bias"' })
    // The optimizer's slots are checked and named like the model's tensors, with their prefix.
    expect(error(drop('optimizer.v.fuse.1.linear.weight', withOptimizer))).toEqual({
      kind: 'missing-tensor', tensor: 'optimizer.v.fuse.1.linear.weight', message: 'checkpoint lacks tensor "optimizer.v.fuse.1.linear.weight"',
    })
    expect(error(reshaped('optimizer.m.head.bias', [V, 1], withOptimizer))).toEqual({
      kind: 'wrong-shape', tensor: 'optimizer.m.head.bias', message: `checkpoint tensor "optimizer.m.head.bias" has shape [${V}, 1], expected [${V}]`,
    })
    // Running statistics are not trainable: they have no moments.
    expect(error(rewrite(withOptimizer, (t) => {
      t.push({ name: 'optimizer.m.fuse.0.norm.running_mean', tensor: { shape: [4], data: new Float32Array(4) } })
    })).message).toBe('checkpoint has an unexpected tensor "optimizer.m.fuse.0.norm.running_mean"')
  })

  it('a network that sees more context than the limit, however well its tensors match', () => {
    // One symbol, one channel: (B, 2^21) → flatten 2^10 → flatten 2^11 → linear to 1 logit, 2^21 weights (8 MiB).
    const field = 2 ** 21
    const network = {
      kind: 'sequential', names: ['embedding', 'a', 'b', 'head'],
      layers: [{ kind: 'embedding', vocab: 1, dim: 1 }, { kind: 'flatten', n: 2 ** 10 }, { kind: 'flatten', n: 2 ** 11 }, { kind: 'linear', in: field, out: 1, bias: false }],
    }
    const bytes = encodeSafetensors([
      { name: 'embedding.weight', tensor: { shape: [1, 1], data: Float32Array.of(1) } },
      { name: 'head.weight', tensor: { shape: [1, field], data: new Float32Array(field) } },
    ], { format: 'wavenet', version: '2', network: JSON.stringify(network), vocab: '[""]', step: '0', rng: '[1,2,3,4]', history: '{"train":[],"val":[]}' })
    expect(error(bytes)).toEqual(bad('network', `sees ${field} characters of context, more than ${MAX_RECEPTIVE_FIELD}`))
    // At the limit exactly (2^20, 4 MiB of weights) the network is read.
    const atLimit = { ...network, layers: [network.layers[0], { kind: 'flatten', n: 2 ** 10 }, { kind: 'flatten', n: 2 ** 10 }, { kind: 'linear', in: MAX_RECEPTIVE_FIELD, out: 1, bias: false }] }
    const fits = encodeSafetensors([
      { name: 'embedding.weight', tensor: { shape: [1, 1], data: Float32Array.of(1) } },
      { name: 'head.weight', tensor: { shape: [1, MAX_RECEPTIVE_FIELD], data: new Float32Array(MAX_RECEPTIVE_FIELD) } },
    ], { format: 'wavenet', version: '2', network: JSON.stringify(atLimit), vocab: '[""]', step: '0', rng: '[1,2,3,4]', history: '{"train":[],"val":[]}' })
    expect(decoded(fits).vocab.symbols).toEqual([''])
  })

  it('the optimizer: its configuration checked field by field, its state at its own step', () => {
    const read = decoded(encodeCheckpoint({ ...withOptimizer, optimizer: { ...withOptimizer.optimizer!, state: { ...withOptimizer.optimizer!.state, step: 7 } } }))
    expect(read.optimizer?.config).toEqual(adamConfig)
    expect(read.optimizer !== undefined && 'shape' in read.optimizer.config).toBe(false)
    expect(read.optimizer?.state.step).toBe(7)
    expect(read.step).toBe(12)
    expect(Object.keys(read.optimizer!.state.slots)).toEqual(['m', 'v'])
    const why = bad('optimizer', 'is not a valid optimizer configuration')
    const stored = { ...adamConfig, step: 12 }
    const edits: Record<string, unknown>[] = [
      { lr: 0 }, { lr: -1 }, { lr: '0.1' }, { totalSteps: 0 }, { totalSteps: 2.5 }, { decayAt: -0.5 }, { decayAt: null }, { decay: -1 }, { decay: 'x' },
      { step: -1 }, { step: 1.5 }, { shape: 'linear' }, { shape: null }, { kind: 'rmsprop' }, { kind: undefined }, { betas: [0.9] }, { betas: [0.9, 0.99, 0.999] },
      { betas: [0.9, -0.1] }, { betas: '0.9,0.999' }, { eps: 0 }, { eps: -1e-8 }, { weightDecay: -0.01 }, { weightDecay: undefined },
    ]
    for (const edit of edits) {
      expect(error(withMetadata('optimizer', JSON.stringify({ ...stored, ...edit }), withOptimizer)), JSON.stringify(edit)).toEqual(why)
    }
    expect(error(withMetadata('optimizer', '[]', withOptimizer))).toEqual(why)
    expect(error(withMetadata('optimizer', 'null', withOptimizer))).toEqual(why)
    // JSON has no infinity, but a number too large for a double parses as one.
    const text = JSON.stringify(stored)
    for (const [field, value] of [['lr', 0.003], ['decayAt', 0.75], ['decay', 0.1], ['eps', 1e-8], ['weightDecay', 0.01]] as const) {
      const infinite = text.replace(`"${field}":${JSON.stringify(value)}`, `"${field}":1e999`)
      expect(infinite, field).not.toBe(text)
      expect(error(withMetadata('optimizer', infinite, withOptimizer)), field).toEqual(why)
    }
    expect(error(withMetadata('optimizer', text.replace('"betas":[0.9,0.999]', '"betas":[0.9,1e999]'), withOptimizer))).toEqual(why)
    expect(error(withMetadata('optimizer', '{"kind":', withOptimizer))).toEqual(bad('optimizer', 'is not valid JSON'))
    // Zero is a valid decay, decayAt, weight decay and beta; each schedule shape is read back.
    for (const edit of [{ decayAt: 0, decay: 0, weightDecay: 0, betas: [0, 0] }, { shape: 'cosine' }, { shape: 'step' }]) {
      const config = decoded(withMetadata('optimizer', JSON.stringify({ ...stored, ...edit }), withOptimizer)).optimizer?.config
      expect(config, JSON.stringify(edit)).toEqual({ ...adamConfig, ...edit })
    }
    // SGD keeps no per-parameter state: its file has no moments.
    const sgdConfig = { kind: 'sgd' as const, lr: 0.1, totalSteps: 10, decayAt: 0.5, decay: 0.1 }
    const plain = decoded(encodeCheckpoint({ ...base, optimizer: { config: sgdConfig, state: { ...sgd(sgdConfig).init(trainableParameters(model)), step: 3 } } }))
    expect(plain.optimizer).toEqual({ config: sgdConfig, state: { step: 3, slots: {} } })
  })
})
