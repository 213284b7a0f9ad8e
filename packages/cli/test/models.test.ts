/**
 * Any model through the command line: the example's network composed by hand
 * with the library, saved with encodeCheckpoint, then sampled, evaluated and
 * inspected by the real executable; and `train --arch mlp|wavenet`.
 */
import { join } from 'node:path'
import { encodeCheckpoint, evaluate, examples, parameterCount, referenceKernels, seeded } from '@wavenet/core'
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { corpus, run } from '../../../examples/hand-built.js'
import { file, lastJson, type Run, scratch, wavenet, WORDS } from './support.js'

const expectRefused = (r: Run, pattern: RegExp): void => {
  expect(r.code, r.stderr).not.toBe(0)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(pattern)
}

describe('a network composed by hand, saved through the library', () => {
  const dir = scratch()
  const { model, vocab } = run()
  const V = vocab.symbols.length
  const optimizer = { config: { kind: 'sgd' as const, lr: 0.1, totalSteps: 400, decayAt: 0.75, decay: 0.1 }, state: { step: 400, slots: {} } }
  const path = file(dir, 'hand-built.safetensors', encodeCheckpoint({
    model, vocab, step: 400, rng: seeded(1), history: { train: [], val: [] }, optimizer,
  }))
  const data = file(dir, 'words.txt', corpus.join('\n'))

  it('samples words of its alphabet', async () => {
    const sampled = await wavenet(['sample', '--model', path, '-n', '8', '--seed', '3', '--json'])
    expect(sampled.code, sampled.stderr).toBe(0)
    const words = lastJson(sampled)['words'] as string[]
    expect(words).toHaveLength(8)
    expect(words.every((w) => /^[abdehlnopitv]*$/.test(w))).toBe(true)
  })

  it("evaluates to the library's loss on the same data", async () => {
    const evaluated = await wavenet(['eval', '--model', path, '--data', data, '--backend', 'js', '--json'])
    expect(evaluated.code, evaluated.stderr).toBe(0)
    const data4 = E.getOrElseW(() => { throw new Error('the corpus did not encode') })(examples(vocab, corpus, 4))
    const { loss, examples: count } = lastJson(evaluated) as { loss: number; examples: number }
    expect(count).toBe(data4.count)
    expect(Number.isFinite(loss)).toBe(true)
    expect(Math.abs(loss - evaluate(referenceKernels, model, data4))).toBeLessThan(1e-6)
  })

  it('inspects its layers by their own shape rules, with no recipe', async () => {
    const inspected = await wavenet(['inspect', '--model', path, '--json'])
    expect(inspected.code, inspected.stderr).toBe(0)
    const info = lastJson(inspected)
    expect(info).toMatchObject({ parameters: parameterCount(model), receptiveField: 4, arch: null, levels: null, groupSize: null, step: 400 })
    const layers = info['layers'] as { name: string; kind: string; output: string; parameters: number }[]
    expect(layers.map((l) => l.output)).toEqual(['B×4×8', 'B×2×16', 'B×2×32', 'B×2×32', 'B×2×32', 'B×64', 'B×32', 'B×32', 'B×32', `B×${V}`])
    expect(layers.map((l) => l.kind).join(' ')).toBe('embedding flatten linear batchnorm tanh flatten linear batchnorm tanh linear')
    expect(layers.reduce((n, l) => n + l.parameters, 0)).toBe(parameterCount(model))
    const human = await wavenet(['inspect', '--model', path])
    expect(human.stdout).toMatch(/composed by hand\s+receptive field 4/)
  })

  it('refuses, on resume, architecture flags it cannot check', async () => {
    const resumed = await wavenet(['train', '--resume', path, '--data', data, '--val', data, '--levels', '2', '--steps', '500', '--out', join(dir, 'r.safetensors')])
    expectRefused(resumed, /--levels cannot be checked: .*records no architecture/)
  })
})

describe('train --arch', () => {
  const dir = scratch()
  // Every letter of the alphabet: the lecture's vocabulary of 27 symbols, on which its parameter counts are reckoned.
  const text = [WORDS, 'quincy', 'jax', 'felix', 'kurt', 'wyatt', 'brody', 'zed', 'gus', 'dominic'].join('\n')
  const words = file(dir, 'words.txt', text)
  const val = file(dir, 'val.txt', 'anna\nella\nmila\nnora\n')
  const mlp = join(dir, 'mlp.safetensors')
  const short = ['--data', words, '--val', val, '--steps', '20', '--batch', '8', '--embedding', '10']
  let trained: Run

  beforeAll(async () => {
    expect(new Set(text.replace(/\n/g, '')).size).toBe(26)
    trained = await wavenet(['train', ...short, '--arch', 'mlp', '--context', '8', '--hidden', '200', '--out', mlp, '--json'])
  })

  it("trains the lecture's flat MLP at context 8: 22,097 parameters, receptive field 8", async () => {
    expect(trained.code, trained.stderr).toBe(0)
    expect(lastJson(trained)).toMatchObject({ parameters: 22_097, receptiveField: 8, steps: 20 })
    const info = lastJson(await wavenet(['inspect', '--model', mlp, '--json']))
    expect(info).toMatchObject({ arch: 'mlp', receptiveField: 8, levels: 1, groupSize: 8, parameters: 22_097 })
    expect((info['layers'] as { output: string }[]).map((l) => l.output)).toEqual(['B×8×10', 'B×80', 'B×200', 'B×200', 'B×200', 'B×27'])
  })

  it('trains the tree of the same size: 22,397 parameters, receptive field 8', async () => {
    const tree = await wavenet(['train', ...short, '--arch', 'wavenet', '--hidden', '68', '--out', join(dir, 'tree.safetensors'), '--json'])
    expect(tree.code, tree.stderr).toBe(0)
    expect(lastJson(tree)).toMatchObject({ parameters: 22_397, receptiveField: 8 })
  })

  it('refuses the flags of the other architecture, and unknown architectures', async () => {
    const cases: [string[], RegExp][] = [
      [['--arch', 'wavenet', '--context', '8'], /--context applies to --arch mlp only/],
      [['--context', '8'], /--context applies to --arch mlp only/],
      [['--arch', 'mlp', '--levels', '2'], /--levels applies to --arch wavenet only/],
      [['--arch', 'mlp', '--group-size', '3'], /--group-size applies to --arch wavenet only/],
      [['--arch', 'tree'], /--arch must be one of wavenet, mlp, not "tree"/],
    ]
    const runs = await Promise.all(cases.map(([flags]) => wavenet(['train', ...short, '--hidden', '16', ...flags, '--out', join(dir, 'refused.safetensors')])))
    runs.forEach((r, i) => expectRefused(r, cases[i]![1]))
  })

  it("resumes with the checkpoint's architecture, and refuses another", async () => {
    const resume = (...flags: string[]) =>
      wavenet(['train', '--resume', mlp, '--data', words, '--val', val, '--steps', '30', '--out', join(dir, 'resumed.safetensors'), '--force', '--json', ...flags])
    const same = await resume('--arch', 'mlp', '--context', '8')
    expect(same.code, same.stderr).toBe(0)
    expect(lastJson(same)).toMatchObject({ steps: 30, parameters: 22_097, receptiveField: 8 })
    expectRefused(await resume('--arch', 'wavenet'), /--arch wavenet differs from the checkpoint's mlp/)
    expectRefused(await resume('--context', '4'), /--context 4 differs from the checkpoint's 8/)
    expectRefused(await resume('--levels', '2'), /--levels applies to --arch wavenet only/)
  })
})
