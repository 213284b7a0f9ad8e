/**
 * PyTorch on the other side: `python/wavenet_torch.py` builds the torch.nn
 * model a checkpoint describes, loads it with strict=True, and evaluates a
 * words file to the loss `wavenet eval` gives, for the tree the CLI trains,
 * for a network composed by hand, and for a version-1 file; and samples.
 * It runs under Debian's /usr/bin/python3 with python3-torch, which CI
 * installs: there a missing torch fails the suite instead of skipping it.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { buildVocabulary, encodeCheckpoint, seeded, wavenet as wavenetModel } from '@wavenet/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { corpus, run } from '../../../examples/hand-built.js'
import { file, lastJson, scratch, TINY, wavenet, WORDS } from './support.js'

const PYTHON = '/usr/bin/python3'
const MODULE = fileURLToPath(new URL('../../../python/wavenet_torch.py', import.meta.url))
const FIXTURES = fileURLToPath(new URL('../../core/test/fixtures/', import.meta.url))

const torchMissing = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0
const skip = torchMissing && process.env['CI'] === undefined

/** Runs the Python module; its stdout's last line parsed as JSON. */
const torch = (args: readonly string[]): Record<string, unknown> => {
  const result = spawnSync(PYTHON, [MODULE, ...args], { encoding: 'utf8' })
  expect(result.status, result.stderr).toBe(0)
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
}

/** `wavenet eval --json` and the Python module's eval on the same files. */
const bothLosses = async (model: string, words: string) => {
  const cli = await wavenet(['eval', '--model', model, '--data', words, '--json'])
  expect(cli.code, cli.stderr).toBe(0)
  return { cli: lastJson(cli) as { loss: number; examples: number }, python: torch(['eval', model, words]) as { loss: number; examples: number } }
}

describe.skipIf(skip)(`python/wavenet_torch.py${skip ? ' (skipped: /usr/bin/python3 cannot import torch; apt-get install python3-torch)' : ''}`, () => {
  const dir = scratch()
  // A blank line, white space ending lines and a CRLF line break, which both readers trim.
  const words = file(dir, 'words.txt', `${WORDS}\n\nzoë \t\r\nmaya\u00a0\n`)
  const tree = `${dir}/tree.safetensors`

  beforeAll(async () => {
    const trained = await wavenet(['train', '--data', words, '--val', words, ...TINY, '--steps', '300', '--out', tree, '--json'])
    expect(trained.code, trained.stderr).toBe(0)
  })

  it("evaluates the tree the CLI trained to wavenet eval's loss, within 1e-5", async () => {
    const { cli, python } = await bothLosses(tree, words)
    expect(python.examples).toBe(cli.examples)
    expect(Math.abs(python.loss - cli.loss)).toBeLessThan(1e-5)
  })

  it("evaluates a network composed by hand (examples/hand-built.ts) to wavenet eval's loss, within 1e-5", async () => {
    const { model, vocab } = run()
    const path = file(dir, 'hand-built.safetensors', encodeCheckpoint({ model, vocab, step: 400, rng: seeded(1), history: { train: [], val: [] } }))
    const { cli, python } = await bothLosses(path, file(dir, 'hand-built.txt', corpus.join('\n')))
    expect(python.examples).toBe(cli.examples)
    expect(Math.abs(python.loss - cli.loss)).toBeLessThan(1e-5)
  })

  it("evaluates trees with residual and skip connections and dropout to wavenet eval's loss, within 1e-5", async () => {
    const vocab = buildVocabulary([...corpus])
    for (const [residual, skipping] of [[true, false], [false, true], [true, true]] as const) {
      const model = wavenetModel({ vocab: vocab.symbols.length, levels: 2, embedding: 6, hidden: 6, residual, skip: skipping, dropout: 0.25, seed: 5 })
      const path = file(dir, `rs-${residual}-${skipping}.safetensors`, encodeCheckpoint({ model, vocab, step: 0, rng: seeded(1), history: { train: [], val: [] } }))
      const { cli, python } = await bothLosses(path, file(dir, 'rs.txt', corpus.join('\n')))
      expect(Math.abs(python.loss - cli.loss), `residual ${residual}, skip ${skipping}`).toBeLessThan(1e-5)
    }
  })

  it('reads a version-1 file, which has no network description and no num_batches_tracked', async () => {
    const { cli, python } = await bothLosses(`${FIXTURES}wavenet-v1.safetensors`, `${FIXTURES}words.txt`)
    expect(Math.abs(python.loss - cli.loss)).toBeLessThan(1e-5)
  })

  it('samples words of the vocabulary with the prefix, the same words for the same seed', () => {
    const sampled = torch(['sample', tree, '-n', '6', '--seed', '3', '--prefix', 'e', '--top-k', '5', '--json'])['words'] as string[]
    expect(sampled).toHaveLength(6)
    expect(sampled.every((w) => /^e[a-zë]*$/.test(w) && w.length <= 64)).toBe(true)
    expect(torch(['sample', tree, '-n', '6', '--seed', '3', '--prefix', 'e', '--top-k', '5', '--json'])['words']).toEqual(sampled)
  })

  it('refuses a character outside the vocabulary, in one line', () => {
    const result = spawnSync(PYTHON, [MODULE, 'eval', tree, file(dir, 'other.txt', 'emma\nq\n')], { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr.trim()).toMatch(/^wavenet_torch\.py: .*other\.txt:2: character "q" .* not in the model's vocabulary$/)
  })
})
