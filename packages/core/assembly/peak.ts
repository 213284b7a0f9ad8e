// A measured ceiling for the matmul: the inner step of its 4×8 register tile
// (4 splat loads, 2 vector loads, 8 independent f32x4 multiply-adds) run on a
// few cache lines that stay in L1, so nothing but that step's own
// arithmetic and loads limits it.

/**
 * Runs `steps` tile steps (64 flops each) over `operands` (1 KiB: 8 steps of
 * 4 splats and 2 vectors, cycled through) and returns a value depending on
 * every product so the loop cannot be removed. Operands are loaded, as in
 * the matmul, rather than held in registers: V8 re-materialises a splat
 * computed before a loop at each use inside it.
 */
export function multiplyAddPeak(steps: i32, operands: usize): f32 {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0)
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0)
  for (let s = 0; s < steps; s++) {
    const at = operands + (<usize>(s & 7) << 7)
    const b0 = v128.load(at, 64)
    const b1 = v128.load(at, 80)
    const a0 = v128.load(at)
    c00 = f32x4.add(c00, f32x4.mul(a0, b0))
    c01 = f32x4.add(c01, f32x4.mul(a0, b1))
    const a1 = v128.load(at, 16)
    c10 = f32x4.add(c10, f32x4.mul(a1, b0))
    c11 = f32x4.add(c11, f32x4.mul(a1, b1))
    const a2 = v128.load(at, 32)
    c20 = f32x4.add(c20, f32x4.mul(a2, b0))
    c21 = f32x4.add(c21, f32x4.mul(a2, b1))
    const a3 = v128.load(at, 48)
    c30 = f32x4.add(c30, f32x4.mul(a3, b0))
    c31 = f32x4.add(c31, f32x4.mul(a3, b1))
  }
  const sum = f32x4.add(
    f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11)),
    f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31)),
  )
  return f32x4.extract_lane(sum, 0)
}
