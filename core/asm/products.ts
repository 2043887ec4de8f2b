/**
 * The GEMM itself (see gemm.ts for the whole design): blocking constants, packing of A and B into
 * panels, the 4×8 register tiles and their stores (bias, ReLU, scattered rows), `gemm` and B's
 * one-time packing for the convolutions.
 */

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 128;
export const NC: i32 = 512;

/** Bytes of scratch `gemm` needs: the packed A block, the packed B block, one edge tile. */
export const SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR) * 4;

/** 1 in the relaxed-SIMD build. */
export const RELAXED: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 0;

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * A 4×4 block of floats transposed by shuffles: the four rows of 4 floats at `src`, `rowBytes` apart,
 * become the columns of four vectors stored at `dst`, `dstBytes` apart.
 */
// @ts-ignore: decorator
@inline function transpose4x4(src: usize, rowBytes: usize, dst: usize, dstBytes: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + rowBytes);
  const r2 = v128.load(src + 2 * rowBytes);
  const r3 = v128.load(src + 3 * rowBytes);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + dstBytes, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * dstBytes, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * dstBytes, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/** Packs rows i0 … i0+mc−1, depths p0 … p0+kc−1 of A into 4-row panels at `dst`. */
export function packA(dst: usize, a: usize, aRow: i32, aCol: i32, i0: i32, mc: i32, p0: i32, kc: i32): void {
  const full = mc & ~(MR - 1);
  if (aRow == 1) {
    // Aᵀ stored: one depth's rows are adjacent; walk it once for all panels (one pass over A).
    const step = <usize>aCol * 4;
    const base = a + (<usize>i0 + <usize>p0 * <usize>aCol) * 4;
    for (let p = 0; p < kc; p++) {
      const s = base + <usize>p * step;
      const d = dst + <usize>p * 16;
      for (let ir = 0; ir < full; ir += MR) v128.store(d + <usize>(ir * kc) * 4, v128.load(s + <usize>ir * 4));
    }
  }
  for (let ir = aRow == 1 ? full : 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    const panel = dst + <usize>(ir * kc) * 4;
    const origin = a + (<usize>(i0 + ir) * <usize>aRow + <usize>p0 * <usize>aCol) * 4;
    if (rows == MR && aCol == 1) {
      // A stored: 4×4 blocks transposed by shuffles.
      const rs = <usize>aRow * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        transpose4x4(origin + <usize>p * 4, rs, panel + <usize>p * 16, 16);
      }
      for (; p < kc; p++) {
        const s = origin + <usize>p * 4;
        const d = panel + <usize>p * 16;
        for (let r = 0; r < MR; r++) store<f32>(d + <usize>r * 4, load<f32>(s + <usize>r * rs));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + <usize>p * 16;
        for (let r = 0; r < MR; r++) {
          const v: f32 = r < rows ? load<f32>(origin + (<usize>r * <usize>aRow + <usize>p * <usize>aCol) * 4) : 0;
          store<f32>(d + <usize>r * 4, v);
        }
      }
    }
  }
}

/**
 * packA for a gathered Aᵀ: A(i, p) = a[depthOffsets[p] + i] (floats), or 0 where the offset is
 * negative (a patch position outside the image): a convolution's patches read straight from the image.
 */
export function packAGathered(dst: usize, a: usize, depthOffsets: usize, i0: i32, mc: i32, p0: i32, kc: i32): void {
  const full = mc & ~(MR - 1);
  for (let p = 0; p < kc; p++) {
    const offset = load<i32>(depthOffsets + <usize>(p0 + p) * 4);
    const d = dst + <usize>p * 16;
    if (offset < 0) {
      for (let ir = 0; ir < mc; ir += MR) v128.store(d + <usize>(ir * kc) * 4, f32x4.splat(0));
      continue;
    }
    const s = a + (<usize>offset + <usize>i0) * 4;
    for (let ir = 0; ir < full; ir += MR) v128.store(d + <usize>(ir * kc) * 4, v128.load(s + <usize>ir * 4));
    if (full < mc) {
      const panel = d + <usize>(full * kc) * 4;
      for (let r = 0; r < MR; r++) store<f32>(panel + <usize>r * 4, full + r < mc ? load<f32>(s + <usize>(full + r) * 4) : 0);
    }
  }
}

/** Packs depths p0 … p0+kc−1, columns j0 … j0+nc−1 of B into 8-column panels at `dst`. */
export function packB(dst: usize, b: usize, bRow: i32, bCol: i32, p0: i32, kc: i32, j0: i32, nc: i32): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const panel = dst + <usize>(jr * kc) * 4;
    const origin = b + (<usize>p0 * <usize>bRow + <usize>(j0 + jr) * <usize>bCol) * 4;
    if (cols == NR && bCol == 1) {
      const step = <usize>bRow * 4;
      for (let p = 0; p < kc; p++) {
        const s = origin + <usize>p * step;
        const d = panel + <usize>p * 32;
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
    } else if (cols == NR && bRow == 1) {
      // Bᵀ stored: two 4×4 blocks transposed by shuffles per 4 depths.
      const cs = <usize>bCol * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const d = panel + <usize>p * 32;
        for (let half = 0; half < 2; half++) {
          transpose4x4(origin + <usize>p * 4 + <usize>(half * 4) * cs, cs, d + <usize>half * 16, 32);
        }
      }
      for (; p < kc; p++) {
        const d = panel + <usize>p * 32;
        for (let t = 0; t < NR; t++) store<f32>(d + <usize>t * 4, load<f32>(origin + (<usize>p + <usize>t * <usize>bCol) * 4));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + <usize>p * 32;
        for (let t = 0; t < NR; t++) {
          const v: f32 = t < cols ? load<f32>(origin + (<usize>p * <usize>bRow + <usize>t * <usize>bCol) * 4) : 0;
          store<f32>(d + <usize>t * 4, v);
        }
      }
    }
  }
}

/** Stores a tile's accumulators to c, plus the 8 floats at `bias` unless it is 0, then max(·, 0) with `relu`. */
// @ts-ignore: decorator
@inline export function storeTile(
  c: usize, ldcBytes: usize,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
  bias: usize, relu: bool,
): void {
  if (bias) {
    const b0 = v128.load(bias);
    const b1 = v128.load(bias, 16);
    c00 = f32x4.add(c00, b0); c01 = f32x4.add(c01, b1);
    c10 = f32x4.add(c10, b0); c11 = f32x4.add(c11, b1);
    c20 = f32x4.add(c20, b0); c21 = f32x4.add(c21, b1);
    c30 = f32x4.add(c30, b0); c31 = f32x4.add(c31, b1);
  }
  if (relu) {
    const zero = f32x4.splat(0);
    c00 = f32x4.max(c00, zero); c01 = f32x4.max(c01, zero);
    c10 = f32x4.max(c10, zero); c11 = f32x4.max(c11, zero);
    c20 = f32x4.max(c20, zero); c21 = f32x4.max(c21, zero);
    c30 = f32x4.max(c30, zero); c31 = f32x4.max(c31, zero);
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldcBytes, c10); v128.store(c + ldcBytes, c11, 16);
  v128.store(c + 2 * ldcBytes, c20); v128.store(c + 2 * ldcBytes, c21, 16);
  v128.store(c + 3 * ldcBytes, c30); v128.store(c + 3 * ldcBytes, c31, 16);
}

/**
 * One 4×8 tile: c (rows `ldcBytes` apart) = packed A panel · packed B panel over kc depths, starting
 * from c's values when `load`, from zero otherwise; then, when `bias` is not 0, plus the 8 floats at
 * `bias`, and with `relu`, max(·, 0).
 */
export function tile(ap: usize, bp: usize, kc: i32, c: usize, ldcBytes: usize, load: bool, bias: usize, relu: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (load) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldcBytes); c11 = v128.load(c + ldcBytes, 16);
    c20 = v128.load(c + 2 * ldcBytes); c21 = v128.load(c + 2 * ldcBytes, 16);
    c30 = v128.load(c + 3 * ldcBytes); c31 = v128.load(c + 3 * ldcBytes, 16);
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    ap += 16;
    bp += 32;
  }
  storeTile(c, ldcBytes, c00, c01, c10, c11, c20, c21, c30, c31, bias, relu);
}

/**
 * `tile` with the A panel's 4 floats of each depth loaded as one vector and split by shuffles: 3
 * loads per depth instead of 6. Same arithmetic in the same order, so the same bits; faster where
 * every memory access is bounds-checked (workerd), slower in Node, where loads are cheap.
 */
export function tileSplitA(ap: usize, bp: usize, kc: i32, c: usize, ldcBytes: usize, load: bool, bias: usize, relu: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (load) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldcBytes); c11 = v128.load(c + ldcBytes, 16);
    c20 = v128.load(c + 2 * ldcBytes); c21 = v128.load(c + 2 * ldcBytes, 16);
    c30 = v128.load(c + 3 * ldcBytes); c31 = v128.load(c + 3 * ldcBytes, 16);
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    const av = v128.load(ap);
    let a = v128.shuffle<f32>(av, av, 0, 0, 0, 0);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.shuffle<f32>(av, av, 1, 1, 1, 1);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.shuffle<f32>(av, av, 2, 2, 2, 2);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.shuffle<f32>(av, av, 3, 3, 3, 3);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    ap += 16;
    bp += 32;
  }
  storeTile(c, ldcBytes, c00, c01, c10, c11, c20, c21, c30, c31, bias, relu);
}

/** Where row i of C starts: rows come in groups of `groupRows`, `ldcBytes` apart, groups `groupBytes` apart. */
// @ts-ignore: decorator
@inline export function rowAt(c: usize, i: i32, ldcBytes: usize, groupRows: i32, groupBytes: usize): usize {
  const g = i / groupRows;
  return c + <usize>g * groupBytes + <usize>(i - g * groupRows) * ldcBytes;
}

/**
 * The tiles of one block: C rows i0 … i0+mc−1, columns j0 … j0+nc−1 (+)= packed A block · packed B
 * block over kc depths. A tile that is partial, or whose rows cross a group, runs on a full one in
 * `edge` scratch and only its valid part is copied (row by row).
 */
export function blockTiles(
  packedA: usize, packedB: usize, mc: i32, nc: i32, kc: i32,
  c: usize, i0: i32, j0: i32, ldcBytes: usize, groupRows: i32, groupBytes: usize,
  load: bool, bias: usize, relu: bool, edge: usize, splitA: bool,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const bp = packedB + <usize>(jr * kc) * 4;
    const tileBias = bias ? bias + <usize>(j0 + jr) * 4 : 0;
    for (let ir = 0; ir < mc; ir += MR) {
      const rows = min(MR, mc - ir);
      const ap = packedA + <usize>(ir * kc) * 4;
      const i = i0 + ir;
      const column = <usize>(j0 + jr) * 4;
      if (rows == MR && cols == NR && (i % groupRows) + MR <= groupRows) {
        const ct = rowAt(c, i, ldcBytes, groupRows, groupBytes) + column;
        if (splitA) tileSplitA(ap, bp, kc, ct, ldcBytes, load, tileBias, relu);
        else tile(ap, bp, kc, ct, ldcBytes, load, tileBias, relu);
      } else {
        if (load) for (let r = 0; r < rows; r++) memory.copy(edge + <usize>(r * NR) * 4, rowAt(c, i + r, ldcBytes, groupRows, groupBytes) + column, <usize>cols * 4);
        if (splitA) tileSplitA(ap, bp, kc, edge, NR * 4, load, tileBias, relu);
        else tile(ap, bp, kc, edge, NR * 4, load, tileBias, relu);
        for (let r = 0; r < rows; r++) memory.copy(rowAt(c, i + r, ldcBytes, groupRows, groupBytes) + column, edge + <usize>(r * NR) * 4, <usize>cols * 4);
      }
    }
  }
}

export function gemm(
  m: i32, n: i32, k: i32,
  a: usize, aRow: i32, aCol: i32,
  b: usize, bRow: i32, bCol: i32,
  c: usize, ldc: i32, accumulate: i32,
  scratch: usize,
  aDepthOffsets: usize,
): void {
  const packedA = scratch;
  const packedB = packedA + <usize>(MC * KC) * 4;
  const edge = packedB + <usize>(KC * NC) * 4;
  const ldcBytes = <usize>ldc * 4;
  if (k == 0) {
    if (!accumulate) for (let i = 0; i < m; i++) memory.fill(c + <usize>i * ldcBytes, 0, <usize>n * 4);
    return;
  }
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = min(NC, n - j0);
    for (let p0 = 0; p0 < k; p0 += KC) {
      const kc = min(KC, k - p0);
      const load = accumulate != 0 || p0 > 0;
      packB(packedB, b, bRow, bCol, p0, kc, j0, nc);
      for (let i0 = 0; i0 < m; i0 += MC) {
        const mc = min(MC, m - i0);
        if (aDepthOffsets) packAGathered(packedA, a, aDepthOffsets, i0, mc, p0, kc);
        else packA(packedA, a, aRow, aCol, i0, mc, p0, kc);
        blockTiles(packedA, packedB, mc, nc, kc, c, i0, j0, ldcBytes, i32.MAX_VALUE, 0, load, 0, false, edge, false);
      }
    }
  }
}

// @ts-ignore: decorator
@inline export function roundUp(x: i32, to: i32): i32 {
  return (x + to - 1) / to * to;
}

/** Floats of B[k×n] packed by `prepackB`: k depths of n columns rounded up to whole 8-column panels. */
export function packedBFloats(k: i32, n: i32): i32 {
  return k * roundUp(n, NR);
}

/**
 * Packs all of B (k×n, strides as in gemm) into `dst` (packedBFloats(k, n) floats): for each
 * NC-column block, each KC-deep slice in packB's layout, blocks one after another, so the slice
 * (j0, p0) starts at float j0·k + roundUp(nc, 8)·p0.
 */
export function prepackB(b: usize, bRow: i32, bCol: i32, k: i32, n: i32, dst: usize): void {
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = min(NC, n - j0);
    for (let p0 = 0; p0 < k; p0 += KC) packB(dst + <usize>(j0 * k + roundUp(nc, NR) * p0) * 4, b, bRow, bCol, p0, min(KC, k - p0), j0, nc);
  }
}
