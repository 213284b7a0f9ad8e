// A measured ceiling for the matmul: its own 5×8 register tile run over
// operands small enough to stay in L1 (a 5-row panel and a strip of B of
// PEAK_STEPS steps, 7 KiB), so that no packing, no edge and no traffic from
// L2 slows it: what the matmul's inner loop reaches at best on this machine.

import { tile5x8 } from './matmul'

/** Steps of the tile per call of the inner loop. */
const PEAK_STEPS: i32 = 64

/** Bytes of operands `multiplyAddPeak` reads and writes. */
export function multiplyAddPeakBytes(): usize {
  return <usize>PEAK_STEPS * (80 + 32) + 5 * 8 * 4
}

/**
 * Runs the 5×8 tile `tiles` times over PEAK_STEPS steps (each step 10
 * multiplies and 10 adds of 4 lanes: 80 flops), accumulating into the tile
 * at the end of `operands` (multiplyAddPeakBytes() bytes). Returns the flops
 * done.
 */
export function multiplyAddPeak(tiles: i32, operands: usize): f64 {
  const strip = operands + <usize>PEAK_STEPS * 80
  const c = strip + <usize>PEAK_STEPS * 32
  for (let t = 0; t < tiles; t++) tile5x8(operands, strip, c, 32, PEAK_STEPS, true)
  return <f64>tiles * <f64>PEAK_STEPS * 80
}
