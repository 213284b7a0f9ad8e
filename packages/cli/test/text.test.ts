/**
 * Running text through the command line: `train --format text` on a folder
 * of documents (split by document index) and on one document (split by
 * position), then `eval`, `sample --chars` and `inspect` taking the format
 * from the checkpoint; a 10-level model on text and on words; usage errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildVocabulary, encodeCheckpoint, layerParameters, seeded, tensor, wavenet as tree, withTensors } from '@wavenet/core'
import { describe, expect, it } from 'vitest'
import { file, lastJson, type Run, scratch, wavenet } from './support.js'

const expectRefused = (r: Run, pattern: RegExp): void => {
  expect(r.code, r.stderr).not.toBe(0)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(pattern)
}

/** A sentence generator: documents of running text with a small alphabet and some structure. */
const sentence = (i: number): string => `the ${['cat', 'dog', 'bird'][i % 3]} ${['sat', 'ran', 'flew'][(i >> 1) % 3]} on the ${['mat', 'log', 'hill'][(i >> 2) % 3]}.`

describe('train --format text', () => {
  const dir = scratch()
  const folder = join(dir, 'docs')
  mkdirSync(folder)
  // Twelve documents: by index, 8 to test and 9 to validation.
  for (let d = 0; d < 12; d++) writeFileSync(join(folder, `doc${String(d).padStart(2, '0')}.txt`), Array.from({ length: 30 }, (_, i) => sentence(d * 7 + i)).join('\n'))
  const model = join(dir, 'text.safetensors')

  it('trains on windows of a folder of documents and reports bits per character; eval, sample --chars and inspect follow the format', async () => {
    const trained = await wavenet(['train', '--format', 'text', '--data', folder, '--levels', '3', '--embedding', '4', '--hidden', '16', '--steps', '300',
      '--batch', '8', '--window', '32', '--lr', '0.01', '--out', model, '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    const summary = lastJson(trained)
    expect(summary['valBitsPerChar']).toBeCloseTo((summary['valLoss'] as number) / Math.LN2, 10)
    // Far below the uniform distribution's log2 of the alphabet: it learned the text.
    expect(summary['valBitsPerChar']).toBeLessThan(2)
    const inspected = lastJson(await wavenet(['inspect', '--model', model, '--json']))
    expect(inspected).toMatchObject({ format: 'text', window: 32, mode: 'text', receptiveField: 8 })
    const evaluated = await wavenet(['eval', '--model', model, '--data', join(folder, 'doc09.txt'), '--json'])
    expect(evaluated.code, evaluated.stderr).toBe(0)
    expect(lastJson(evaluated)['characters']).toBe([...Array.from({ length: 30 }, (_, i) => sentence(9 * 7 + i)).join('\n')].length)
    const sampled = await wavenet(['sample', '--model', model, '--chars', '200', '--prefix', 'the ', '--seed', '1'])
    expect(sampled.code, sampled.stderr).toBe(0)
    expect(sampled.stdout.startsWith('the ')).toBe(true)
    expect([...sampled.stdout.trimEnd()].length).toBeLessThanOrEqual(204)
    expect(sampled.stdout).toMatch(/the (cat|dog|bird)/)
  }, 120_000)

  it('streams a long passage to stdout as it is drawn, and stops within a second of Ctrl-C', async () => {
    let killed = 0
    let streamed = 0
    // A text model whose head never ends the document: the passage goes on until the signal.
    const vocab = buildVocabulary(['abc def ghi'])
    const built = tree({ vocab: vocab.symbols.length, levels: 4, embedding: 8, hidden: 64, seed: 3 })
    const bias = layerParameters(built.net)['head.bias']!
    const endless = { ...built, net: withTensors(built.net, { 'head.bias': tensor(bias.shape, Float32Array.from(bias.data, (b, i) => (i === 0 ? -100 : b))) }) }
    const path = file(dir, 'endless.safetensors', encodeCheckpoint({ model: endless, vocab, step: 0, rng: seeded(1), history: { train: [], val: [] }, mode: 'text' }))
    const sampled = await wavenet(['sample', '--model', path, '--chars', '100000000'], {
      // The seed drawn is told on stderr as the passage starts.
      onStderr: (text, kill) => {
        if (killed === 0 && /seed \d+/.test(text)) {
          killed = -1
          setTimeout(() => {
            killed = performance.now()
            kill('SIGINT')
          }, 1000)
        }
      },
      onStdout: (text) => {
        if (killed === -1) streamed = text.length
      },
    })
    expect(sampled.code, sampled.stderr).toBe(130)
    expect(performance.now() - killed).toBeLessThan(1000)
    // Characters reached stdout before the signal: the passage streams.
    expect(streamed).toBeGreaterThan(0)
  }, 60_000)

  it('refuses -n for a text model and --chars for a words model, and --mode example on text', async () => {
    expectRefused(await wavenet(['sample', '--model', model, '-n', '3']), /trained on running text: give --chars N/)
    const words = file(dir, 'words.txt', 'anna\nbob\ncarl\ndave\neve\nfred\ngina\nhal\nida\njon\nkim\nlee\n')
    const wordsModel = join(dir, 'words.safetensors')
    expect((await wavenet(['train', '--data', words, '--steps', '5', '--out', wordsModel])).code).toBe(0)
    expectRefused(await wavenet(['sample', '--model', wordsModel, '--chars', '10']), /trained on words: give -n N/)
    expectRefused(await wavenet(['train', '--format', 'text', '--data', folder, '--mode', 'example', '--out', join(dir, 'x.safetensors')]), /--mode example/)
    expectRefused(await wavenet(['train', '--dataset', 'sotu', '--format', 'words', '--out', join(dir, 'x.safetensors')]), /running text/)
  }, 120_000)

  it('splits a single document by position, and refuses control characters with their line', async () => {
    const one = file(dir, 'one.txt', Array.from({ length: 200 }, (_, i) => sentence(i)).join(' '))
    const trained = await wavenet(['train', '--format', 'text', '--data', one, '--levels', '2', '--embedding', '3', '--hidden', '8', '--steps', '20',
      '--batch', '4', '--window', '16', '--out', join(dir, 'one.safetensors'), '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    expect(Number.isFinite(lastJson(trained)['valBitsPerChar'])).toBe(true)
    const bad = file(dir, 'bad.txt', 'fine line\nsecond \u0007 line\n')
    expectRefused(await wavenet(['train', '--format', 'text', '--data', bad, '--out', join(dir, 'bad.safetensors')]), /bad\.txt, line 2: control character U\+0007/)
  }, 120_000)
})

describe('ten levels (1,024 characters of context)', () => {
  const dir = scratch()

  it('train on running text (validating every character), save and sample', async () => {
    const text = file(dir, 'long.txt', Array.from({ length: 600 }, (_, i) => sentence(i)).join(' '))
    const model = join(dir, 'deep-text.safetensors')
    const trained = await wavenet(['train', '--format', 'text', '--data', text, '--levels', '10', '--embedding', '2', '--hidden', '4', '--steps', '3',
      '--batch', '2', '--window', '16', '--residual', '--skip', '--out', model, '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    expect(lastJson(trained)['receptiveField']).toBe(1024)
    const sampled = await wavenet(['sample', '--model', model, '--chars', '50', '--seed', '2', '--json'])
    expect(sampled.code, sampled.stderr).toBe(0)
    expect(typeof lastJson(sampled)['text']).toBe('string')
  }, 180_000)

  it('train on words in sequence mode, save and sample', async () => {
    const words = file(dir, 'words.txt', Array.from({ length: 200 }, (_, i) => sentence(i).split(' ')[1 + (i % 3)]!.replace('.', '')).join('\n'))
    const model = join(dir, 'deep-words.safetensors')
    const trained = await wavenet(['train', '--mode', 'sequence', '--data', words, '--levels', '10', '--embedding', '2', '--hidden', '4', '--steps', '3',
      '--batch', '32', '--out', model, '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    expect(lastJson(trained)['receptiveField']).toBe(1024)
    const sampled = await wavenet(['sample', '--model', model, '-n', '5', '--seed', '2', '--json'])
    expect(sampled.code, sampled.stderr).toBe(0)
    expect(lastJson(sampled)['words']).toHaveLength(5)
  }, 180_000)
})
