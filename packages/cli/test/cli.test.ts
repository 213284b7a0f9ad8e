/**
 * The command line end to end, through the real executable: train with
 * --json, checkpoints that load back, sample, eval, inspect.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeCheckpoint, evaluate, examples, parseCorpus, receptiveField, referenceKernels } from '@wavenet/core'
import * as E from 'fp-ts/lib/Either.js'
import { file, inProcess, lastJson, type Run, scratch, TINY, wavenet, WORDS } from './support.js'

describe('wavenet train, sample, eval, inspect', () => {
  const dir = scratch()
  const data = file(dir, 'words.txt', WORDS)
  const model = join(dir, 'model.safetensors')
  let trained: Run

  beforeAll(async () => {
    trained = await wavenet(['train', '--data', data, ...TINY, '--steps', '400', '--out', model, '--json'])
  })

  it('ends with one JSON line holding every summary field', () => {
    expect(trained.code, trained.stderr).toBe(0)
    const summary = lastJson(trained)
    for (const field of ['steps', 'parameters', 'receptiveField', 'trainLoss', 'valLoss', 'msPerStep', 'trainSeconds', 'backend']) {
      expect(summary).toHaveProperty(field)
    }
    expect(summary['steps']).toBe(400)
    expect(summary['receptiveField']).toBe(4)
    expect(summary['backend']).toBe('wasm')
    expect(summary['trainLoss']).toBeLessThan(Math.log(20))
  })

  it('keeps logs and progress off stdout', () => {
    expect(trained.stdout.trim().split('\n')).toHaveLength(1)
    expect(trained.stderr).toMatch(/validation/)
  })

  it('writes a checkpoint that loads back with the losses the run reported', () => {
    const checkpoint = decodeCheckpoint(readFileSync(model))
    if (E.isLeft(checkpoint)) throw new Error(checkpoint.left.message)
    const { model: loaded, vocab } = checkpoint.right
    expect(checkpoint.right.step).toBe(400)
    // Without --val the run split the data 80/10/10; the whole corpus must at least encode.
    const all = examples(vocab, parseCorpus(WORDS).words, receptiveField(loaded))
    expect(E.isRight(all)).toBe(true)
  })

  it('samples the same words for the same seed, other words for another', async () => {
    const [a, b, c] = await Promise.all([
      wavenet(['sample', '--model', model, '--seed', '7', '-n', '12']),
      wavenet(['sample', '--model', model, '--seed', '7', '-n', '12']),
      wavenet(['sample', '--model', model, '--seed', '8', '-n', '12']),
    ])
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout.trim().split('\n')).toHaveLength(12)
    expect(a.stdout).toBe(b.stdout)
    expect(c.stdout).not.toBe(a.stdout)
  })

  it('reports the seed it drew, which draws the same words again', async () => {
    const drawn = await wavenet(['sample', '--model', model, '-n', '8'])
    expect(drawn.code, drawn.stderr).toBe(0)
    const seed = /seed (\d+): --seed \1 draws these words again/.exec(drawn.stderr)?.[1]
    expect(seed, drawn.stderr).toBeDefined()
    const again = await wavenet(['sample', '--model', model, '-n', '8', '--seed', seed!])
    expect(again.stdout).toBe(drawn.stdout)
    expect(again.stderr).toBe('')
  })

  it('stops quietly when its reader does (`| head`)', async () => {
    const run = await wavenet(['sample', '--model', model, '--seed', '1', '-n', '200000'], { onStdout: (_, close) => close() })
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
  })

  it('resumes into the file it resumed from by default', async () => {
    const copy = file(dir, 'copy.safetensors', readFileSync(model))
    const run = await wavenet(['train', '--data', data, ...TINY, '--steps', '450', '--resume', copy, '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(lastJson(run)).toMatchObject({ steps: 450, checkpoint: copy })
  })

  it('samples with a prefix, top-k and a maximum length', async () => {
    const run = await wavenet(['sample', '--model', model, '--seed', '1', '-n', '5', '--prefix', 'el', '--top-k', '3', '--max-length', '6', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const words = lastJson(run)['words'] as string[]
    expect(words).toHaveLength(5)
    expect(words.every((w) => w.startsWith('el') && [...w].length <= 6)).toBe(true)
  })

  it('evaluates a file in eval mode, agreeing with the library', async () => {
    const run = await wavenet(['eval', '--model', model, '--data', data, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const { loss, examples: count } = lastJson(run) as { loss: number; examples: number }
    const checkpoint = decodeCheckpoint(readFileSync(model))
    if (E.isLeft(checkpoint)) throw new Error(checkpoint.left.message)
    const ex = examples(checkpoint.right.vocab, parseCorpus(WORDS).words, 4)
    if (E.isLeft(ex)) throw new Error('unexpected')
    expect(count).toBe(ex.right.count)
    // The CLI ran on wasm, the library here on the reference kernels: equal to float32 accuracy.
    expect(loss).toBeCloseTo(evaluate(referenceKernels, checkpoint.right.model, ex.right), 4)
  })

  it('inspects a checkpoint', async () => {
    const run = await wavenet(['inspect', '--model', model, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const info = lastJson(run)
    expect(info).toMatchObject({ receptiveField: 4, levels: 2, groupSize: 2, step: 400 })
    expect(info['parameters']).toBe(trainedParameters())
    expect((info['layers'] as unknown[]).length).toBe(1 + 2 * 4 + 1)
    // The final validation loss is in the history, at the last step.
    const val = (info['history'] as { val: [number, number][] }).val
    expect(val[val.length - 1]![0]).toBe(400)
    expect(val[val.length - 1]![1]).toBe(lastJson(trained)['valLoss'])
    const human = await wavenet(['inspect', '--model', model])
    expect(human.stdout).toMatch(/fuse\.1\.linear\s+linear/)
  })

  it('runs in-process, its output through the Console it is given', async () => {
    const [spawned, inside] = await Promise.all([wavenet(['inspect', '--model', model]), inProcess(['inspect', '--model', model])])
    expect(inside).toEqual({ ...spawned, signal: null })
  })

  const trainedParameters = (): unknown => lastJson(trained)['parameters']
})

describe('the built-in data set', () => {
  it('trains without --data and prints a loss plot that fits the terminal, the losses and samples', async () => {
    const dir = scratch()
    const run = await wavenet(['train', ...TINY, '--steps', '200', '--out', join(dir, 'm.safetensors')], { env: { COLUMNS: '60' } })
    expect(run.code, run.stderr).toBe(0)
    const [plot] = run.stdout.split('\n\n')
    expect(plot).toMatch(/^loss by step {3}• train {3}× validation\n/)
    expect(plot!.split('\n').filter((line) => [...line].length > 60)).toEqual([])
    expect(plot).toMatch(/×/)
    expect(plot).toMatch(/└┬─+┬─+┬\n +1 +\d+ +200$/)
    expect(run.stdout).toMatch(/samples:\n(  \S+\n){10}/)
    expect(run.stdout).toMatch(/val loss/)
  })
})

describe('eval agrees with train', () => {
  it("prints the same loss as the training run's valLoss on the val file", async () => {
    const dir = scratch()
    const train = file(dir, 'train.txt', WORDS)
    const val = file(dir, 'val.txt', 'anna\nella\nmila\nnora\n')
    const out = join(dir, 'm.safetensors')
    const trained = await wavenet(['train', '--data', train, '--val', val, ...TINY, '--steps', '150', '--out', out, '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    const evaluated = await wavenet(['eval', '--model', out, '--data', val, '--json'])
    expect(lastJson(evaluated)['loss']).toBe(lastJson(trained)['valLoss'])
  })
})

describe('--mode sequence: whole words, each node once', () => {
  const dir = scratch()
  const data = file(dir, 'words.txt', WORDS)
  const val = file(dir, 'val.txt', 'anna\nella\nmila\nnora\n')
  const out = join(dir, 'seq.safetensors')
  const flags = ['--data', data, '--val', val, '--levels', '2', '--embedding', '6', '--hidden', '16', '--mode', 'sequence']

  it('trains with its recipe (AdamW, cosine), stops at --stop-at-val, and records mode and schedule in the checkpoint', async () => {
    const trained = await wavenet(['train', ...flags, '--batch', '40', '--steps', '200', '--eval-every', '50', '--stop-at-val', '50', '--out', out, '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    const summary = lastJson(trained)
    // Any loss is under 50 nats: the first evaluation stops the run.
    expect(summary['steps']).toBe(50)
    expect(trained.stderr).toMatch(/reached --stop-at-val/)
    const inspected = lastJson(await wavenet(['inspect', '--model', out, '--json']))
    expect([inspected['mode'], inspected['optimizer'], inspected['schedule'], inspected['step']]).toEqual(['sequence', 'adamw', 'cosine', 50])
    const evaluated = await wavenet(['eval', '--model', out, '--data', val, '--json'])
    expect(lastJson(evaluated)['loss']).toBe(summary['valLoss'])
  })

  it('refuses a batch that cannot hold the longest word, and a resume in another mode, as usage errors', async () => {
    const small = await wavenet(['train', ...flags, '--batch', '5', '--steps', '10', '--out', join(dir, 'x.safetensors')])
    expect(small.code).toBe(2)
    expect(small.stderr).toMatch(/--batch 5 cannot hold the longest training word \(9 characters/)
    const other = await wavenet(['train', '--data', data, '--val', val, '--resume', out, '--mode', 'example', '--steps', '400'])
    expect(other.code).toBe(2)
    expect(other.stderr).toMatch(/--mode example differs from the checkpoint's sequence/)
  })

  it('samples the same words cached and --naive for the same seed', async () => {
    const [cached, naive] = await Promise.all([
      wavenet(['sample', '--model', out, '-n', '15', '--seed', '4']),
      wavenet(['sample', '--model', out, '-n', '15', '--seed', '4', '--naive']),
    ])
    expect(cached.code, cached.stderr).toBe(0)
    expect(cached.stdout.trim().split('\n')).toHaveLength(15)
    expect(naive.stdout).toBe(cached.stdout)
  })
})

/** A small tree trained in sequence mode with `flags`, on words of its own: its folder, words, validation words, checkpoint and run. */
const sequenceTree = async (flags: readonly string[]) => {
  const dir = scratch()
  const data = file(dir, 'words.txt', WORDS)
  const val = file(dir, 'val.txt', 'anna\nella\nmila\nnora\n')
  const out = join(dir, 'tree.safetensors')
  const trained = await wavenet(['train', '--data', data, '--val', val, '--embedding', '8', '--hidden', '8', '--mode', 'sequence', '--batch', '40',
    '--steps', '40', '--out', out, '--json', ...flags])
  expect(trained.code, trained.stderr).toBe(0)
  expect(lastJson(await inProcess(['eval', '--model', out, '--data', val, '--json']))['loss']).toBe(lastJson(trained)['valLoss'])
  return { dir, data, val, out }
}

describe('--dropout', () => {
  it('trains a tree with dropout that inspect reports and that evaluates without it; out of range, for mlp or against the checkpoint it is refused', async () => {
    const { dir, data, val, out } = await sequenceTree(['--levels', '2', '--dropout', '0.2'])
    const inspected = await inProcess(['inspect', '--model', out, '--json'])
    expect(lastJson(inspected)['dropout']).toBe(0.2)
    expect((lastJson(inspected)['layers'] as { kind: string }[]).filter((l) => l.kind === 'dropout')).toHaveLength(2)
    expect((await inProcess(['inspect', '--model', out])).stdout).toMatch(/dropout 0\.2/)
    for (const [args, pattern] of [
      [['--dropout', '1'], /^wavenet: --dropout must be at least 0 and below 1\n$/],
      [['--dropout', '-0.5'], /^wavenet: --dropout must be at least 0 and below 1\n$/],
      [['--arch', 'mlp', '--dropout', '0.1'], /--dropout applies to --arch wavenet only/],
      [['--resume', out, '--dropout', '0.3', '--steps', '50'], /--dropout 0\.3 differs from the checkpoint's 0\.2/],
    ] as const) {
      const refused = await inProcess(['train', '--data', data, '--val', val, '--out', join(dir, 'refused.safetensors'), ...args])
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(pattern)
    }
  })
})

describe('--residual and --skip', () => {
  it('train a tree with both connections that inspect reports and eval agrees with; mlp refuses them', async () => {
    const { dir, data, out } = await sequenceTree(['--levels', '3', '--residual', '--skip'])
    const inspected = lastJson(await wavenet(['inspect', '--model', out, '--json']))
    expect([inspected['residual'], inspected['skip'], inspected['levels']]).toEqual([true, true, 3])
    const mlp = await wavenet(['train', '--data', data, '--arch', 'mlp', '--residual', '--steps', '5', '--out', join(dir, 'm.safetensors')])
    expect(mlp.code).toBe(2)
    expect(mlp.stderr).toMatch(/--residual applies to --arch wavenet only/)
  })
})
