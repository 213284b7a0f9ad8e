/**
 * Builds headless-gl (`gl`, gpu.js's optional dependency, for `--backend
 * gpu:headlessgl`) from source: runs its own install script, which the
 * workspace install skips (root package.json, `pnpm.ignoredBuiltDependencies`)
 * because it needs a C++ toolchain and X11 headers and takes minutes.
 * Install them first (Debian: build-essential python3 pkg-config libx11-dev
 * libxext-dev libxi-dev), then run `pnpm build:gl` from the repository root.
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'

const fromGpuJs = createRequire(createRequire(import.meta.url).resolve('gpu.js'))
const gl = dirname(fromGpuJs.resolve('gl/package.json'))
console.log(`building gl in ${gl}`)
// npm runs the package's `install` script with the package's own node_modules/.bin (node-gyp) on the PATH.
const { status } = spawnSync('npm', ['run', 'install'], { cwd: gl, stdio: 'inherit' })
process.exit(status ?? 1)
