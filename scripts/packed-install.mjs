/**
 * The packages as a user gets them: packs the three workspace packages with
 * pnpm (which writes real versions for `workspace:*`), installs the tarballs
 * with npm into empty folders — @wavenet/core and @wavenet/cli alone (the
 * light install), then all three named explicitly — and in each runs
 * `npx wavenet train --steps 2000` and `npx wavenet sample`. Without the
 * gpu package `--backend gpu` must fail with the one-line hint; with it,
 * `--backend gpu:cpu` must sample. Prints each install's size (the bytes of
 * every file under node_modules) and exits 1 at the first thing that does
 * not work. Needs the npm registry, for the tarballs' dependencies.
 *
 *   node scripts/packed-install.mjs   (after `pnpm build`; CI runs it, and `pnpm bench` for the sizes)
 */
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'wavenet-packed-'))

const fail = (message) => {
  console.error(`packed install: ${message} (left in ${work})`)
  process.exit(1)
}

/** Runs a command to completion; its output, or a failure naming it. */
const run = (command, args, cwd, { expectFailure = false } = {}) => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
  const failed = result.status !== 0
  if (failed !== expectFailure) {
    fail(`${[command, ...args].join(' ')} in ${cwd} exited with ${result.status}${expectFailure ? ', not with a failure' : ''}:\n${result.stderr}${result.stdout}`)
  }
  return result
}

/** The bytes of every file under a folder (links counted as themselves). */
const bytesUnder = (dir) =>
  readdirSync(dir).reduce((sum, name) => {
    const path = join(dir, name)
    const stat = lstatSync(path)
    return sum + (stat.isDirectory() ? bytesUnder(path) : stat.size)
  }, 0)

const tarballs = join(work, 'tarballs')
mkdirSync(tarballs)
const tarball = {}
for (const name of ['core', 'gpu', 'cli']) {
  run('npx', ['--yes', 'pnpm@10.34.9', 'pack', '--pack-destination', tarballs], join(root, 'packages', name))
  tarball[name] = join(tarballs, `wavenet-${name}-0.1.0.tgz`)
  if (!existsSync(tarball[name])) fail(`pnpm pack wrote no ${tarball[name]}`)
}

/** Installs tarballs into a new empty folder, trains and samples there; the install's size in bytes. */
const install = (label, names, gpuCheck) => {
  const dir = join(work, label)
  mkdirSync(dir)
  run('npm', ['install', '--no-audit', '--no-fund', ...names.map((n) => tarball[n])], dir)
  run('npx', ['wavenet', 'train', '--steps', '2000', '--log-level', 'warning'], dir)
  if (!existsSync(join(dir, 'model.safetensors'))) fail(`wavenet train wrote no model.safetensors in ${dir}`)
  const words = run('npx', ['wavenet', 'sample', '--model', 'model.safetensors', '--seed', '1'], dir).stdout.trim().split('\n')
  if (words.length !== 20) fail(`wavenet sample printed ${words.length} lines, not 20 words`)
  gpuCheck(dir)
  return bytesUnder(join(dir, 'node_modules'))
}

const light = install('light', ['core', 'cli'], (dir) => {
  const refused = run('npx', ['wavenet', 'sample', '--model', 'model.safetensors', '--backend', 'gpu'], dir, { expectFailure: true })
  if (!/^wavenet: .*needs the optional package @wavenet\/gpu, which is not installed/.test(refused.stderr) || refused.stderr.trim().includes('\n')) {
    fail(`without @wavenet/gpu, --backend gpu did not give the one-line hint:\n${refused.stderr}`)
  }
})
const full = install('full', ['core', 'gpu', 'cli'], (dir) => {
  run('npx', ['wavenet', 'sample', '--model', 'model.safetensors', '-n', '3', '--backend', 'gpu:cpu'], dir)
})

const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`
console.log('packed tarballs installed with npm into empty folders: train --steps 2000 and sample work')
console.log(`installed size, @wavenet/core + @wavenet/cli:                ${mb(light)}`)
console.log(`installed size, @wavenet/core + @wavenet/gpu + @wavenet/cli: ${mb(full)}`)
rmSync(work, { recursive: true, force: true })
