/**
 * The core's tests as StrykerJS runs them (`pnpm mutation`): the base
 * configuration with the core's test files only, property tests that stop
 * at their first counterexample, no coverage counting while a mutant runs,
 * and the quickest test files first.
 */
import { defineConfig, type Plugin } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'
import base from './vitest.config.js'
import path from 'node:path'

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

/**
 * Stryker stops a mutant's run at its first failing test. Vitest's own order
 * puts the longest files first, so a mutant in a kernel that every file
 * reaches waited for the slow model tests before the kernel's own test
 * failed. Here a file that failed last time runs first (it killed the last
 * mutant, often a neighbour of this one), then the rest from quickest to
 * slowest, by the durations of the dry run.
 */
class QuickestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache
    const stats = (file: TestSpecification) => {
      const key = `${file.project.name}:${path.relative(this.ctx.config.root, file.moduleId)}`
      const result = cache.getFileTestResults(key)
      return { failed: result?.failed === true, duration: result?.duration ?? Infinity }
    }
    return files
      .map((file) => ({ file, ...stats(file) }))
      .sort((a, b) => Number(b.failed) - Number(a.failed) || a.duration - b.duration)
      .map(({ file }) => file)
  }
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
    sequence: { sequencer: QuickestFirst },
  },
})
