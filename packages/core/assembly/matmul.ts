// C = op(A) · op(B) (or C += …) in float32 with f32x4 SIMD.
//
// Blocking (the scheme measured fastest on the target machine, a Zen 4 core
// running V8's 128-bit SIMD, which has no fused multiply-add):
// - K is cut into blocks of KC = 256.
// - For each K block, op(B) is packed into strips of 8 columns, each strip
//   its KC rows of 8 contiguous values (zero-padded past column n): the inner
//   loop then reads B sequentially whatever B's layout, and a transposed B is
//   transposed once, here, 4×8 values at a time.
// - Rows of C are taken in blocks of 5 (and of 4 where m mod 5 asks for it,
//   so that no block wastes rows: 4q ≡ m mod 5 rows in q blocks of 4, the
//   rest in blocks of 5). For each block, A is packed into a panel where every
//   element op(A)[i, p] is stored splatted across a v128 (5 × KC × 16 bytes =
//   20 KiB, which stays in L1 while every strip of B passes by it).
// - The inner loop, per step p, loads the block's 5 (or 4) splats and 2
//   vectors of the strip's row p and updates a 5×8 (or 4×8) register tile:
//   10 f32x4 accumulators, 2 B vectors, one A splat and one product fit the
//   15 vector registers V8 allocates; a 6×8 tile does not and spills.
// Edges never touch memory past the matrices: a tile with fewer than 8
// valid columns or missing rows (only when m is too small to split as above)
// runs through a scratch tile, of which only the valid part is copied to C.
// The packed values are exact copies, so C[i, j] is the same sum, in the
// same order (p ascending), whichever blocking runs.
//
// All pointers are byte offsets into the imported memory. Every exported
// parameter is explicit: optional parameters trap when called from JS.

/** Depth of one K block. */
const KC: i32 = 256
/** Bytes of one packed A panel: up to 5 rows × KC steps × one v128 each. */
const PANEL_BYTES: usize = <usize>(5 * KC * 16)
/** Bytes of the scratch tile of C for edge tiles: 5 rows × 8 columns. */
const TILE_BYTES: usize = 5 * 8 * 4
/** Bytes between rows of the scratch tile. */
const TILE_STRIDE: usize = 8 * 4

/** Bytes of scratch `matmul` needs for these sizes: the A panel, the edge tile and the packed strips of B. */
export function matmulScratchBytes(n: i32, k: i32): usize {
  return PANEL_BYTES + TILE_BYTES + <usize>((n + 7) & ~7) * <usize>min(k, KC) * 4
}

/**
 * C (m×n) = op(A) · op(B), or C += op(A) · op(B) when `accumulate` is 1.
 * op(A) is m×k (A stored k×m when `transA`), op(B) is k×n (B stored n×k when
 * `transB`). `scratch` holds matmulScratchBytes(n, k) bytes.
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
  if (m <= FEW_ROWS && !transA) {
    if (transB) fewRowsTransB(m, n, k, a, b, c, accumulate)
    else fewRows(m, n, k, a, b, c, accumulate)
    return
  }
  const panel = scratch
  const tile = panel + PANEL_BYTES
  const strips = tile + TILE_BYTES
  const ldc = <usize>n * 4
  // q blocks of 4 rows with 4q ≡ m (mod 5) leave a multiple of 5; when m is
  // too small for that, blocks of 4 throughout, the last one partial.
  const q = (4 * (m % 5)) % 5
  const fourRows = 4 * q <= m ? 4 * q : m
  for (let kb = 0; kb < k; kb += KC) {
    const kc = min(KC, k - kb)
    // The first K block overwrites C unless accumulating; later blocks add.
    const loadC = accumulate || kb > 0
    packB(b, transB, n, k, kb, kc, strips)
    const stripBytes = <usize>kc * 32
    let i = 0
    while (i < m) {
      const height = i < fourRows ? 4 : 5
      const mr = min(height, m - i)
      packA(a, transA, m, k, i, height, mr, kb, kc, panel)
      const cRow = c + <usize>i * ldc
      for (let j = 0; j < n; j += 8) {
        const strip = strips + <usize>(j >> 3) * stripBytes
        const nr = min(8, n - j)
        const cTile = cRow + <usize>j * 4
        if (mr == height && nr == 8) {
          runTile(height, panel, strip, cTile, ldc, kc, loadC)
          continue
        }
        const rowBytes = <usize>nr * 4
        if (loadC) for (let r = 0; r < mr; r++) memory.copy(tile + <usize>r * TILE_STRIDE, cTile + <usize>r * ldc, rowBytes)
        runTile(height, panel, strip, tile, TILE_STRIDE, kc, loadC)
        for (let r = 0; r < mr; r++) memory.copy(cTile + <usize>r * ldc, tile + <usize>r * TILE_STRIDE, rowBytes)
      }
      i += height
    }
  }
}

/** Rows of A at most for which packing is not worth it (one stream generating); `wasm-program.ts` knows it as FEW_ROWS too. */
const FEW_ROWS: i32 = 2

/**
 * C = A · Bᵀ (B stored n×k, a weight matrix) for a few rows of A, without
 * packing: four columns of C at a time, the four rows of B they read
 * transposed 4×4 in registers. Each C[i, j] is the same sum, in the same
 * order (p ascending, a product then an add, from 0 or from C), as the tiles
 * compute, so the results do not depend on how many rows run together.
 */
function fewRowsTransB(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const rowBytes = <usize>k * 4
  for (let i = 0; i < m; i++) {
    const rowA = a + <usize>i * rowBytes
    const rowC = c + <usize>i * <usize>n * 4
    let j = 0
    for (; j + 4 <= n; j += 4) {
      const b0 = b + <usize>j * rowBytes
      const b1 = b0 + rowBytes
      const b2 = b1 + rowBytes
      const b3 = b2 + rowBytes
      let acc = accumulate ? v128.load(rowC + <usize>j * 4) : f32x4.splat(0)
      let p = 0
      for (; p + 4 <= k; p += 4) {
        const at = <usize>p * 4
        const x0 = v128.load(b0 + at)
        const x1 = v128.load(b1 + at)
        const x2 = v128.load(b2 + at)
        const x3 = v128.load(b3 + at)
        const lo01 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5)
        const lo23 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5)
        const hi01 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7)
        const hi23 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7)
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(rowA + at), v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5)))
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(rowA + at + 4), v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7)))
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(rowA + at + 8), v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5)))
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(rowA + at + 12), v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7)))
      }
      for (; p < k; p++) {
        const at = <usize>p * 4
        let w = f32x4.splat(load<f32>(b0 + at))
        w = f32x4.replace_lane(w, 1, load<f32>(b1 + at))
        w = f32x4.replace_lane(w, 2, load<f32>(b2 + at))
        w = f32x4.replace_lane(w, 3, load<f32>(b3 + at))
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(rowA + at), w))
      }
      v128.store(rowC + <usize>j * 4, acc)
    }
    for (; j < n; j++) {
      const rowB = b + <usize>j * rowBytes
      let sum: f32 = accumulate ? load<f32>(rowC + <usize>j * 4) : 0
      for (let p = 0; p < k; p++) sum = sum + load<f32>(rowA + <usize>p * 4) * load<f32>(rowB + <usize>p * 4)
      store<f32>(rowC + <usize>j * 4, sum)
    }
  }
}

/**
 * C = A · B (B stored k×n) for a few rows of A, without packing: sixteen
 * columns of C at a time in four accumulators, each row of B read once. The
 * same sums, in the same order, as the tiles.
 */
function fewRows(m: i32, n: i32, k: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const ldb = <usize>n * 4
  for (let i = 0; i < m; i++) {
    const rowA = a + <usize>i * <usize>k * 4
    const rowC = c + <usize>i * ldb
    let j = 0
    for (; j + 16 <= n; j += 16) {
      const cj = rowC + <usize>j * 4
      let c0 = accumulate ? v128.load(cj) : f32x4.splat(0)
      let c1 = accumulate ? v128.load(cj, 16) : f32x4.splat(0)
      let c2 = accumulate ? v128.load(cj, 32) : f32x4.splat(0)
      let c3 = accumulate ? v128.load(cj, 48) : f32x4.splat(0)
      let pb = b + <usize>j * 4
      for (let p = 0; p < k; p++) {
        const x = v128.load32_splat(rowA + <usize>p * 4)
        c0 = f32x4.add(c0, f32x4.mul(x, v128.load(pb)))
        c1 = f32x4.add(c1, f32x4.mul(x, v128.load(pb, 16)))
        c2 = f32x4.add(c2, f32x4.mul(x, v128.load(pb, 32)))
        c3 = f32x4.add(c3, f32x4.mul(x, v128.load(pb, 48)))
        pb += ldb
      }
      v128.store(cj, c0); v128.store(cj, c1, 16); v128.store(cj, c2, 32); v128.store(cj, c3, 48)
    }
    for (; j + 4 <= n; j += 4) {
      const cj = rowC + <usize>j * 4
      let acc = accumulate ? v128.load(cj) : f32x4.splat(0)
      for (let p = 0; p < k; p++) acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(rowA + <usize>p * 4), v128.load(b + <usize>p * ldb + <usize>j * 4)))
      v128.store(cj, acc)
    }
    for (; j < n; j++) {
      let sum: f32 = accumulate ? load<f32>(rowC + <usize>j * 4) : 0
      for (let p = 0; p < k; p++) sum = sum + load<f32>(rowA + <usize>p * 4) * load<f32>(b + <usize>p * ldb + <usize>j * 4)
      store<f32>(rowC + <usize>j * 4, sum)
    }
  }
}

// @ts-ignore: decorator
@inline
function runTile(height: i32, panel: usize, strip: usize, c: usize, ldc: usize, kc: i32, loadC: bool): void {
  if (height == 5) tile5x8(panel, strip, c, ldc, kc, loadC)
  else tile4x8(panel, strip, c, ldc, kc, loadC)
}

/**
 * strips[s][p, q] = op(B)[kb + p, 8s + q] for p < kc, q < 8, zero past
 * column n; strip s holds kc rows of 8 values (32 bytes) end to end.
 */
function packB(b: usize, transB: bool, n: i32, k: i32, kb: i32, kc: i32, strips: usize): void {
  const stripBytes = <usize>kc * 32
  for (let j = 0; j < n; j += 8) {
    const w = min(8, n - j)
    const dst = strips + <usize>(j >> 3) * stripBytes
    if (w < 8) memory.fill(dst, 0, stripBytes)
    if (!transB) {
      // op(B) = B, k×n: row p of the strip is 8 contiguous values of B's row kb + p.
      const ldb = <usize>n * 4
      let src = b + <usize>kb * ldb + <usize>j * 4
      if (w == 8) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst + <usize>p * 32, v128.load(src))
          v128.store(dst + <usize>p * 32, v128.load(src, 16), 16)
          src += ldb
        }
      } else {
        for (let p = 0; p < kc; p++) memory.copy(dst + <usize>p * 32, src + <usize>p * ldb, <usize>w * 4)
      }
      continue
    }
    // op(B) = Bᵀ with B n×k: the strip's column q is B's row j + q.
    const ldb = <usize>k * 4
    const src = b + <usize>j * ldb + <usize>kb * 4
    let p = 0
    if (w == 8) {
      for (; p + 4 <= kc; p += 4) transpose8x4(src + <usize>p * 4, ldb, dst + <usize>p * 32)
    }
    for (; p < kc; p++) {
      for (let q = 0; q < w; q++) store<f32>(dst + <usize>p * 32 + <usize>q * 4, load<f32>(src + <usize>q * ldb + <usize>p * 4))
    }
  }
}

/**
 * The 8×4 block at `src` (rows ldb bytes apart) transposed into 4 rows of 8
 * contiguous values at `dst`: two 4×4 transposes in registers.
 */
// @ts-ignore: decorator
@inline
function transpose8x4(src: usize, ldb: usize, dst: usize): void {
  transpose4x4(src, ldb, dst)
  transpose4x4(src + 4 * ldb, ldb, dst + 16)
}

/** The 4×4 block at `src` (rows ldb bytes apart) transposed into rows 32 bytes apart at `dst`. */
// @ts-ignore: decorator
@inline
function transpose4x4(src: usize, ldb: usize, dst: usize): void {
  const x0 = v128.load(src), x1 = v128.load(src + ldb)
  const x2 = v128.load(src + 2 * ldb), x3 = v128.load(src + 3 * ldb)
  const lo01 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5)
  const lo23 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5)
  const hi01 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7)
  const hi23 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7)
  v128.store(dst, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5))
  v128.store(dst, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), 32)
  v128.store(dst, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), 64)
  v128.store(dst, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), 96)
}

/**
 * panel[p, r] = splat(op(A)[i + r, kb + p]) for p < kc, r < height, with
 * zeros for rows r ≥ mr (past the bottom of A).
 */
function packA(
  a: usize, transA: bool, m: i32, k: i32, i: i32, height: i32, mr: i32, kb: i32, kc: i32, panel: usize,
): void {
  // Distance in bytes between op(A)[r, p] and op(A)[r + 1, p], and between
  // op(A)[r, p] and op(A)[r, p + 1].
  const rowStride: usize = transA ? 4 : <usize>k * 4
  const stepStride: usize = transA ? <usize>m * 4 : 4
  const first = transA ? a + (<usize>kb * <usize>m + <usize>i) * 4 : a + (<usize>i * <usize>k + <usize>kb) * 4
  const stepBytes = <usize>height * 16
  if (mr == height) {
    let src = first
    let dst = panel
    for (let p = 0; p < kc; p++) {
      v128.store(dst, v128.load32_splat(src))
      v128.store(dst, v128.load32_splat(src + rowStride), 16)
      v128.store(dst, v128.load32_splat(src + 2 * rowStride), 32)
      v128.store(dst, v128.load32_splat(src + 3 * rowStride), 48)
      if (height == 5) v128.store(dst, v128.load32_splat(src + 4 * rowStride), 64)
      src += stepStride
      dst += stepBytes
    }
    return
  }
  for (let p = 0; p < kc; p++) {
    const src = first + <usize>p * stepStride
    const dst = panel + <usize>p * stepBytes
    for (let r = 0; r < height; r++) {
      v128.store(dst + <usize>r * 16, r < mr ? v128.load32_splat(src + <usize>r * rowStride) : f32x4.splat(0))
    }
  }
}

/**
 * A full 5×8 tile of C at `c` (rows ldc bytes apart), loaded first when
 * `loadC`, from a 5-row panel and a strip of B, over kc steps. Not inlined:
 * inside the blocking loops V8 runs out of vector registers and spills.
 */
export function tile5x8(panel: usize, strip: usize, c: usize, ldc: usize, kc: i32, loadC: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0)
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0)
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0)
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0)
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0)
  if (loadC) {
    c00 = v128.load(c); c01 = v128.load(c, 16)
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16)
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16)
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16)
    c40 = v128.load(c + 4 * ldc); c41 = v128.load(c + 4 * ldc, 16)
  }
  let pa = panel
  let pb = strip
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
    const a4 = v128.load(pa, 64)
    c40 = f32x4.add(c40, f32x4.mul(a4, b0))
    c41 = f32x4.add(c41, f32x4.mul(a4, b1))
    pa += 80
    pb += 32
  }
  v128.store(c, c00); v128.store(c, c01, 16)
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16)
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16)
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16)
  v128.store(c + 4 * ldc, c40); v128.store(c + 4 * ldc, c41, 16)
}

/** The 4×8 tile, as `tile5x8` with a 4-row panel. */
function tile4x8(panel: usize, strip: usize, c: usize, ldc: usize, kc: i32, loadC: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0)
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0)
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0)
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0)
  if (loadC) {
    c00 = v128.load(c); c01 = v128.load(c, 16)
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16)
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16)
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16)
  }
  let pa = panel
  let pb = strip
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
    pb += 32
  }
  v128.store(c, c00); v128.store(c, c01, 16)
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16)
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16)
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16)
}
