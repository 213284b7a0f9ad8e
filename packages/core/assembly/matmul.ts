// C = op(A) · op(B) (or C += …) in float32 with f32x4 SIMD.
//
// Blocking (the scheme measured fastest on the target machine):
// - K is cut into blocks of KC = 256 so that one packed A panel (4 rows × KC
//   pre-broadcast values = 16 KiB) stays in L1 while it is reused against
//   every 8-column strip of B.
// - For each block of 4 rows of C, A is packed into a panel where every
//   element a[i, p] is stored splatted across a v128; the inner loop then needs
//   no shuffles: per step p it loads 4 splats and 2 vectors of B's row p and
//   updates a 4×8 register tile (8 f32x4 accumulators).
// - B is read in place, row by row (rows of op(B) are contiguous when B is not
//   transposed); a transposed B is first copied into scratch as k×n.
// Edges never touch memory past the matrices: the n mod 8 columns left over
// after the 8-wide strips are copied into a zero-padded 8-wide B panel and
// computed through the same 4×8 tile into a scratch tile, whose valid part is
// then copied to C; the m mod 4 rows left over after the 4-row blocks are
// zero rows in the A panel and are neither loaded from nor stored to C.
//
// All pointers are byte offsets into the imported memory. Every exported
// parameter is explicit: optional parameters trap when called from JS.

/** Depth of one K block. */
const KC: i32 = 256
/** Bytes of one packed A panel: 4 rows × KC steps × one v128 each. */
const PANEL_BYTES: usize = <usize>(4 * KC * 16)
/** Bytes of the zero-padded B panel of the last n mod 8 columns: KC rows × 8. */
const TAIL_BYTES: usize = <usize>(KC * 8 * 4)
/** Bytes of the scratch 4×8 tile of C for those columns. */
const TILE_BYTES: usize = 4 * 8 * 4

/** Bytes of scratch `matmul` needs for these sizes. */
export function matmulScratchBytes(n: i32, k: i32, transB: bool): usize {
  return PANEL_BYTES + TAIL_BYTES + TILE_BYTES + (transB ? <usize>n * <usize>k * 4 : 0)
}

/**
 * C (m×n) = op(A) · op(B), or C += op(A) · op(B) when `accumulate` is 1.
 * op(A) is m×k (A stored k×m when `transA`), op(B) is k×n (B stored n×k when
 * `transB`). `scratch` holds matmulScratchBytes(n, k, transB) bytes.
 */
export function matmul(
  m: i32, n: i32, k: i32,
  a: usize, transA: bool,
  b: usize, transB: bool,
  c: usize, accumulate: bool,
  scratch: usize,
): void {
  if (m <= 0 || n <= 0) return
  if (k <= 0) {
    if (!accumulate) memory.fill(c, 0, <usize>m * <usize>n * 4)
    return
  }
  const panel = scratch
  const tailB = panel + PANEL_BYTES
  const tile = tailB + TAIL_BYTES
  let bk = b
  if (transB) {
    bk = tile + TILE_BYTES
    transpose(b, n, k, bk)
  }
  const ldc = <usize>n * 4
  const n8 = n & ~7
  const nr = n - n8
  for (let kb = 0; kb < k; kb += KC) {
    const kc = min(KC, k - kb)
    // The first K block overwrites C unless accumulating; later blocks add.
    const loadC = accumulate || kb > 0
    const bBlock = bk + <usize>kb * ldc
    if (nr > 0) packTail(bBlock + <usize>n8 * 4, ldc, kc, nr, tailB)
    for (let i = 0; i < m; i += 4) {
      const mr = min(4, m - i)
      packA(a, transA, m, k, i, mr, kb, kc, panel)
      const cRow = c + <usize>i * ldc
      for (let j = 0; j < n8; j += 8) tile4x8(panel, bBlock + <usize>j * 4, ldc, cRow + <usize>j * 4, ldc, kc, mr, loadC)
      if (nr > 0) {
        const cTail = cRow + <usize>n8 * 4
        const tailRowBytes = <usize>nr * 4
        if (loadC) for (let r = 0; r < mr; r++) memory.copy(tile + <usize>r * 32, cTail + <usize>r * ldc, tailRowBytes)
        tile4x8(panel, tailB, 32, tile, 32, kc, 4, loadC)
        for (let r = 0; r < mr; r++) memory.copy(cTail + <usize>r * ldc, tile + <usize>r * 32, tailRowBytes)
      }
    }
  }
}

/** tail[p, q] = B[p, q] for q < nr, 0 for nr ≤ q < 8, over kc rows of B (ldb bytes apart). */
function packTail(b: usize, ldb: usize, kc: i32, nr: i32, tail: usize): void {
  memory.fill(tail, 0, <usize>kc * 32)
  const rowBytes = <usize>nr * 4
  for (let p = 0; p < kc; p++) memory.copy(tail + <usize>p * 32, b + <usize>p * ldb, rowBytes)
}

/**
 * dst (cols×rows) = srcᵀ for a row-major rows×cols src: 4×4 blocks are
 * transposed in registers with shuffles, the edges one value at a time.
 */
function transpose(src: usize, rows: i32, cols: i32, dst: usize): void {
  const lds = <usize>cols * 4
  const ldd = <usize>rows * 4
  let r = 0
  for (; r + 4 <= rows; r += 4) {
    const s = src + <usize>r * lds
    const d = dst + <usize>r * 4
    let q = 0
    for (; q + 4 <= cols; q += 4) {
      const at = <usize>q * 4
      const x0 = v128.load(s + at), x1 = v128.load(s + lds + at)
      const x2 = v128.load(s + 2 * lds + at), x3 = v128.load(s + 3 * lds + at)
      const lo01 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5)
      const lo23 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5)
      const hi01 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7)
      const hi23 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7)
      const out = d + <usize>q * ldd
      v128.store(out, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5))
      v128.store(out + ldd, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7))
      v128.store(out + 2 * ldd, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5))
      v128.store(out + 3 * ldd, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7))
    }
    for (; q < cols; q++) {
      const out = d + <usize>q * ldd
      const at = s + <usize>q * 4
      store<f32>(out, load<f32>(at))
      store<f32>(out, load<f32>(at + lds), 4)
      store<f32>(out, load<f32>(at + 2 * lds), 8)
      store<f32>(out, load<f32>(at + 3 * lds), 12)
    }
  }
  for (; r < rows; r++) {
    const s = src + <usize>r * lds
    const d = dst + <usize>r * 4
    for (let q = 0; q < cols; q++) store<f32>(d + <usize>q * ldd, load<f32>(s + <usize>q * 4))
  }
}

/**
 * panel[p, r] = splat(op(A)[i + r, kb + p]) for p < kc, r < 4, with zeros for
 * rows r ≥ mr (past the bottom of A).
 */
// @ts-ignore: decorator
@inline
function packA(a: usize, transA: bool, m: i32, k: i32, i: i32, mr: i32, kb: i32, kc: i32, panel: usize): void {
  // Distance in bytes between op(A)[r, p] and op(A)[r + 1, p], and between
  // op(A)[r, p] and op(A)[r, p + 1].
  const rowStride: usize = transA ? 4 : <usize>k * 4
  const stepStride: usize = transA ? <usize>m * 4 : 4
  const first = transA ? a + (<usize>kb * <usize>m + <usize>i) * 4 : a + (<usize>i * <usize>k + <usize>kb) * 4
  const zero = f32x4.splat(0)
  if (mr == 4) {
    let src = first
    let dst = panel
    for (let p = 0; p < kc; p++) {
      v128.store(dst, v128.load32_splat(src))
      v128.store(dst, v128.load32_splat(src + rowStride), 16)
      v128.store(dst, v128.load32_splat(src + 2 * rowStride), 32)
      v128.store(dst, v128.load32_splat(src + 3 * rowStride), 48)
      src += stepStride
      dst += 64
    }
    return
  }
  for (let p = 0; p < kc; p++) {
    const src = first + <usize>p * stepStride
    const dst = panel + <usize>p * 64
    for (let r = 0; r < 4; r++) {
      v128.store(dst + <usize>r * 16, r < mr ? v128.load32_splat(src + <usize>r * rowStride) : zero)
    }
  }
}

/** A 4×8 tile of C: rows 0..mr−1 are loaded (when `loadC`) and stored. */
// @ts-ignore: decorator
@inline
function tile4x8(panel: usize, b: usize, ldb: usize, c: usize, ldc: usize, kc: i32, mr: i32, loadC: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0)
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0)
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0)
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0)
  if (loadC) {
    c00 = v128.load(c); c01 = v128.load(c, 16)
    if (mr > 1) { c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16) }
    if (mr > 2) { c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16) }
    if (mr > 3) { c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16) }
  }
  let pa = panel
  let pb = b
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb)
    const b1 = v128.load(pb, 16)
    const a0 = v128.load(pa)
    c00 = f32x4.add(c00, f32x4.mul(a0, b0))
    c01 = f32x4.add(c01, f32x4.mul(a0, b1))
    const a1 = v128.load(pa, 16)
    c10 = f32x4.add(c10, f32x4.mul(a1, b0))
    c11 = f32x4.add(c11, f32x4.mul(a1, b1))
    const a2 = v128.load(pa, 32)
    c20 = f32x4.add(c20, f32x4.mul(a2, b0))
    c21 = f32x4.add(c21, f32x4.mul(a2, b1))
    const a3 = v128.load(pa, 48)
    c30 = f32x4.add(c30, f32x4.mul(a3, b0))
    c31 = f32x4.add(c31, f32x4.mul(a3, b1))
    pa += 64
    pb += ldb
  }
  v128.store(c, c00); v128.store(c, c01, 16)
  if (mr > 1) { v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16) }
  if (mr > 2) { v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16) }
  if (mr > 3) { v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16) }
}
