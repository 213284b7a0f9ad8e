/**
 * The loss curves of a run as text: the training loss (averaged into one
 * point per column) and the validation loss against the step, a loss axis on
 * the left and a step axis below, in at most a given number of columns.
 */
import type { History } from '@wavenet/core'

/** Rows of the plotting area. */
const HEIGHT = 12
/** Fewest columns of plotting area worth drawing (the title fits above them). */
const MIN_WIDTH = 30
const TRAIN = '•'
const VAL = '×'
const SGR = { train: '\x1b[36m', val: '\x1b[33m', reset: '\x1b[0m' } as const

type Points = readonly (readonly [number, number])[]

/** Each point's column of `width`, over the steps `first` to `last`. */
const columnOf = (step: number, first: number, last: number, width: number) => Math.round(((step - first) / (last - first)) * (width - 1))

/** Mean loss of the points that fall in each column (undefined where none does). */
const binned = (points: Points, first: number, last: number, width: number): (number | undefined)[] => {
  const sums = new Array<number>(width).fill(0)
  const counts = new Array<number>(width).fill(0)
  for (const [step, loss] of points) {
    const c = columnOf(step, first, last, width)
    sums[c]! += loss
    counts[c]!++
  }
  return sums.map((sum, c) => (counts[c]! > 0 ? sum / counts[c]! : undefined))
}

/**
 * The plot's lines, none longer than `columns` characters; no lines when the
 * history has fewer than two steps or the width leaves no room to draw.
 */
export const lossPlot = (history: History, columns: number, color: boolean): string[] => {
  const points = [...history.train, ...history.val].filter(([, loss]) => Number.isFinite(loss))
  const steps = points.map(([step]) => step)
  const losses = points.map(([, loss]) => loss)
  const [first, last, low, high] = [Math.min(...steps), Math.max(...steps), Math.min(...losses), Math.max(...losses)]
  const labels = Array.from({ length: HEIGHT }, (_, r) => (high - (r / (HEIGHT - 1)) * (high - low)).toFixed(3))
  const margin = Math.max(...labels.map((l) => l.length)) + 1
  const width = columns - margin - 2
  if (history.train.length < 2 || !(last > first) || width < MIN_WIDTH) return []
  const rowOf = (loss: number) => (high > low ? Math.round(((high - loss) / (high - low)) * (HEIGHT - 1)) : HEIGHT >> 1)
  const grid = Array.from({ length: HEIGHT }, () => new Array<string>(width).fill(' '))
  const paint = (mark: string, code: string) => (color ? `${code}${mark}${SGR.reset}` : mark)
  binned(history.train, first, last, width).forEach((loss, c) => {
    if (loss !== undefined) grid[rowOf(loss)]![c] = paint(TRAIN, SGR.train)
  })
  binned(history.val, first, last, width).forEach((loss, c) => {
    if (loss !== undefined) grid[rowOf(loss)]![c] = paint(VAL, SGR.val)
  })
  // A loss label every fourth row and on the last.
  const labelled = (r: number) => r % 4 === 0 || r === HEIGHT - 1
  const rows = grid.map((cells, r) => `${(labelled(r) ? labels[r]! : '').padStart(margin - 1)} ${labelled(r) ? '┤' : '│'}${cells.join('')}`)
  const mid = width >> 1
  const axis = `${' '.repeat(margin)}└${Array.from({ length: width }, (_, c) => (c === 0 || c === mid || c === width - 1 ? '┬' : '─')).join('')}`
  const stepLine = new Array<string>(width).fill(' ')
  const place = (label: string, at: number) => [...label].forEach((ch, i) => { stepLine[at + i] = ch })
  const [start, centre, end] = [first, first + (mid / (width - 1)) * (last - first), last].map((step) => String(Math.round(step))) as [string, string, string]
  const centreAt = mid - (centre.length >> 1)
  place(start, 0)
  place(end, width - end.length)
  // The middle step only where it clears both ends.
  if (centreAt > start.length && centreAt + centre.length < width - end.length) place(centre, centreAt)
  const title = `loss by step   ${paint(TRAIN, SGR.train)} train   ${paint(VAL, SGR.val)} validation`
  return [title, ...rows, axis, `${' '.repeat(margin + 1)}${stepLine.join('')}`]
}
