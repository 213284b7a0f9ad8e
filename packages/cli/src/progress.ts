/**
 * Progress of a long run: on a terminal, one live line rewritten in place
 * (step, loss, steps/s, ETA); elsewhere, plain log lines at intervals. Both go
 * to stderr: stdout carries only a command's output.
 */
import { Effect } from 'effect'

export interface Progress {
  /** Called after each chunk of steps. */
  update(step: number, loss: number, stepsPerSecond: number): Effect.Effect<void>
  /** Ends the live line, if any. */
  done(): Effect.Effect<void>
}

const duration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/** A reporter for a run of `total` steps; plain lines every `every` steps when stderr is not a terminal. */
export const progress = (total: number, every: number, terminal = process.stderr.isTTY === true): Progress => {
  let lastLogged = -1
  let live = false
  return {
    update: (step, loss, rate) => Effect.suspend(() => {
      const eta = duration((total - step) / rate)
      if (terminal) {
        live = true
        const line = `step ${step}/${total}  loss ${loss.toFixed(4)}  ${rate.toFixed(0)} steps/s  ETA ${eta}`
        return Effect.sync(() => process.stderr.write(`\r\x1b[2K${line}`))
      }
      if (Math.floor(step / every) === Math.floor(lastLogged / every) && step !== total) return Effect.void
      lastLogged = step
      return Effect.logInfo('training').pipe(
        Effect.annotateLogs({ step, loss: Number(loss.toFixed(4)), stepsPerSecond: Math.round(rate), eta }),
      )
    }),
    done: () => Effect.sync(() => {
      if (live) process.stderr.write('\n')
      live = false
    }),
  }
}
