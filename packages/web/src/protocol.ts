/** The messages between the page and its training worker. */

/** The built-in data sets: the CLI's names, and its speeches (`--dataset sotu`). */
export type DataSet = 'names' | 'speeches'

/** A run as the page's form describes it: the CLI's `wavenet train` with the same flags trains the same bits. */
export interface RunSettings {
  readonly data: DataSet
  readonly seed: number
  readonly levels: number
  readonly embedding: number
  readonly hidden: number
  readonly steps: number
  /** Examples a step on the names; windows a step on the speeches. */
  readonly batch: number
  /** Target characters of a window, on the speeches. */
  readonly window: number
}

export interface SampleSettings {
  /** Words, or characters of a passage for a model of running text. */
  readonly count: number
  readonly temperature: number
  readonly seed: number
}

export type ToWorker =
  | { readonly kind: 'train'; readonly settings: RunSettings }
  | { readonly kind: 'pause' }
  | { readonly kind: 'continue' }
  | { readonly kind: 'sample'; readonly settings: SampleSettings }
  | { readonly kind: 'save' }
  | { readonly kind: 'load'; readonly bytes: Uint8Array; readonly name: string }

/** (step, loss) pairs. */
export type Points = readonly (readonly [number, number])[]

/** What the page shows of a model: trained here or loaded. */
export interface ModelSummary {
  /** Whether the model reads running text (it samples passages, not words). */
  readonly text: boolean
  readonly step: number
  readonly steps: number
  readonly parameters: number
  readonly receptiveField: number
  readonly train: Points
  readonly val: Points
}

export type FromWorker =
  | { readonly kind: 'ready'; readonly backend: string }
  | { readonly kind: 'progress'; readonly summary: ModelSummary; readonly stepsPerSecond: number; readonly state: 'training' | 'paused' | 'done' }
  | { readonly kind: 'loaded'; readonly summary: ModelSummary; readonly name: string }
  | { readonly kind: 'samples'; readonly words: readonly string[] }
  | { readonly kind: 'passage'; readonly text: string }
  | { readonly kind: 'checkpoint'; readonly bytes: Uint8Array }
  /** A request failed; nothing changed. */
  | { readonly kind: 'error'; readonly message: string }
  /** The run failed to start or to take a step, and is over. */
  | { readonly kind: 'failed'; readonly message: string }
