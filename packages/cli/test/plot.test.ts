/** The loss plot: both curves against the step, within any width it is given. */
import { describe, expect, it } from 'vitest'
import { lossPlot } from '../src/plot.js'

const history = {
  train: Array.from({ length: 200 }, (_, i) => [(i + 1) * 100, 3 * Math.exp(-i / 50) + 1.9] as const),
  val: Array.from({ length: 10 }, (_, i) => [(i + 1) * 2000, 3 * Math.exp(-i / 2.5) + 2] as const),
}

describe('lossPlot', () => {
  it('fits every width from 40 columns up, with both curves and the first and last steps', () => {
    for (const columns of [40, 60, 80, 132, 250]) {
      const lines = lossPlot(history, columns, false)
      expect(lines.filter((line) => [...line].length > columns), `${columns} columns`).toEqual([])
      const plot = lines.join('\n')
      expect(plot).toMatch(/•/)
      expect(plot).toMatch(/×/)
      expect(lines[lines.length - 1]).toMatch(/^ +100 .*20000$/)
    }
  })

  it('colours the curves only when asked', () => {
    expect(lossPlot(history, 80, false).join('\n')).not.toContain('\x1b')
    expect(lossPlot(history, 80, true).join('\n')).toContain('\x1b[36m•')
  })

  it('draws nothing where there is no room or no curve', () => {
    expect(lossPlot(history, 30, false)).toEqual([])
    expect(lossPlot({ train: [[1, 2]], val: [] }, 80, false)).toEqual([])
  })
})
