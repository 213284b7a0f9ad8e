/**
 * Set up for mutation runs only (`vitest.mutation.config.ts`): a property
 * test stops at its first counterexample instead of shrinking it, since a
 * mutant only needs to be seen failing.
 */
import fc from 'fast-check'

fc.configureGlobal({ endOnFailure: true })
