/**
 * The reliability probe's findings (issue 16), each as a test that failed
 * before its fix: closed pipes, interruption at any depth, sizes counted
 * before they are allocated, one writer per checkpoint, saves that fail and
 * are tried again, durable saves, values no model can hold, data files, and
 * resumes that would not be bit-identical.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FileSystem, type Path } from '@effect/platform'
import { NodeContext } from '@effect/platform-node'
import { SystemError } from '@effect/platform/Error'
import {
  buildVocabulary, type Checkpoint, decodeCheckpoint, decodeSafetensors, encodeCheckpoint, encodeSafetensors, evaluateWords, referenceKernels, seeded,
  wavenet,
} from '@wavenet/core'
import { Console, Effect, Fiber, Layer, Logger, LogLevel } from 'effect'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { checkFreeSpace } from '../src/checkpoints.js'
import { backendLayer, exitCode, plainTerminal, run as runCli, TerminalService, train, type TrainOptions, writeAtomically } from '../src/index.js'
import { file, inProcess, MAIN, type Run, scratch, TINY, wavenet as spawnCli, WORDS } from './support.js'

const load = (path: string): Checkpoint => {
  const decoded = decodeCheckpoint(readFileSync(path))
  if (E.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

/** One line on stderr, starting `wavenet: `, and no stack trace. */
const oneLine = (run: Run, pattern: RegExp): void => {
  const lines = run.stderr.trim().split('\n')
  expect(lines, run.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^wavenet: /)
  expect(lines[0]).toMatch(pattern)
  expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+/)
}

/** A shell command line (bash), with its exit status and output. */
const shell = (line: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'] })
    let [stdout, stderr] = ['', '']
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
const cli = (...args: string[]): string => [process.execPath, MAIN, ...args].map(quote).join(' ')

/** Words of a made-up language: `count` of them, 6 to 10 letters, always the same. */
const manyWords = (count: number): string => {
  let x = 1
  const letter = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return String.fromCharCode(97 + ((x >> 16) % 26))
  }
  return Array.from({ length: count }, (_, i) => Array.from({ length: 6 + (i % 5) }, letter).join('')).join('\n')
}

/** A 7-level model (receptive field 128) over a-z, untrained: slow to evaluate over many words. */
const slowCheckpoint = (dir: string): string => {
  const vocab = buildVocabulary(['abcdefghijklmnopqrstuvwxyz'])
  const model = wavenet({ vocab: vocab.symbols.length, levels: 7, groupSize: 2, embedding: 24, hidden: 128, seed: 1 })
  return file(dir, 'slow.safetensors', encodeCheckpoint({ model, vocab, step: 0, rng: seeded(1), history: { train: [], val: [] } }))
}

/** Runs the command line in this process, interrupts it after `ms`, and says how it ended and how long the interruption took. */
const interruptedInProcess = (args: readonly string[], ms: number) =>
  Effect.runPromise(Effect.gen(function* () {
    const quiet = (console: Console.Console): Console.Console => ({
      ...console, log: () => Effect.void, error: () => Effect.void, unsafe: { ...console.unsafe, log: () => {}, error: () => {} },
    })
    const fiber = yield* Effect.fork(Console.consoleWith((console) => runCli(['node', 'wavenet', ...args]).pipe(
      Effect.provideService(TerminalService, plainTerminal),
      Console.withConsole(quiet(console)),
      Effect.provide(NodeContext.layer),
    )))
    yield* Effect.sleep(ms)
    const asked = performance.now()
    const exit = yield* Fiber.interrupt(fiber)
    return { code: exitCode(exit), waited: performance.now() - asked }
  }))

describe('closed pipes and hang-ups (findings 1, 6, 9)', () => {
  it('train … 2>&1 | head -n 1 finishes and leaves a loadable checkpoint', async () => {
    const dir = scratch()
    const out = join(dir, 'model.safetensors')
    // Logs every 100 steps and a validation loss every 100: plenty to write after head has gone.
    const args = ['train', '--data', file(dir, 'w.txt', WORDS), ...TINY, '--steps', '2000', '--eval-every', '100', '--out', out]
    const piped = await shell(`${cli(...args)} 2>&1 | head -n 1; exit "\${PIPESTATUS[0]}"`)
    expect(piped.code, piped.stdout + piped.stderr).toBe(0)
    expect(piped.stdout.trim().split('\n')).toHaveLength(1)
    expect(load(out).step).toBe(2000)
  })

  it('stdout on a full disk (/dev/full) is one line on stderr and exit code 1', async () => {
    const dir = scratch()
    const model = slowCheckpoint(dir)
    const full = await shell(`${cli('sample', '--model', model, '-n', '3', '--max-length', '4', '--seed', '1')} > /dev/full`)
    expect(full.code).toBe(1)
    oneLine({ ...full, signal: null }, /cannot write to stdout: no space left on the device/)
  })

  it('a data file that is a pipe no one writes to gives way to the first SIGTERM', async () => {
    const dir = scratch()
    const fifo = join(dir, 'words.fifo')
    expect((await shell(`mkfifo ${quote(fifo)}`)).code).toBe(0)
    const child = spawn(process.execPath, [MAIN, 'train', '--data', fifo, ...TINY, '--steps', '10', '--out', join(dir, 'm.safetensors')], { stdio: 'ignore' })
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    // Linux shows a thread waiting in the kernel for the pipe's writer: then the run is blocked on the pipe.
    const waiting = () => readdirSync(`/proc/${child.pid}/task`).some((t) => {
      try {
        return readFileSync(`/proc/${child.pid}/task/${t}/wchan`, 'utf8') === 'wait_for_partner'
      } catch {
        return false
      }
    })
    for (let tries = 0; !waiting(); tries++) {
      expect(tries, 'the run never opened the pipe').toBeLessThan(300)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const sent = performance.now()
    child.kill('SIGTERM')
    const code = await Promise.race([closed, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 3000))])
    if (code === 'hung') child.kill('SIGKILL')
    expect(code).toBe(130)
    expect(performance.now() - sent).toBeLessThan(2000)
  }, 30_000)
})

describe('interruption at any depth', () => {
  it('SIGTERM during the final evaluation of a 7-level model exits 130 within 2 s and leaves a loadable checkpoint', async () => {
    const dir = scratch()
    const out = join(dir, 'model.safetensors')
    // 30,000 validation words: evaluating them in one go takes seconds.
    const val = file(dir, 'val.txt', manyWords(30_000))
    const data = file(dir, 'w.txt', `${WORDS}\n${manyWords(40)}`)
    let sent = 0
    const run = await spawnCli(['train', '--data', data, '--val', val, '--levels', '7', '--batch', '16', '--steps', '30', '--eval-every', '1000', '--out', out], {
      // The progress line of the last step comes just before the final validation starts.
      onStderr: (text, kill) => {
        if (sent === 0 && / step=30\b/.test(text)) {
          sent = performance.now()
          setTimeout(() => kill('SIGTERM'), 200)
        }
      },
    })
    expect(sent, run.stderr).toBeGreaterThan(0)
    expect(run.code, run.stderr).toBe(130)
    expect(performance.now() - sent - 200).toBeLessThan(2000)
    expect(run.stderr).not.toMatch(/message=validation/)
    expect(load(out).step).toBe(30)
  }, 60_000)

  it('eval and sample of a slow model stop within a second of an interruption', async () => {
    const dir = scratch()
    const model = slowCheckpoint(dir)
    const words = file(dir, 'words.txt', manyWords(30_000))
    // Evaluating 30,000 words in one go takes seconds; sampling 100,000 words of up to 64 characters, more.
    const evaluated = await interruptedInProcess(['eval', '--model', model, '--data', words], 1000)
    expect(evaluated.code).toBe(130)
    expect(evaluated.waited).toBeLessThan(1000)
    const sampled = await interruptedInProcess(['sample', '--model', model, '-n', '100000', '--seed', '1'], 1000)
    expect(sampled.code).toBe(130)
    expect(sampled.waited).toBeLessThan(1000)
  }, 30_000)
})

describe('sizes counted before they are allocated (finding 3)', () => {
  const dir = scratch()
  const words = file(dir, 'words.txt', WORDS)
  const out = join(dir, 'never.safetensors')

  it('refuses per-example contexts that would not fit, naming their size', async () => {
    // About 2,400 examples of a million characters of context each.
    const run = await inProcess(['train', '--data', file(dir, 'more.txt', manyWords(300)), '--group-size', '4', '--levels', '10', '--embedding', '2', '--hidden', '2', '--out', out])
    expect(run.code).toBe(2)
    oneLine(run, /--group-size 4 and --levels 10 give a context of 1048576 characters: the contexts of \d+ training examples would take \d+ token ids \(\d+\.\d GiB\), more than 268435456/)
    expect(existsSync(out)).toBe(false)
  })

  it('refuses a run whose training memory would not fit, in either mode: parameters, gradients, moments and activations', async () => {
    const deep = await inProcess(['train', '--data', words, '--levels', '16', '--out', out])
    expect(deep.code).toBe(2)
    oneLine(deep, /this run needs about \d+\.\d GiB \(\d+ parameters with their gradients, and \d+ activations a step at --batch 32\), more than the 2\.0 GiB/)
    const wide = await inProcess(['train', '--data', words, '--mode', 'sequence', '--batch', '100000000', '--out', out])
    expect(wide.code).toBe(2)
    oneLine(wide, /this run needs about \d+\.\d GiB \(\d+ parameters with their gradients and optimizer moments, and \d+ activations a step at --batch 100000000\)/)
  })
})

/** Options of a small library run in `dir`. */
const base = (dir: string, overrides: Partial<TrainOptions> = {}): TrainOptions & { readonly out: string } => ({
  data: file(dir, 'words.txt', WORDS), levels: 2, embedding: 5, hidden: 12, steps: 60, batch: 8, seed: 3, evalEvery: 1000, saveEvery: 20,
  out: join(dir, 'model.safetensors'), samples: 2, ...overrides,
})

/** Runs on Node's services, `fs` (given) wrapping Node's file system. */
const onNode = <A, E>(
  effect: Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>, fs?: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem>,
): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, fs === undefined ? NodeContext.layer : Layer.merge(NodeContext.layer, fs.pipe(Layer.provide(NodeContext.layer))))
    .pipe(Logger.withMinimumLogLevel(LogLevel.None)))

/** Node's file system with `edit` applied. */
const wrapped = (edit: (fs: FileSystem.FileSystem) => Partial<FileSystem.FileSystem>) =>
  Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({ ...fs, ...edit(fs) })))

const diskFull = (path: string) =>
  new SystemError({ reason: 'Unknown', module: 'FileSystem', method: 'writeFile', pathOrDescriptor: path, description: 'ENOSPC: no space left on device' })

describe('the checkpoint path (findings 4, 5, 9)', () => {
  it('is claimed at the start: a second run writing the same --out is refused while the first runs, and a lock of a dead process is taken over', async () => {
    const dir = scratch()
    const config = base(dir, { steps: 1_000_000, saveEvery: 1_000_000 })
    const result = await onNode(Effect.gen(function* () {
      const first = yield* Effect.fork(train(config).pipe(Effect.provide(backendLayer('js'))))
      yield* Effect.sleep('300 millis')
      const second = yield* Effect.either(train({ ...config, steps: 20, force: true }).pipe(Effect.provide(backendLayer('js'))))
      yield* Fiber.interrupt(first)
      return second
    }))
    expect(result._tag).toBe('Left')
    expect(result._tag === 'Left' && result.left.message).toMatch(/model\.safetensors is being written by another run \(process \d+\)/)
    // The first, interrupted, saved and let go of the file.
    expect(load(config.out).step).toBeGreaterThan(0)
    expect(readdirSync(dir).filter((name) => name.endsWith('.lock'))).toEqual([])
    // A lock whose process is gone (killed with -9) is no claim.
    const dead = await shell('sh -c \'echo $$\'')
    writeFileSync(join(dir, '.model.safetensors.lock'), dead.stdout.trim())
    const summary = await onNode(train({ ...config, steps: 20, force: true }).pipe(Effect.provide(backendLayer('js'))))
    expect(summary.steps).toBe(20)
  })

  it('must be a file: a directory, even with --force, is refused before anything is trained', async () => {
    const dir = scratch()
    mkdirSync(join(dir, 'models'))
    const run = await inProcess(['train', '--data', file(dir, 'w.txt', WORDS), ...TINY, '--steps', '20', '--out', join(dir, 'models'), '--force'])
    expect(run.code).toBe(2)
    oneLine(run, /--out .*models is a directory: give the path of a checkpoint file/)
  })

  it('is never a data file of the run, by any name', async () => {
    const dir = scratch()
    const words = file(dir, 'w.txt', WORDS)
    const val = file(dir, 'v.txt', WORDS)
    symlinkSync(words, join(dir, 'link.txt'))
    for (const [out, pattern] of [[words, /w\.txt, a data file/], [join(dir, '.', 'v.txt'), /v\.txt, a data file/], [join(dir, 'link.txt'), /w\.txt, a data file/]] as const) {
      const run = await inProcess(['train', '--data', words, '--val', val, ...TINY, '--steps', '20', '--out', out, '--force'])
      expect(run.code).toBe(2)
      oneLine(run, pattern)
    }
    expect(readFileSync(words, 'utf8')).toBe(WORDS)
    expect(readFileSync(val, 'utf8')).toBe(WORDS)
  })
})

describe('saves (finding 7): tried again when they fail, durable, no litter', () => {
  it('a failed save keeps training and is tried again at the next save', async () => {
    const dir = scratch()
    const attempts: string[] = []
    const failsOnce = wrapped((fs) => ({
      writeFile: (path, bytes, options) => {
        if (!path.includes('.tmp-')) return fs.writeFile(path, bytes, options)
        attempts.push(path)
        return attempts.length === 1 ? Effect.fail(diskFull(path)) : fs.writeFile(path, bytes, options)
      },
    }))
    const config = base(dir)
    const summary = await onNode(train(config).pipe(Effect.provide(backendLayer('wasm'))), failsOnce)
    expect(summary.steps).toBe(60)
    // Steps 20 (failed), 40 and 60.
    expect(attempts).toHaveLength(3)
    expect(load(config.out).step).toBe(60)
  })

  it('a final save that fails is an error that says what is kept', async () => {
    const dir = scratch()
    const config = base(dir)
    const saves = { count: 0 }
    // The first save works; every later one finds the disk full.
    const fillsUp = wrapped((fs) => ({
      writeFile: (path, bytes, options) => (path.includes('.tmp-') && saves.count++ > 0 ? Effect.fail(diskFull(path)) : fs.writeFile(path, bytes, options)),
    }))
    const result = await onNode(Effect.either(train(config).pipe(Effect.provide(backendLayer('wasm')))), fillsUp)
    expect(result._tag).toBe('Left')
    expect(result._tag === 'Left' && result.left.message).toMatch(/cannot write .*model\.safetensors: no space left on the device; the last good checkpoint \(.*model\.safetensors, step 20\) is untouched/)
    expect(load(config.out).step).toBe(20)
  })

  it('free space is checked before a run starts, where Node can tell', async () => {
    const dir = scratch()
    const tight = await onNode(Effect.either(checkFreeSpace(join(dir, 'm.safetensors'), 5 * 2 ** 20, () => Effect.succeed(2 ** 20))))
    expect(tight._tag === 'Left' && tight.left.message).toMatch(/has 1\.0 MiB free, and a checkpoint of this run takes 5\.0 MiB/)
    expect((await onNode(Effect.either(checkFreeSpace(join(dir, 'm.safetensors'), 5 * 2 ** 20, () => Effect.succeed(undefined)))))._tag).toBe('Right')
    // This folder has room for a small checkpoint, and none for one of a petabyte.
    expect((await onNode(Effect.either(checkFreeSpace(join(dir, 'm.safetensors'), 1000))))._tag).toBe('Right')
    expect((await onNode(Effect.either(checkFreeSpace(join(dir, 'm.safetensors'), 2 ** 50))))._tag).toBe('Left')
  })

  it('a save flushes the temporary file to the disk before the rename, and the folder after it', async () => {
    const dir = scratch()
    const path = join(dir, 'model.safetensors')
    const events: string[] = []
    const name = (p: string) => (p === dir ? 'folder' : p.includes('.tmp-') ? 'temp' : 'file')
    const recorded = wrapped((fs) => ({
      writeFile: (p, bytes, options) => Effect.zipRight(Effect.sync(() => events.push(`write ${name(p)}`)), fs.writeFile(p, bytes, options)),
      rename: (from, to) => Effect.zipRight(Effect.sync(() => events.push(`rename ${name(from)} ${name(to)}`)), fs.rename(from, to)),
      open: (p, options) => Effect.map(fs.open(p, options), (opened) => new Proxy(opened, {
        get: (target, key) => (key === 'sync'
          ? Effect.zipRight(Effect.sync(() => events.push(`sync ${name(p)}`)), target.sync)
          : Reflect.get(target, key, target)),
      })),
    }))
    await onNode(writeAtomically(path, new Uint8Array([1, 2, 3])), recorded)
    expect(events).toEqual(['write temp', 'sync temp', 'rename temp file', 'sync folder'])
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3])
  })

  it("removes temporary files that killed writers left, never a live writer's", async () => {
    const dir = scratch()
    const path = join(dir, 'model.safetensors')
    const dead = Number((await shell('sh -c \'echo $$\'')).stdout.trim())
    const sleeper = spawn('sleep', ['30'])
    try {
      const stale = file(dir, `.model.safetensors.tmp-${dead}-0`, 'half a checkpoint')
      const live = file(dir, `.model.safetensors.tmp-${sleeper.pid}-0`, 'a checkpoint being written')
      const other = file(dir, `.other.safetensors.tmp-${dead}-0`, 'another file of a killed writer')
      await onNode(writeAtomically(path, new Uint8Array([1])))
      expect(existsSync(stale)).toBe(false)
      expect(existsSync(live)).toBe(true)
      expect(existsSync(other)).toBe(true)
    } finally {
      sleeper.kill()
    }
  })
})

describe('values no model can hold (finding 8)', () => {
  const dir = scratch()
  const words = file(dir, 'words.txt', WORDS)

  /** A trained checkpoint with the values of one tensor replaced (by default its first by `value`). */
  const poisoned = async (name: string, tensor: string, value: number, edit = (v: number, i: number) => (i === 0 ? value : v)): Promise<string> => {
    const model = join(dir, `${name}.safetensors`)
    if (!existsSync(join(dir, 'good.safetensors'))) {
      expect((await inProcess(['train', '--data', words, ...TINY, '--steps', '20', '--out', join(dir, 'good.safetensors')])).code).toBe(0)
    }
    const decoded = decodeSafetensors(readFileSync(join(dir, 'good.safetensors')))
    if (E.isLeft(decoded)) throw new Error(decoded.left.message)
    const tensors = [...decoded.right.tensors].map(([n, t]) => ({ name: n, tensor: n === tensor ? { shape: t.shape, data: t.data.map(edit) } : t }))
    writeFileSync(model, encodeSafetensors(tensors, decoded.right.metadata))
    return model
  }

  it('a checkpoint holding NaN, Infinity or a negative running variance is refused by every command, in one line', async () => {
    for (const [name, tensor, value, pattern] of [
      ['nan', 'embedding.weight', Number.NaN, /"embedding\.weight" holds a value that is not finite \(NaN\) at index 0/],
      ['inf', 'head.weight', Number.NEGATIVE_INFINITY, /"head\.weight" holds a value that is not finite \(-Infinity\)/],
      ['variance', 'fuse.0.norm.running_var', -1, /"fuse\.0\.norm\.running_var" holds a negative running variance \(-1\)/],
    ] as const) {
      const model = await poisoned(name, tensor, value)
      for (const args of [['sample', '--model', model], ['eval', '--model', model, '--data', words], ['inspect', '--model', model],
        ['train', '--data', words, '--resume', model, '--steps', '40']]) {
        const run = await inProcess(args)
        expect(run.code, `${args[0]} ${name}`).toBe(1)
        oneLine(run, pattern)
      }
    }
  })

  it('eval refuses weights whose loss is not finite (finite, but so large they overflow)', async () => {
    // Logits are sums of ±3e38 times the hidden units: they overflow to ±Infinity, and their softmax to NaN.
    const model = await poisoned('huge', 'head.weight', 3e38, (_, i) => (i % 2 === 0 ? 3e38 : -3e38))
    const huge = load(model)
    expect(Number.isFinite(evaluateWords(referenceKernels, huge.model, [Int32Array.of(1, 2)]))).toBe(false)
    const run = await inProcess(['eval', '--model', model, '--data', words])
    expect(run.code).toBe(1)
    oneLine(run, /huge\.safetensors: its loss over .*words\.txt is not finite/)
  })

  it('weights that give no finite loss are never saved: the divergence names the last checkpoint that really is good', async () => {
    const out = file(dir, 'earlier.safetensors', 'an earlier checkpoint')
    // The loss of step 1 is finite; the update that follows throws the weights near 1e24.
    const run = await inProcess(['train', '--data', words, ...TINY, '--steps', '50', '--lr', '1e25', '--save-every', '1', '--out', out, '--force', '--log-level', 'error'])
    expect(run.code).toBe(1)
    oneLine(run, /training diverged: at step 1 the weights give a loss that is not finite; no checkpoint was written/)
    expect(readFileSync(out, 'utf8')).toBe('an earlier checkpoint')
  })
})

describe('data files (finding 9)', () => {
  const dir = scratch()

  it('a data file over 64 MiB is refused before it is read, and a device once it has given that much', async () => {
    const big = file(dir, 'big.txt', '')
    truncateSync(big, 65 * 2 ** 20)
    const sparse = await inProcess(['train', '--data', big, ...TINY, '--out', join(dir, 'm.safetensors')])
    expect(sparse.code).toBe(1)
    oneLine(sparse, /cannot read .*big\.txt: it is 65\.0 MiB, more than the 64\.0 MiB a data file may be/)
    const zero = await inProcess(['train', '--data', '/dev/zero', ...TINY, '--out', join(dir, 'm.safetensors')])
    expect(zero.code).toBe(1)
    oneLine(zero, /cannot read \/dev\/zero: it gives more than the 64\.0 MiB a data file may be/)
  })

  it('white space at the end of a line is trimmed, so that no sampled word ends in invisible characters', async () => {
    const out = join(dir, 'trimmed.safetensors')
    const spaced = WORDS.split('\n').map((w, i) => `${w}${[' ', '\t', '  \t', ''][i % 4]}`).join('\r\n')
    const run = await inProcess(['train', '--data', file(dir, 'spaced.txt', spaced), ...TINY, '--steps', '20', '--out', out])
    expect(run.code, run.stderr).toBe(0)
    expect(load(out).vocab.symbols.filter((s) => /\s/.test(s))).toEqual([])
  })

  it('control characters (NUL, BEL, ESC, a tab inside a word) are refused with their line', async () => {
    for (const [character, code] of [['\0', '0000'], ['\x07', '0007'], ['\x1b', '001B'], ['\t', '0009']] as const) {
      const run = await inProcess(['train', '--data', file(dir, 'odd.txt', `emma\nava\nol${character}ivia\nmia\n`), ...TINY, '--out', join(dir, 'm.safetensors')])
      expect(run.code).toBe(1)
      oneLine(run, new RegExp(`odd\\.txt, line 3: control character U\\+${code} is not allowed in a word`))
    }
  })
})

describe('a resume that would not be bit-identical (finding 9)', () => {
  it('another batch, other data or another backend is refused, and goes on with --force, saying so; an absent --batch is the checkpoint\'s', async () => {
    const dir = scratch()
    const words = file(dir, 'w.txt', WORDS)
    const model = join(dir, 'model.safetensors')
    expect((await inProcess(['train', '--data', words, ...TINY, '--steps', '20', '--out', model])).code).toBe(0)
    const resume = (...args: string[]) => inProcess(['train', ...args.includes('--data') ? [] : ['--data', words], '--resume', model, '--steps', '40', ...args])
    const cases: [string[], RegExp][] = [
      [['--batch', '8'], /--batch 8 differs from the checkpoint's 16/],
      [['--data', file(dir, 'other.txt', WORDS.split('\n').reverse().join('\n'))], /the words of .*other\.txt differ from those the checkpoint trained on/],
      [['--backend', 'js'], /--backend js differs from the checkpoint's wasm/],
    ]
    for (const [args, pattern] of cases) {
      const refused = await resume(...args)
      expect(refused.code, refused.stderr).toBe(2)
      oneLine(refused, new RegExp(`${pattern.source}: the resumed run would not match an uninterrupted one; pass --force to resume anyway`))
      expect(load(model).step).toBe(20)
    }
    const forced = await resume('--backend', 'js', '--force', '--out', join(dir, 'forced.safetensors'))
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stderr).toMatch(/--backend js differs from the checkpoint's wasm: resuming anyway \(--force\)/)
    // Without --batch the checkpoint's (16, not the recipe's 32) is taken: nothing differs.
    const same = await resume('--out', join(dir, 'same.safetensors'))
    expect(same.code, same.stderr).toBe(0)
    expect(load(join(dir, 'same.safetensors')).training?.batch).toBe(16)
  })
})
