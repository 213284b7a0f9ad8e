/**
 * The `wavenet` executable as one file: dist/main.js, bundled from
 * src/main.ts with what it imports, tree-shaken and minified. Node's
 * built-ins stay imports, and so does @wavenet/gpu, an optional dependency
 * loaded only for `--backend gpu…`. Node 20 loads one file of the parts of
 * Effect the CLI uses many times faster than the hundreds of modules it
 * would otherwise resolve, read and compile, which is most of a command's
 * start (README, Benchmarks). `tsc` still emits every module, for the
 * package's library entry (dist/index.js) and its types.
 */
import { rmSync } from 'node:fs'
import { rolldown } from 'rolldown'

const bundle = await rolldown({
  input: 'src/main.ts',
  platform: 'node',
  external: [/^node:/, '@wavenet/gpu'],
  // The sources import each other by their emitted names (./cli.js).
  resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
})
await bundle.write({ file: 'dist/main.js', format: 'esm', minify: true, sourcemap: false })
await bundle.close()
// tsc's map of the module the bundle replaced.
rmSync('dist/main.js.map', { force: true })
