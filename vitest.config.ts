import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Tests and examples exercise the sources, not a stale build.
    alias: { '@wavenet/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    // In CI, every test by name: skipped suites carry the reason in their name (GPU modes).
    reporters: process.env['CI'] ? ['verbose'] : ['default'],
  },
})
