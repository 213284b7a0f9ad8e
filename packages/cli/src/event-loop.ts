/** Giving Node's event loop a turn from inside long synchronous work. */
import { Effect } from 'effect'

/**
 * Resumes on a macrotask. Effect's own yields are mostly microtasks, which
 * never let Node deliver a signal: long work yields this between chunks so
 * that a Ctrl-C arriving meanwhile is seen promptly.
 */
export const eventLoopTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})
