/**
 * Progress of a long run: on a terminal, one live line (step, loss, steps/s,
 * ETA) that the terminal redraws at most a few times a second; elsewhere, a
 * log line at intervals. Both go to stderr: stdout carries only a command's
 * output.
 */
import { Effect } from 'effect'
import type { Terminal } from './terminal.js'

export interface Progress {
  /** Called after each chunk of steps. */
  update(step: number, loss: number, stepsPerSecond: number): Effect.Effect<void>
  /** Ends the live line, if any. */
  readonly done: Effect.Effect<void>
}

const duration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/** A reporter for a run of `total` steps: the terminal's live line, or a log line every `every` steps when stderr is no terminal. */
export const progress = (terminal: Terminal, total: number, every: number): Progress => {
  let lastLogged = -1
  return {
    update: (step, loss, rate) => Effect.suspend(() => {
      const eta = duration((total - step) / rate)
      if (terminal.interactive) return terminal.status(`step ${step}/${total}  loss ${loss.toFixed(4)}  ${rate.toFixed(0)} steps/s  ETA ${eta}`)
      if (Math.floor(step / every) === Math.floor(lastLogged / every) && step !== total) return Effect.void
      lastLogged = step
      return Effect.logInfo('training').pipe(
        Effect.annotateLogs({ step, loss: Number(loss.toFixed(4)), stepsPerSecond: Math.round(rate), eta }),
      )
    }),
    done: terminal.endStatus,
  }
}
