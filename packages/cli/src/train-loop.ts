/**
 * The training loop. Minibatches come from the seeded generator; each step
 * is batch, forward, backward, update. Every `evalEvery` steps the validation
 * loss is logged; every `saveEvery` steps a checkpoint is written atomically.
 * A save that fails (a full disk) is logged and tried again at the next one.
 * A loss that is not finite, or weights that no longer give a finite loss
 * when a checkpoint is due, stop training with an error naming the step and
 * the last good checkpoint, which is left in place. Interrupted (Ctrl-C,
 * SIGTERM, SIGHUP), a run writes a checkpoint of the last completed step
 * before it stops.
 */
import type { FileSystem, Path } from '@effect/platform'
import {
  type Checkpoint, documentWindows, evaluateWords, type Kernels, type Model, type OptimizerState, parameters, receptiveField, type Rng, windowsLoss,
} from '@wavenet/core'
import { Console, Effect } from 'effect'
import type { Backend } from './backend.js'
import { saveCheckpoint } from './checkpoints.js'
import { DivergedError, FileError } from './errors.js'
import { eventLoopTurn } from './event-loop.js'
import { evaluateInPieces, evaluateWindowsInPieces } from './pieces.js'
import type { Progress } from './progress.js'
import type { Start } from './train-start.js'

/** What a run's loop works with, fixed for the run. */
export interface Run {
  readonly backend: Backend
  /** One step on the batch the generator draws (examples or whole words, by mode): the loss, and the generator after the draw. */
  readonly advance: (rng: Rng) => readonly [number, Rng]
  /** The session's current model and optimizer state, as values. */
  readonly snapshot: () => { readonly model: Model; readonly state: OptimizerState }
  readonly start: Start
  /** The checkpoint written. */
  readonly out: string
  readonly steps: number
  readonly evalEvery: number
  /** Stop at the first validation loss at or below this. */
  readonly stopAtVal: number | undefined
  readonly saveEvery: number
  readonly progress: Progress
}

/**
 * The loop's state, one record. Chunks of steps advance it in place (a run
 * takes up to millions of steps), and the interruption handler reads it to
 * save the last completed step.
 */
export interface LoopState {
  step: number
  rng: Rng
  /** The step of the last good checkpoint in `out`, if any: the last this run wrote, or the one it resumed from in place. */
  saved: number | undefined
  readonly history: { readonly train: (readonly [number, number])[]; readonly val: (readonly [number, number])[] }
  /** Milliseconds of each whole step. */
  readonly times: number[]
  /** Milliseconds spent in steps, evaluation and saving excluded. */
  trainMs: number
  /** Sum and count of the minibatch losses since the last point of the history. */
  intervalLoss: number
  intervalSteps: number
  /** The validation loss of the current step, once computed. */
  valLoss: number | undefined
}

/** Points of the training-loss history in a run. */
const HISTORY_POINTS = 200
/** Steps run between two checks for interruption and progress updates, at most (about 50 ms). */
const CHUNK_MS = 50

/** The state at the start of a run that writes `out`. */
export const initialState = (start: Start, out: string): LoopState => ({
  step: start.step, rng: start.rng, saved: out === start.settings.resume ? start.step : undefined, history: { train: [...start.history.train], val: [...start.history.val] },
  times: [], trainMs: 0, intervalLoss: 0, intervalSteps: 0, valLoss: undefined,
})

const checkpointOf = (run: Run, state: LoopState): Checkpoint => {
  const { model, state: optimizerState } = run.snapshot()
  const { start } = run
  return {
    model, vocab: start.vocab, seed: start.seed, mode: start.settings.mode, step: state.step, rng: state.rng, history: state.history,
    optimizer: { config: start.optimizer, state: optimizerState },
    training: {
      batch: start.settings.batch, data: start.data, backend: run.backend.name, ...(start.settings.mode === 'text' ? { window: start.settings.window } : {}),
    },
  }
}

/** What is left of the run in `out`: the last good checkpoint, if any. */
const kept = (run: Run, state: LoopState): string =>
  state.saved === undefined ? 'no checkpoint was written' : `the last good checkpoint (${run.out}, step ${state.saved}) is untouched`

/** Outputs of the validation words a checkpoint's weights are tried on before it is written. */
const PROBE_OUTPUTS = 256

/**
 * Why a model must not be saved, if it must not: a tensor that is not
 * finite, a negative running variance, or weights finite but so large
 * that the loss over the first validation words is not (they overflow).
 */
const unusable = (run: Run, model: Model): string | undefined => {
  for (const [name, tensor] of Object.entries(parameters(model))) {
    if (!tensor.data.every(Number.isFinite)) return `tensor ${name} is not finite`
    if (name.endsWith('running_var') && tensor.data.some((v) => v < 0)) return `running variance ${name} is negative`
  }
  const { kernels } = run.backend
  const { text } = run.start
  if (text !== undefined) {
    const first = documentWindows(text.val, receptiveField(model), PROBE_OUTPUTS).next()
    return first.done === true || Number.isFinite(windowsLoss(kernels, model, first.value).total) ? undefined : 'the weights give a loss that is not finite'
  }
  const probe: Int32Array[] = []
  let outputs = 0
  for (const word of run.start.valWords) {
    if (outputs > 0 && outputs + word.length + 1 > PROBE_OUTPUTS) break
    probe.push(word)
    outputs += word.length + 1
  }
  return Number.isFinite(evaluateWords(kernels, model, probe)) ? undefined : 'the weights give a loss that is not finite'
}

/**
 * Writes the checkpoint of the current step, once its weights are checked
 * usable (else the run has diverged: a DivergedError naming the last good
 * checkpoint). A write that fails says what is kept. Uninterruptible: a
 * Ctrl-C during a write lets it finish, so the file is always whole.
 */
export const save = (run: Run, state: LoopState): Effect.Effect<void, DivergedError | FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.suspend((): Effect.Effect<void, DivergedError | FileError, FileSystem.FileSystem | Path.Path> => {
    const checkpoint = checkpointOf(run, state)
    const why = unusable(run, checkpoint.model)
    if (why !== undefined) {
      return Effect.fail(new DivergedError({ step: state.step, message: `training diverged: at step ${state.step} ${why}; ${kept(run, state)}` }))
    }
    return saveCheckpoint(run.out, checkpoint).pipe(
      Effect.mapError((e) => new FileError({ path: e.path, message: `${e.message}; ${kept(run, state)}` })),
    )
  }).pipe(
    Effect.tap(() => Effect.sync(() => { state.saved = state.step })),
    Effect.tap(() => Effect.logDebug('checkpoint saved').pipe(Effect.annotateLogs({ step: state.step, path: run.out }))),
    Effect.uninterruptible,
  )

/** The mean cross-entropy (nats) of a model over the run's validation split: every word, or every character of every document. */
export const validationLoss = (kernels: Kernels, model: Model, start: Start): Effect.Effect<number> =>
  start.text === undefined
    ? evaluateInPieces(kernels, model, start.valWords)
    : evaluateWindowsInPieces(kernels, model, documentWindows(start.text.val, receptiveField(model)))

/**
 * The validation loss now (over every node once per word: the per-example
 * mean), recorded in the history (when finite: the history holds numbers
 * only) and logged. Computed in pieces, so a signal is seen meanwhile.
 */
export const validate = (run: Run, state: LoopState): Effect.Effect<number> =>
  Effect.suspend(() => validationLoss(run.backend.kernels, run.snapshot().model, run.start)).pipe(
    Effect.tap((loss) => Effect.sync(() => {
      state.valLoss = loss
      if (Number.isFinite(loss)) state.history.val.push([state.step, loss])
    })),
    Effect.tap((loss) => Effect.logInfo('validation').pipe(Effect.annotateLogs({ step: state.step, valLoss: Number(loss.toFixed(4)) }))),
  )

/**
 * Runs steps until the chunk's time is up or a boundary (history point,
 * evaluation, save, end) is reached. Returns the step whose loss was not
 * finite, if one was not.
 */
const chunk = (run: Run, state: LoopState, historyEvery: number): number | undefined => {
  const began = performance.now()
  do {
    const t0 = performance.now()
    const [loss, next] = run.advance(state.rng)
    state.times.push(performance.now() - t0)
    if (!Number.isFinite(loss)) return state.step + 1
    state.rng = next
    state.step++
    state.valLoss = undefined
    state.intervalLoss += loss
    state.intervalSteps++
    if (state.step % historyEvery === 0 || state.step === run.steps) {
      state.history.train.push([state.step, state.intervalLoss / state.intervalSteps])
      state.intervalLoss = 0
      state.intervalSteps = 0
    }
  } while (state.step < run.steps && state.step % historyEvery !== 0 && state.step % run.evalEvery !== 0 && state.step % run.saveEvery !== 0 &&
    performance.now() - began < CHUNK_MS)
  state.trainMs += performance.now() - began
  return undefined
}

/**
 * Trains up to `run.steps`, or to the first validation loss at or below
 * `run.stopAtVal`, validating and saving on the way; the last checkpoint is
 * the caller's.
 */
export const loop = (run: Run, state: LoopState): Effect.Effect<void, DivergedError | FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const historyEvery = Math.max(1, Math.floor(run.steps / HISTORY_POINTS))
    while (state.step < run.steps) {
      const before = state.step
      const began = performance.now()
      const diverged = chunk(run, state, historyEvery)
      if (diverged !== undefined) {
        yield* run.progress.done
        return yield* Effect.fail(new DivergedError({ step: diverged, message: `loss is not finite at step ${diverged}: training stopped; ${kept(run, state)}` }))
      }
      yield* eventLoopTurn
      const { history } = state
      const latest = state.intervalSteps > 0 ? state.intervalLoss / state.intervalSteps : history.train[history.train.length - 1]?.[1] ?? Number.NaN
      yield* run.progress.update(state.step, latest, (state.step - before) / Math.max((performance.now() - began) / 1000, 1e-9))
      if (state.step % run.evalEvery === 0 && state.step < run.steps) {
        const loss = yield* validate(run, state)
        if (run.stopAtVal !== undefined && loss <= run.stopAtVal) {
          yield* Effect.logInfo('reached --stop-at-val').pipe(Effect.annotateLogs({ step: state.step, valLoss: Number(loss.toFixed(4)) }))
          break
        }
      }
      if (state.step % run.saveEvery === 0 && state.step < run.steps) {
        // A failed save loses nothing yet: training goes on, and the next save tries again.
        yield* save(run, state).pipe(Effect.catchTag('FileError', (e) =>
          Effect.logWarning(`${e.message}; training goes on and saves again at step ${Math.min(state.step + run.saveEvery, run.steps)}`)))
      }
    }
    yield* run.progress.done
  })

/**
 * `effect`, which advances `state`, such that if it is interrupted the last
 * completed step is saved (unless it already is) and the user is told where.
 */
export const savingOnInterrupt = <A, E, R>(run: Run, state: LoopState, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.onInterrupt(() =>
    run.progress.done.pipe(
      Effect.zipRight(Effect.suspend(() => (state.saved === state.step ? Effect.void : save(run, state)))),
      Effect.zipRight(Effect.suspend(() => Console.error(`wavenet: interrupted after step ${state.step}; checkpoint saved to ${run.out}`))),
      Effect.catchAll((e) => Console.error(`wavenet: interrupted after step ${state.step}; ${e.message}`)),
    )))
