/**
 * Every command on 1,000 fuzzed checkpoint headers and configs (files under
 * 64 KB) under `node --max-old-space-size=256`: one line on stderr or
 * success, never a stack trace, an internal error or a crash. Most runs go
 * in one process (`fuzz-runner.mjs`, the built CLI in-process); a sample
 * goes through the real executable.
 */
import { spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  buildVocabulary, encodeCheckpoint, flatMlp, optimizerFrom, parseCorpus, seeded, trainableParameters, wavenet, type Checkpoint, type Model,
  type OptimizerConfig,
} from '@wavenet/core'
import { describe, expect, it } from 'vitest'
import { file, MAIN, scratch, WORDS } from './support.js'

const RUNNER = fileURLToPath(new URL('./fuzz-runner.mjs', import.meta.url))
const HEAP = '--max-old-space-size=256'

/** A generator of numbers in [0, 1), the same for the same seed (mulberry32). */
const generator = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
}

/** Values that have broken decoders: sizes at every power of two that matters, negatives, fractions, other types. */
const NASTY: readonly unknown[] = [
  0, 1, 2, 3, 7, 27, 1000, 8000, 65536, 1_000_000, 2 ** 24, 2 ** 28, 2 ** 31, 2 ** 32, 2 ** 53, 1e300, -1, -(2 ** 31), 1.5, null, '8', true, [], {}, [1, 2],
]

type Header = Record<string, unknown> & { __metadata__: Record<string, string> }

const vocab = buildVocabulary(parseCorpus(WORDS).words)

/** A checkpoint that can resume training, as the CLI writes it. */
const resumable = (model: Model, optimizer: 'adamw' | 'sgd'): Uint8Array => {
  const schedule = { lr: 0.01, totalSteps: 10, decayAt: 0.75, decay: 0.1 }
  const config: OptimizerConfig = optimizer === 'adamw'
    ? { kind: 'adamw', ...schedule, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }
    : { kind: 'sgd', ...schedule }
  const state = optimizerFrom(config).init(trainableParameters(model))
  const checkpoint: Checkpoint = {
    model, vocab, step: 1, rng: seeded(1), seed: 1, history: { train: [[1, 3.2]], val: [] }, optimizer: { config, state: { ...state, step: 1 } },
  }
  return encodeCheckpoint(checkpoint)
}

const split = (bytes: Uint8Array): { header: Header; data: Uint8Array } => {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Header, data: bytes.subarray(8 + length) }
}

const join8 = (header: string, data: Uint8Array, length?: bigint): Uint8Array => {
  const text = new TextEncoder().encode(header)
  const out = new Uint8Array(8 + text.length + data.length)
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(text.length), true)
  out.set(text, 8)
  out.set(data, 8 + text.length)
  return out
}

/** 1,000 damaged checkpoints, each a base with one to three changes to its header, its config or its bytes. */
const mutants = (count: number): Uint8Array[] => {
  const random = generator(16)
  const pick = <A>(xs: readonly A[]): A => xs[Math.floor(random() * xs.length)]!
  const nasty = () => pick(NASTY)
  const bases = [
    resumable(wavenet({ vocab: vocab.symbols.length, levels: 2, groupSize: 2, embedding: 3, hidden: 8, seed: 1 }), 'adamw'),
    resumable(flatMlp({ vocab: vocab.symbols.length, context: 3, embedding: 2, hidden: 6, seed: 2 }), 'sgd'),
  ]
  /** Every layer description inside a network description. */
  const layers = (node: unknown): Record<string, unknown>[] => {
    if (typeof node !== 'object' || node === null) return []
    const record = node as Record<string, unknown>
    return [record, ...(Array.isArray(record['layers']) ? record['layers'].flatMap(layers) : [])]
  }
  const json = (text: string | undefined): unknown => {
    try {
      return text === undefined ? undefined : JSON.parse(text)
    } catch {
      return undefined
    }
  }
  /** A metadata field's JSON object, or a new one when it holds none. */
  const object = (text: string | undefined): Record<string, unknown> => {
    const value = json(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  }
  const edits: ((h: Header) => void)[] = [
    // The recipe: a size at a power of two, or the kind of another model.
    (h) => {
      const config = object(h.__metadata__['config'])
      config[pick(['vocab', 'levels', 'groupSize', 'embedding', 'hidden', 'context', 'kind'])] = random() < 0.2 ? pick(['wavenet', 'mlp', 'x']) : nasty()
      h.__metadata__['config'] = JSON.stringify(config)
    },
    // A version-1 file: the recipe alone describes the network (finding 2: hidden 8000, context 1,000,000).
    (h) => {
      h.__metadata__['version'] = '1'
      delete h.__metadata__['network']
      const config = object(h.__metadata__['config'])
      config[pick(['hidden', 'embedding', 'levels', 'context'])] = pick([8000, 1_000_000, 2 ** 20, 2 ** 31, 65536])
      h.__metadata__['config'] = JSON.stringify(config)
    },
    // One field of one layer of the network description.
    (h) => {
      const network = json(h.__metadata__['network'])
      const all = layers(network)
      if (all.length === 0) return
      const layer = pick(all)
      layer[pick([...Object.keys(layer), 'n', 'dim', 'in', 'out', 'vocab', 'eps', 'momentum', 'bias', 'kind'])] =
        random() < 0.15 ? pick(['sequential', 'embedding', 'flatten', 'linear', 'batchnorm', 'tanh', 'conv']) : nasty()
      h.__metadata__['network'] = JSON.stringify(network)
    },
    // The network's layers reordered, dropped, repeated, or nested deep.
    (h) => {
      const network = json(h.__metadata__['network']) as { layers?: unknown[]; names?: unknown[] } | undefined
      if (network?.layers === undefined) return
      const i = Math.floor(random() * network.layers.length)
      const choice = random()
      if (choice < 0.3) network.layers.splice(i, 1)
      else if (choice < 0.6) network.layers.splice(i, 0, network.layers[i])
      else if (choice < 0.8) network.names?.reverse()
      else {
        let nested: unknown = network
        for (let depth = Math.floor(random() * 80); depth > 0; depth--) nested = { kind: 'sequential', names: ['x'], layers: [nested] }
        h.__metadata__['network'] = JSON.stringify(nested)
        return
      }
      h.__metadata__['network'] = JSON.stringify(network)
    },
    // A tensor's entry: its shape, offsets or dtype, or the entry gone.
    (h) => {
      const names = Object.keys(h).filter((k) => k !== '__metadata__')
      const name = pick(names)
      const entry = h[name] as Record<string, unknown>
      const choice = random()
      if (choice < 0.35) entry['shape'] = Array.from({ length: Math.floor(random() * 4) }, nasty)
      else if (choice < 0.7) entry['data_offsets'] = [nasty(), nasty()]
      else if (choice < 0.9) entry['dtype'] = pick(['F16', 'BF16', 'F64', 'I32', 'U8', 'X', 7])
      else delete h[name]
    },
    // Any other metadata field: nonsense, a value of another type, or gone.
    (h) => {
      const field = pick(['format', 'version', 'vocab', 'step', 'rng', 'history', 'optimizer', 'training', 'seed', 'mode', 'config', 'network'])
      const choice = random()
      if (choice < 0.2) delete h.__metadata__[field]
      else if (choice < 0.8) h.__metadata__[field] = JSON.stringify(nasty())
      else h.__metadata__[field] = String(nasty()).repeat(1 + Math.floor(random() * 3))
    },
    // One field of the optimizer's configuration, or of the run's record.
    (h) => {
      const field = random() < 0.7 ? 'optimizer' : 'training'
      const value = object(h.__metadata__[field])
      value[pick(['kind', 'lr', 'totalSteps', 'decayAt', 'decay', 'step', 'betas', 'eps', 'weightDecay', 'shape', 'batch', 'data', 'backend'])] = nasty()
      h.__metadata__[field] = JSON.stringify(value)
    },
  ]
  const out: Uint8Array[] = []
  while (out.length < count) {
    const { header, data } = split(pick(bases))
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) pick(edits)(header)
    let bytes = join8(JSON.stringify(header), data)
    const damage = random()
    if (damage < 0.1) {
      // Bytes flipped anywhere.
      bytes = Uint8Array.from(bytes)
      for (let n = 1 + Math.floor(random() * 8); n > 0; n--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
    } else if (damage < 0.15) {
      bytes = bytes.subarray(0, Math.floor(random() * bytes.length))
    } else if (damage < 0.2) {
      bytes = join8(JSON.stringify(header), data, BigInt(pick([0, 1, 2 ** 20, 2 ** 31, 2 ** 40, 2 ** 63 - 1].map(BigInt)).valueOf()))
    }
    if (bytes.length < 64 * 1024) out.push(bytes)
  }
  return out
}

/** A command through the real executable, with a heap of 256 MB. */
const spawned = (args: readonly string[]): Promise<{ code: number | null; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HEAP, MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })

describe('fuzzed checkpoints', () => {
  it('every command on 1,000 fuzzed checkpoint headers and configs, under a 256 MB heap: no stack trace, no crash', async () => {
    const dir = scratch()
    const words = file(dir, 'words.txt', WORDS)
    const paths = mutants(1000).map((bytes, i) => file(dir, `${String(i).padStart(4, '0')}.safetensors`, bytes))
    expect(Math.max(...paths.map((p) => statSync(p).size))).toBeLessThan(64 * 1024)
    const runner = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [HEAP, RUNNER, dir, words], { stdio: ['ignore', 'pipe', 'pipe'] })
      let [stdout, stderr] = ['', '']
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
    expect(runner.code, runner.stderr.slice(0, 2000)).toBe(0)
    const report = JSON.parse(runner.stdout.trim().split('\n').pop()!) as { files: number; runs: number; codes: Record<string, number>; bad: unknown[] }
    expect(report.bad).toEqual([])
    expect(report.runs).toBe(4000)
    // Most are refused; some load and run (a changed history, seed or record).
    expect(report.codes['1']).toBeGreaterThan(2000)
    expect(report.codes['0']).toBeGreaterThan(0)
    // The real executable, on a sample: its own entry point, its own heap.
    const sample = [paths[0]!, paths[250]!, paths[500]!, paths[750]!]
    const runs = await Promise.all(sample.map((model, i) => spawned([
      [['inspect', '--model', model]], [['sample', '--model', model, '-n', '2', '--seed', '1']], [['eval', '--model', model, '--data', words]],
      [['train', '--data', words, '--resume', model, '--steps', '2', '--out', join(dir, 'spawned.out'), '--force']],
    ][i]![0]!)))
    for (const run of runs) {
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+|internal error|heap out of memory/)
      expect([0, 1, 2]).toContain(run.code)
    }
    expect(readFileSync(words, 'utf8')).toBe(WORDS)
  }, 180_000)
})
