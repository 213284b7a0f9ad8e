/**
 * Nothing lost, nothing crashes, through the real executable: Ctrl-C,
 * SIGTERM and SIGHUP save a loadable checkpoint, a diverging run stops with the last
 * good checkpoint intact, and every bad input is one line on stderr, a
 * non-zero exit code, and no file replaced.
 */
import { readFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { decodeCheckpoint, encodeSafetensors, decodeSafetensors, parameters } from '@wavenet/core'
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { file, type Run, scratch, TINY, wavenet, WORDS } from './support.js'

const loadable = (path: string) => {
  const decoded = decodeCheckpoint(readFileSync(path))
  if (E.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

const bits = (path: string) =>
  Object.fromEntries(Object.entries(parameters(loadable(path).model)).map(([n, t]) => [n, Array.from(new Uint32Array(Float32Array.from(t.data).buffer))]))

/** Starts a long run and sends `signal` once it has logged its first validation loss. */
const interrupted = (args: readonly string[], signal: NodeJS.Signals): Promise<Run> => {
  let sent = false
  return wavenet(args, {
    onStderr: (text, kill) => {
      if (!sent && /validation/.test(text)) {
        sent = true
        kill(signal)
      }
    },
  })
}

describe('signals', () => {
  // SIGHUP: the terminal closed, the ssh connection dropped.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} during training writes a loadable checkpoint of the last completed step and says where`, async () => {
      const dir = scratch()
      const out = join(dir, 'model.safetensors')
      const run = await interrupted(['train', '--data', file(dir, 'w.txt', WORDS), ...TINY, '--steps', '10000000', '--eval-every', '100', '--out', out], signal)
      expect(run.code).toBe(130)
      const match = /interrupted after step (\d+); checkpoint saved to (.+)$/m.exec(run.stderr)
      expect(match, run.stderr).not.toBeNull()
      expect(match![2]).toBe(out)
      expect(loadable(out).step).toBe(Number(match![1]))
      expect(run.stdout).toBe('')
    })
  }

  it('a run interrupted by Ctrl-C and resumed ends bit-identical to an uninterrupted one', async () => {
    const dir = scratch()
    const data = file(dir, 'w.txt', WORDS)
    // Long enough that the signal, sent after the first validation, lands mid-run.
    const common = ['--data', data, ...TINY, '--steps', '20000', '--eval-every', '100', '--save-every', '1000000']
    const straight = join(dir, 'straight.safetensors')
    const cut = join(dir, 'cut.safetensors')
    const [whole, stopped] = await Promise.all([
      wavenet(['train', ...common, '--out', straight]),
      interrupted(['train', ...common, '--out', cut], 'SIGINT'),
    ])
    expect(whole.code, whole.stderr).toBe(0)
    expect(stopped.code).toBe(130)
    const at = loadable(cut).step
    expect(at).toBeGreaterThan(0)
    expect(at).toBeLessThan(20000)
    const resumed = await wavenet(['train', ...common, '--resume', cut, '--out', cut])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(loadable(cut).step).toBe(20000)
    expect(bits(cut)).toEqual(bits(straight))
  })
})

describe('divergence guard', () => {
  it('stops at a non-finite loss, names the step, and leaves the last good checkpoint in place', async () => {
    const dir = scratch()
    const out = file(dir, 'model.safetensors', 'an earlier checkpoint')
    const run = await wavenet(['train', '--data', file(dir, 'w.txt', WORDS), ...TINY, '--steps', '500', '--lr', '1e30', '--out', out, '--force'])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^wavenet: loss is not finite at step \d+: training stopped/m)
    expect(readFileSync(out, 'utf8')).toBe('an earlier checkpoint')
  })
})

describe('bad input: one line, non-zero exit, nothing replaced', () => {
  const dir = scratch()
  const words = file(dir, 'words.txt', WORDS)
  const model = join(dir, 'model.safetensors')
  let good: Uint8Array
  /** A checkpoint file with its header JSON and tensors edited. */
  const edited = (name: string, edit: (tensors: { name: string; tensor: { shape: readonly number[]; data: Float32Array } }[], meta: Record<string, string>) => void): string => {
    const decoded = decodeSafetensors(good)
    if (E.isLeft(decoded)) throw new Error(decoded.left.message)
    const tensors = [...decoded.right.tensors].map(([n, tensor]) => ({ name: n, tensor }))
    const meta = { ...decoded.right.metadata }
    edit(tensors, meta)
    return file(dir, name, encodeSafetensors(tensors, meta))
  }

  beforeAll(async () => {
    const run = await wavenet(['train', '--data', words, ...TINY, '--steps', '20', '--out', model])
    expect(run.code, run.stderr).toBe(0)
    good = readFileSync(model)
  })

  const expectRefused = (run: Run, pattern: RegExp): void => {
    expect(run.code, run.stderr).not.toBe(0)
    expect(run.code).not.toBe(null)
    const lines = run.stderr.trim().split('\n')
    expect(lines, run.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/^wavenet: /)
    expect(lines[0]).toMatch(pattern)
    expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+/)
    expect(readFileSync(model)).toEqual(Buffer.from(good))
  }

  /** `train` on a tiny model, the case's flags taking the place of the defaults they name. */
  const train = (...args: string[]) => {
    const flags = ['--levels', '2', '--embedding', '6', '--hidden', '16', '--batch', '16', '--steps', '20']
    const defaults = flags.flatMap((f, i) => (f.startsWith('--') && !args.includes(f) ? [f, flags[i + 1]!] : []))
    return wavenet(['train', ...defaults, '--out', model, ...args])
  }

  const cases: [string, () => Promise<Run>, RegExp][] = [
    ['a missing data file', () => train('--data', join(dir, 'nope.txt')), /cannot read .*nope\.txt: no such file/],
    ['an unreadable data file (a folder)', () => { mkdirSync(join(dir, 'folder'), { recursive: true }); return train('--data', join(dir, 'folder')) }, /cannot read .*folder/],
    ['an empty data file', () => train('--data', file(dir, 'empty.txt', '')), /has no words/],
    ['a data file of blank lines', () => train('--data', file(dir, 'blank.txt', '\n  \n\r\n')), /has no words/],
    ['data that is not UTF-8', () => train('--data', file(dir, 'latin1.txt', Uint8Array.from([0x61, 0xe9, 0x0a]))), /not valid UTF-8/],
    ['steps 0', () => train('--data', words, '--steps', '0'), /--steps must be positive/],
    ['a batch of -1', () => train('--data', words, '--batch', '-1'), /--batch must be positive/],
    ['levels 0', () => train('--data', words, '--levels', '0'), /--levels must be positive/],
    ['group size 0', () => train('--data', words, '--group-size', '0'), /--group-size must be positive/],
    ['group size 1', () => train('--data', words, '--group-size', '1'), /--group-size must be at least 2/],
    ['embedding 0', () => train('--data', words, '--embedding', '0'), /--embedding must be positive/],
    ['hidden 0', () => train('--data', words, '--hidden', '0'), /--hidden must be positive/],
    ['steps that are not a number', () => train('--data', words, '--steps', 'many'), /steps|integer/i],
    ['a learning rate that is not a number', () => train('--data', words, '--lr', 'fast'), /lr|float|number/i],
    ['an unknown option', () => train('--data', words, '--colour', 'blue'), /colour/],
    ['temperature 0', () => wavenet(['sample', '--model', model, '--temperature', '0']), /--temperature must be positive/],
    ['top-k 0', () => wavenet(['sample', '--model', model, '--top-k', '0']), /--top-k must be positive/],
    ['a prefix outside the vocabulary', () => wavenet(['sample', '--model', model, '--prefix', 'em!']), /--prefix: character "!" is not in the model's vocabulary/],
    ['a missing checkpoint', () => wavenet(['sample', '--model', join(dir, 'none.safetensors')]), /cannot read .*none\.safetensors: no such file/],
    ['a truncated checkpoint', () => wavenet(['sample', '--model', file(dir, 'cut.safetensors', good.subarray(0, good.length - 10))]), /not a valid safetensors file/],
    ['a file that is not safetensors', () => wavenet(['sample', '--model', file(dir, 'text.safetensors', 'hello world, not a model')]), /not a valid safetensors file/],
    ['a header longer than the file', () => {
      const bytes = Uint8Array.from(good)
      new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, BigInt(bytes.length * 2), true)
      return wavenet(['sample', '--model', file(dir, 'long-header.safetensors', bytes)])
    }, /header length \d+ runs past/],
    ['a data range beyond the file', () => wavenet(['sample', '--model', file(dir, 'short-data.safetensors', good.subarray(0, good.length - 4))]), /not a valid safetensors file/],
    ['a missing tensor', () => wavenet(['sample', '--model', edited('no-head.safetensors', (t) => { t.splice(t.findIndex((x) => x.name === 'head.bias'), 1) })]), /lacks tensor "head\.bias"/],
    ['a tensor of the wrong shape', () => wavenet(['sample', '--model', edited('shape.safetensors', (t) => {
      const i = t.findIndex((x) => x.name === 'head.bias')
      t[i] = { name: 'head.bias', tensor: { shape: [1, t[i]!.tensor.data.length], data: t[i]!.tensor.data } }
    })]), /"head\.bias" has shape \[1, \d+\], expected \[\d+\]/],
    ['a tensor of the wrong dtype', () => {
      const text = Buffer.from(good).toString('latin1').replace('"dtype":"F32"', '"dtype":"I32"')
      return wavenet(['sample', '--model', file(dir, 'dtype.safetensors', Buffer.from(text, 'latin1'))])
    }, /dtype "I32"/],
    ['an unknown format version', () => wavenet(['sample', '--model', edited('v9.safetensors', (_, m) => { m['version'] = '9' })]), /format version "9" is not supported/],
    ['a character outside the vocabulary in eval data', () => wavenet(['eval', '--model', model, '--data', file(dir, 'odd.txt', 'emma\nzoë\n')]), /odd\.txt, line 2: character "ë" is not in the model's vocabulary/],
    ['resuming from a file that is no checkpoint', () => train('--data', words, '--resume', file(dir, 'junk.safetensors', 'junk')), /not a valid safetensors file/],
    ['a batch of 1 (batchnorm needs two rows)', () => train('--data', words, '--batch', '1'), /--batch must be at least 2/],
    ['a context too large to allocate', () => train('--data', words, '--levels', '30'), /context of \d+ characters, more than/],
    ['too few words for a validation split', () => train('--data', file(dir, 'five.txt', 'ann\nbob\ncy\ndee\neve\n')), /too few for a validation split/],
    ['an existing --out without --force', () => train('--data', words), /model\.safetensors exists: pass --force/],
    ['an --out in a folder that does not exist', () => wavenet(['train', '--data', words, ...TINY, '--out', join(dir, 'no', 'such', 'm.safetensors')]), /folder .*no\/such does not exist/],
    ['resuming with another learning rate', () => train('--data', words, '--resume', model, '--lr', '5'), /--lr 5 differs from the checkpoint's 0\.1/],
    ['resuming with another seed', () => train('--data', words, '--resume', model, '--seed', '7', '--steps', '40'), /--seed 7 differs from the checkpoint's 42/],
    ['a prefix longer than the maximum length', () => wavenet(['sample', '--model', model, '--prefix', 'emmanuelle', '--max-length', '4']), /--prefix is longer than --max-length 4/],
  ]

  for (const [what, run, pattern] of cases) {
    it(what, async () => expectRefused(await run(), pattern))
  }
})
