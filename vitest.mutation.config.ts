/**
 * The core's tests as StrykerJS runs them (`pnpm mutation`): the base
 * configuration with the core's test files only, property tests that stop
 * at their first counterexample, and no coverage counting while a mutant
 * runs.
 */
import { defineConfig, type Plugin } from 'vitest/config'
import base from './vitest.config.js'

/**
 * Stryker's instrumented files count which mutants each test reaches on
 * every statement they run; with per-test coverage that counting makes the
 * kernels' inner loops about 70 times slower. It is needed in the dry run
 * only: while a mutant is active, the counting function returns at once.
 */
const countCoverageInDryRunOnly: Plugin = {
  name: 'wavenet:stryker-coverage-in-dry-run-only',
  enforce: 'pre',
  transform: (code) => (code.includes('function stryCov_9fa48() {')
    ? code.replace('function stryCov_9fa48() {', 'function stryCov_9fa48() {\n  if (stryNS_9fa48().activeMutant !== undefined) return;')
    : undefined),
}

export default defineConfig({
  ...base,
  plugins: [countCoverageInDryRunOnly],
  test: {
    ...base.test,
    include: ['packages/core/test/**/*.test.ts'],
    // The dry run counts coverage on every statement: the gradient checks take minutes.
    testTimeout: 900_000,
    setupFiles: ['packages/core/test/support/mutation-setup.ts'],
  },
})
