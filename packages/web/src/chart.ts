/** The loss chart: training and validation loss (nats) against the step, drawn on a canvas. */
import type { Points } from './protocol.js'

const TRAIN_COLOUR = '#2563eb'
const VAL_COLOUR = '#ea580c'

const MARGIN = { left: 48, right: 28, top: 12, bottom: 28 }

/** A few round values between `low` and `high`, for the axes. */
const ticks = (low: number, high: number, count: number): number[] => {
  const raw = (high - low) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!
  const out: number[] = []
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push(v)
  return out
}

/** Draws both series against steps 0 … `steps`, the canvas sized to its box at the screen's resolution. */
export const drawChart = (canvas: HTMLCanvasElement, steps: number, train: Points, val: Points): void => {
  const ratio = window.devicePixelRatio || 1
  const width = canvas.clientWidth
  const height = canvas.clientHeight
  canvas.width = Math.round(width * ratio)
  canvas.height = Math.round(height * ratio)
  const g = canvas.getContext('2d')!
  g.setTransform(ratio, 0, 0, ratio, 0, 0)
  g.clearRect(0, 0, width, height)
  const losses = [...train, ...val].map(([, loss]) => loss)
  if (losses.length === 0) return
  const low = Math.min(...losses)
  const high = Math.max(...losses)
  const pad = Math.max((high - low) * 0.05, 0.01)
  const [y0, y1] = [low - pad, high + pad]
  const x = (step: number): number => MARGIN.left + (step / Math.max(steps, 1)) * (width - MARGIN.left - MARGIN.right)
  const y = (loss: number): number => MARGIN.top + ((y1 - loss) / (y1 - y0)) * (height - MARGIN.top - MARGIN.bottom)

  g.font = '11px system-ui, sans-serif'
  g.fillStyle = '#6b7280'
  g.strokeStyle = '#e5e7eb'
  g.lineWidth = 1
  g.textAlign = 'right'
  g.textBaseline = 'middle'
  for (const v of ticks(y0, y1, 5)) {
    g.beginPath()
    g.moveTo(MARGIN.left, y(v))
    g.lineTo(width - MARGIN.right, y(v))
    g.stroke()
    g.fillText(v.toFixed(2), MARGIN.left - 6, y(v))
  }
  g.textAlign = 'center'
  g.textBaseline = 'top'
  for (const s of ticks(0, steps, 5)) g.fillText(s.toLocaleString('en'), x(s), height - MARGIN.bottom + 8)

  const line = (points: Points, colour: string, dots: boolean): void => {
    g.strokeStyle = colour
    g.fillStyle = colour
    g.lineWidth = 2
    g.beginPath()
    points.forEach(([step, loss], i) => (i === 0 ? g.moveTo(x(step), y(loss)) : g.lineTo(x(step), y(loss))))
    g.stroke()
    if (dots) for (const [step, loss] of points) g.fillRect(x(step) - 2.5, y(loss) - 2.5, 5, 5)
  }
  line(train, TRAIN_COLOUR, false)
  line(val, VAL_COLOUR, true)
}
