/**
 * Single-precision matrix product for the tfjs WASM backend, in AssemblyScript:
 *
 *   C[m×n] = A[m×k] · B[k×n]   (+ C when `accumulate`)
 *
 * A's element (i, p) is at a + 4·(i·aRow + p·aCol), B's (p, j) at b + 4·(p·bRow + j·bCol), so
 * transposed operands are just other strides; C is row-major with `ldc` floats per row. With
 * `aDepthOffsets` (a table of k i32, or 0 for none) A is gathered instead: A(i, p) = a[offsets[p] + i],
 * zero where the offset is negative.
 *
 * The module imports the memory of tfjs's backend module (env.memory) and works on its tensors in
 * place. It allocates nothing: `scratch` (SCRATCH_BYTES, from the backend's malloc) holds the packed
 * blocks. It has no data segments, so instantiating it writes nothing into that memory.
 *
 * Blocking (GotoBLAS order): for each NC-column block of B and KC-deep slice of k, B's slice is packed
 * into 8-column panels (p-major: 8 floats per p); for each MC-row block of A, A's slice is packed into
 * 4-row panels (4 floats per p); then every 4×8 tile of C is one register-blocked loop over p with
 * eight accumulators (V8 has 15 usable vector registers: 6×8 spilled). Packing pads partial panels
 * with zeros, so the loop always computes full tiles and only the store is cut to size.
 *
 * Order of operations: every C element is one running sum over p = 0 … k−1 in increasing order (the
 * accumulators of a later k slice start from the stored C), so results do not depend on the block
 * sizes' split of m or n. The relaxed-SIMD build multiplies and adds with f32x4.relaxed_madd (fused
 * where the CPU has FMA), the plain build with separate mul and add.
 *
 * For serving, `conv` runs a stride-1 NHWC convolution as GEMMs: for each MC block of output pixels it
 * copies their patches (im2col) into scratch, and multiplies them with a filter packed once by
 * `prepackB` (the layout packB makes, for all of B), adding a bias and applying ReLU as each tile is
 * stored; output rows can be scattered in groups (one output image row per group), so the generator's
 * phase convolutions write their pixels straight into the interleaved upsampled image. `winograd` does
 * the same for 2×2 filters with 9 multiply-adds per 2×2 output pixels instead of 16 (F(2×2, 2×2)).
 *
 * Same bits everywhere (the worker's images are pinned): the plain-SIMD build's f32x4.mul and f32x4.add
 * are IEEE-754 single-precision operations with one correctly rounded result each, on every CPU and
 * engine; nothing here depends on the thread count, the memory's address or the CPU's features; the
 * summation order is fixed by the source (above), and so are Winograd's transforms (adds and subtracts
 * in the order written; the filter's, in JavaScript, rounds each step to single precision); the bias
 * is added once after the sum and ReLU is f32x4.max with +0. Whether a tile loads A as one vector or
 * four (`splitA`) moves data, not arithmetic. The relaxed build's f32x4.relaxed_madd may fuse or not
 * depending on the CPU, so serving uses the plain one.
 */

// The training step's element-wise and per-channel kernels, in the same module (one instance, one loader).
export { batchNorm, binary, channelSums, greater, select, unary } from './elementwise';

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 512;

/** Bytes of scratch `gemm` needs: the packed A block, the packed B block, one edge tile. */
export const SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR) * 4;

/** 1 in the relaxed-SIMD build. */
export const RELAXED: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 0;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Packs rows i0 … i0+mc−1, depths p0 … p0+kc−1 of A into 4-row panels at `dst`. */
function packA(dst: usize, a: usize, aRow: i32, aCol: i32, i0: i32, mc: i32, p0: i32, kc: i32): void {
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
        const s = origin + <usize>p * 4;
        const r0 = v128.load(s);
        const r1 = v128.load(s + rs);
        const r2 = v128.load(s + 2 * rs);
        const r3 = v128.load(s + 3 * rs);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const d = panel + <usize>p * 16;
        v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
        v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
        v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
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
function packAGathered(dst: usize, a: usize, depthOffsets: usize, i0: i32, mc: i32, p0: i32, kc: i32): void {
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
function packB(dst: usize, b: usize, bRow: i32, bCol: i32, p0: i32, kc: i32, j0: i32, nc: i32): void {
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
          const s = origin + <usize>p * 4 + <usize>(half * 4) * cs;
          const r0 = v128.load(s);
          const r1 = v128.load(s + cs);
          const r2 = v128.load(s + 2 * cs);
          const r3 = v128.load(s + 3 * cs);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const h = d + <usize>half * 16;
          v128.store(h, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(h, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
          v128.store(h, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
          v128.store(h, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
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
@inline function storeTile(
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
function tile(ap: usize, bp: usize, kc: i32, c: usize, ldcBytes: usize, load: bool, bias: usize, relu: bool): void {
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
function tileSplitA(ap: usize, bp: usize, kc: i32, c: usize, ldcBytes: usize, load: bool, bias: usize, relu: bool): void {
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
@inline function rowAt(c: usize, i: i32, ldcBytes: usize, groupRows: i32, groupBytes: usize): usize {
  const g = i / groupRows;
  return c + <usize>g * groupBytes + <usize>(i - g * groupRows) * ldcBytes;
}

/**
 * The tiles of one block: C rows i0 … i0+mc−1, columns j0 … j0+nc−1 (+)= packed A block · packed B
 * block over kc depths. A tile that is partial, or whose rows cross a group, runs on a full one in
 * `edge` scratch and only its valid part is copied (row by row).
 */
function blockTiles(
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
@inline function roundUp(x: i32, to: i32): i32 {
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

/** Bytes of scratch `conv` needs besides SCRATCH_BYTES: one MC block of patches, and the padded bias. */
export function convScratchBytes(k: i32, n: i32): i32 {
  return (MC * k + roundUp(n, NR)) * 4;
}

/**
 * Copies the patches of output pixels i0 … i0+mc−1 (row-major [mc, kh·kw·cin], taps (u, v) then
 * channels: the order of a [kh, kw, cin, ·] filter) into `dst`, zeros outside the image.
 */
function im2col(
  dst: usize, x: usize, h: i32, w: i32, cin: i32, kh: i32, kw: i32,
  padTop: i32, padLeft: i32, outH: i32, outW: i32, i0: i32, mc: i32,
): void {
  const pixelBytes = <usize>cin * 4;
  const rowBytes = <usize>(kw * cin) * 4;
  let d = dst;
  for (let i = i0; i < i0 + mc; i++) {
    const ow = i % outW;
    const rest = i / outW;
    const oh = rest % outH;
    const image = rest / outH;
    // Columns ow − padLeft … ow − padLeft + kw − 1: those inside the image are one contiguous run.
    const left = ow - padLeft;
    const first = max(0, -left);
    const last = min(kw, w - left);
    for (let u = 0; u < kh; u++) {
      const ih = oh - padTop + u;
      if (ih < 0 || ih >= h || first >= last) {
        memory.fill(d, 0, rowBytes);
      } else {
        if (first > 0) memory.fill(d, 0, <usize>first * pixelBytes);
        const src = x + (<usize>(image * h + ih) * <usize>w + <usize>(left + first)) * pixelBytes;
        memory.copy(d + <usize>first * pixelBytes, src, <usize>(last - first) * pixelBytes);
        if (last < kw) memory.fill(d + <usize>last * pixelBytes, 0, <usize>(kw - last) * pixelBytes);
      }
      d += rowBytes;
    }
  }
}

/**
 * A stride-1 NHWC convolution: out(b, oh, ow, j) = relu?(bias[j] + Σ x(b, oh − padTop + u,
 * ow − padLeft + v, ci) · F(u, v, ci, j)), F [kh, kw, cin, n] prepacked at `packed` (prepackB with
 * k = kh·kw·cin), bias n floats at `bias` (0: none). Output pixel rows (b, oh) are groups of outW
 * rows `ldc` floats apart, the groups `groupStride` floats apart, from `c`.
 * Scratch: SCRATCH_BYTES at `scratch`, convScratchBytes(k, n) at `patches`.
 */
export function conv(
  x: usize, batch: i32, h: i32, w: i32, cin: i32,
  kh: i32, kw: i32, padTop: i32, padLeft: i32, outH: i32, outW: i32,
  packed: usize, n: i32, bias: usize, relu: i32,
  c: usize, ldc: i32, groupStride: i32,
  scratch: usize, patches: usize, splitA: i32,
): void {
  const k = kh * kw * cin;
  const m = batch * outH * outW;
  const packedA = scratch;
  const edge = scratch + <usize>(MC * KC + KC * NC) * 4;
  const paddedBias = patches + <usize>(MC * k) * 4;
  if (bias) {
    memory.copy(paddedBias, bias, <usize>n * 4);
    memory.fill(paddedBias + <usize>n * 4, 0, <usize>(roundUp(n, NR) - n) * 4);
  }
  const ldcBytes = <usize>ldc * 4;
  const groupBytes = <usize>groupStride * 4;
  for (let i0 = 0; i0 < m; i0 += MC) {
    const mc = min(MC, m - i0);
    im2col(patches, x, h, w, cin, kh, kw, padTop, padLeft, outH, outW, i0, mc);
    for (let j0 = 0; j0 < n; j0 += NC) {
      const nc = min(NC, n - j0);
      for (let p0 = 0; p0 < k; p0 += KC) {
        const kc = min(KC, k - p0);
        const last = p0 + kc == k;
        packA(packedA, patches, k, 1, 0, mc, p0, kc);
        const packedB = packed + <usize>(j0 * k + roundUp(nc, NR) * p0) * 4;
        blockTiles(packedA, packedB, mc, nc, kc, c, i0, j0, ldcBytes, outW, groupBytes, p0 > 0, last && bias ? paddedBias : 0, last && relu != 0, edge, splitA != 0);
      }
    }
  }
}

/** Tiles of 2×2 output pixels per block of the Winograd convolution (its scratch holds one block). */
const WT: i32 = 32;

/** Bytes of scratch `winograd` needs besides SCRATCH_BYTES: a block's transformed inputs and products. */
export function winogradScratchBytes(cin: i32, cout: i32): i32 {
  return 9 * WT * (cin + cout) * 4 + 16; // + `winograd`'s one-phase table
}

/**
 * C[m×n] = A·B, B packed by prepackB (no bias, no ReLU), rows of C `ldc` floats apart: the products
 * of `winograd`.
 */
function gemmPrepacked(m: i32, n: i32, k: i32, a: usize, aRow: i32, packed: usize, c: usize, ldc: i32, scratch: usize, splitA: bool): void {
  const packedA = scratch;
  const edge = scratch + <usize>(MC * KC + KC * NC) * 4;
  const ldcBytes = <usize>ldc * 4;
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = min(NC, n - j0);
    for (let p0 = 0; p0 < k; p0 += KC) {
      const kc = min(KC, k - p0);
      const packedB = packed + <usize>(j0 * k + roundUp(nc, NR) * p0) * 4;
      for (let i0 = 0; i0 < m; i0 += MC) {
        const mc = min(MC, m - i0);
        packA(packedA, a, aRow, 1, i0, mc, p0, kc);
        blockTiles(packedA, packedB, mc, nc, kc, c, i0, j0, ldcBytes, i32.MAX_VALUE, 0, p0 > 0, 0, false, edge, splitA);
      }
    }
  }
}

/**
 * The convolution `conv` computes, for a 2×2 filter on an even-sized output (outH = h, outW = w),
 * cin and n multiples of 4, by Winograd's F(2×2, 2×2): each 2×2 block of output pixels is
 * Aᵀ [Σ_ci (Bᵀ d B) ⊙ U] A with d the 3×3 input window, Bᵀ = [1 −1 0; 0 1 0; 0 −1 1],
 * Aᵀ = [1 1 0; 0 1 1] and U = G F Gᵀ, G = [1 0; 1 1; 0 1]: 9 products per block where the direct
 * form has 16 (the sums over ci are 9 GEMMs against U's 9 planes, each [cin, n] prepacked at
 * `packedU` + ξ·packedBFloats(cin, n) floats). Transforms are adds and subtracts in a fixed order.
 * Scratch: SCRATCH_BYTES at `scratch`, winogradScratchBytes(cin, n) at `work`.
 */
export function winograd(
  x: usize, batch: i32, h: i32, w: i32, cin: i32, padTop: i32, padLeft: i32,
  packedU: usize, n: i32, bias: usize, relu: i32,
  c: usize, ldc: i32, groupStride: i32,
  scratch: usize, work: usize, splitA: i32,
): void {
  const table = work + <usize>(9 * WT * (cin + n)) * 4;
  store<i32>(table, 0);
  store<i32>(table, padTop, 4);
  store<i32>(table, padLeft, 8);
  winogradPhases(x, batch, h, w, cin, cin, w * cin, h * w * cin, 1, table, packedU, n, bias, relu, c, ldc, groupStride, scratch, work, splitA);
}

/**
 * Winograd's input transform V = Bᵀ d B (Bᵀ = [1 −1 0; 0 1 0; 0 −1 1]) of tiles t0 … t0+tb−1 of
 * `winogradPhases`'s phase inputs, 4 channels at a time, into 9 planes [tb, depth] at `v`.
 */
// @ts-ignore: decorator
@inline function transformInputs(
  v: usize, vPlane: usize, depth: i32,
  x: usize, h: i32, w: i32, cin: i32, pixelBytes: usize, rowBytes: usize, imageStride: i32,
  phases: i32, phaseTable: usize, t0: i32, tb: i32, tilesW: i32, tilesH: i32,
): void {
  const zero = f32x4.splat(0);
  for (let t = 0; t < tb; t++) {
    const tile = t0 + t;
    const tl = tile % tilesW;
    const rest = tile / tilesW;
    const tm = rest % tilesH;
    const image = rest / tilesH;
    for (let phase = 0; phase < phases; phase++) {
      const entry = phaseTable + <usize>phase * 12;
      const r0 = 2 * tm - load<i32>(entry, 4);
      const c0 = 2 * tl - load<i32>(entry, 8);
      const inside0 = r0 >= 0 && r0 < h, inside1 = r0 + 1 >= 0 && r0 + 1 < h, inside2 = r0 + 2 >= 0 && r0 + 2 < h;
      const col0 = c0 >= 0 && c0 < w, col1 = c0 + 1 >= 0 && c0 + 1 < w, col2 = c0 + 2 >= 0 && c0 + 2 < w;
      // r0 and c0 may be −1: the address wraps below the image, and those loads are masked off.
      const row = x + (<usize>load<i32>(entry) + <usize>image * <usize>imageStride) * 4 + <usize>r0 * rowBytes + <usize>c0 * pixelBytes;
      const dst = v + <usize>(t * depth + phase * cin) * 4;
      for (let ci = 0; ci < cin; ci += 4) {
        const at = row + <usize>ci * 4;
        const d00 = inside0 && col0 ? v128.load(at) : zero;
        const d01 = inside0 && col1 ? v128.load(at + pixelBytes) : zero;
        const d02 = inside0 && col2 ? v128.load(at + 2 * pixelBytes) : zero;
        const d10 = inside1 && col0 ? v128.load(at + rowBytes) : zero;
        const d11 = inside1 && col1 ? v128.load(at + rowBytes + pixelBytes) : zero;
        const d12 = inside1 && col2 ? v128.load(at + rowBytes + 2 * pixelBytes) : zero;
        const d20 = inside2 && col0 ? v128.load(at + 2 * rowBytes) : zero;
        const d21 = inside2 && col1 ? v128.load(at + 2 * rowBytes + pixelBytes) : zero;
        const d22 = inside2 && col2 ? v128.load(at + 2 * rowBytes + 2 * pixelBytes) : zero;
        // Rows: e0 = d0 − d1, e1 = d1, e2 = d2 − d1.
        const e00 = f32x4.sub(d00, d10), e01 = f32x4.sub(d01, d11), e02 = f32x4.sub(d02, d12);
        const e20 = f32x4.sub(d20, d10), e21 = f32x4.sub(d21, d11), e22 = f32x4.sub(d22, d12);
        // Columns, the same.
        const o = dst + <usize>ci * 4;
        v128.store(o, f32x4.sub(e00, e01));
        v128.store(o + vPlane, e01);
        v128.store(o + 2 * vPlane, f32x4.sub(e02, e01));
        v128.store(o + 3 * vPlane, f32x4.sub(d10, d11));
        v128.store(o + 4 * vPlane, d11);
        v128.store(o + 5 * vPlane, f32x4.sub(d12, d11));
        v128.store(o + 6 * vPlane, f32x4.sub(e20, e21));
        v128.store(o + 7 * vPlane, e21);
        v128.store(o + 8 * vPlane, f32x4.sub(e22, e21));
      }
    }
  }
}

/**
 * `winograd` summed over `phases` inputs (a stride-2 convolution as its four input phases): phase p
 * is an h×w image of cin channels whose pixel (b, i, j) is at x + 4·(offset_p + b·imageStride +
 * i·rowStride + j·pixelStride) floats, convolved with its own 2×2 filter at its own padding
 * (`phaseTable`: offset_p, padTop_p, padLeft_p as i32 per phase). The phases' transformed inputs sit
 * side by side (phases·cin channels) and U's planes are [phases·cin, n], so each of the 9 products
 * sums over all phases at once. One phase with contiguous strides is `winograd`.
 * Scratch: SCRATCH_BYTES at `scratch`, winogradScratchBytes(phases·cin, n) at `work`.
 */
export function winogradPhases(
  x: usize, batch: i32, h: i32, w: i32, cin: i32,
  pixelStride: i32, rowStride: i32, imageStride: i32,
  phases: i32, phaseTable: usize,
  packedU: usize, n: i32, bias: usize, relu: i32,
  c: usize, ldc: i32, groupStride: i32,
  scratch: usize, work: usize, splitA: i32,
): void {
  const tilesH = h >> 1;
  const tilesW = w >> 1;
  const tiles = batch * tilesH * tilesW;
  const depth = phases * cin; // the products' k: every phase's channels
  const planeU = <usize>packedBFloats(depth, n) * 4;
  const v = work; // 9 planes [WT, depth]
  const prod = work + <usize>(9 * WT * depth) * 4; // 9 planes [WT, n]
  const vPlane = <usize>(WT * depth) * 4;
  const mPlane = <usize>(WT * n) * 4;
  const pixelBytes = <usize>pixelStride * 4;
  const rowBytes = <usize>rowStride * 4;
  const zero = f32x4.splat(0);
  for (let t0 = 0; t0 < tiles; t0 += WT) {
    const tb = min(WT, tiles - t0);
    transformInputs(v, vPlane, depth, x, h, w, cin, pixelBytes, rowBytes, imageStride, phases, phaseTable, t0, tb, tilesW, tilesH);
    // The 9 products M_ξ = V_ξ · U_ξ.
    for (let xi = 0; xi < 9; xi++) {
      gemmPrepacked(tb, n, depth, v + <usize>xi * vPlane, depth, packedU + <usize>xi * planeU, prod + <usize>xi * mPlane, n, scratch, splitA != 0);
    }
    // Output transform: Y = Aᵀ M A, plus bias, ReLU, into the output pixels.
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tl = tile % tilesW;
      const rest = tile / tilesW;
      const tm = rest % tilesH;
      const image = rest / tilesH;
      const out0 = c + (<usize>(image * h + 2 * tm) * <usize>groupStride + <usize>(2 * tl) * <usize>ldc) * 4;
      const out1 = out0 + <usize>groupStride * 4;
      const next = <usize>ldc * 4;
      const src = prod + <usize>(t * n) * 4;
      for (let co = 0; co < n; co += 4) {
        const s = src + <usize>co * 4;
        const m0 = v128.load(s), m1 = v128.load(s + mPlane), m2 = v128.load(s + 2 * mPlane);
        const m3 = v128.load(s + 3 * mPlane), m4 = v128.load(s + 4 * mPlane), m5 = v128.load(s + 5 * mPlane);
        const m6 = v128.load(s + 6 * mPlane), m7 = v128.load(s + 7 * mPlane), m8 = v128.load(s + 8 * mPlane);
        // Rows: f0 = M0 + M1, f1 = M1 + M2 (as rows of the 3×3 M).
        const f00 = f32x4.add(m0, m3), f01 = f32x4.add(m1, m4), f02 = f32x4.add(m2, m5);
        const f10 = f32x4.add(m3, m6), f11 = f32x4.add(m4, m7), f12 = f32x4.add(m5, m8);
        let y00 = f32x4.add(f00, f01), y01 = f32x4.add(f01, f02);
        let y10 = f32x4.add(f10, f11), y11 = f32x4.add(f11, f12);
        if (bias) {
          const b = v128.load(bias + <usize>co * 4);
          y00 = f32x4.add(y00, b); y01 = f32x4.add(y01, b); y10 = f32x4.add(y10, b); y11 = f32x4.add(y11, b);
        }
        if (relu) {
          y00 = f32x4.max(y00, zero); y01 = f32x4.max(y01, zero); y10 = f32x4.max(y10, zero); y11 = f32x4.max(y11, zero);
        }
        const o = <usize>co * 4;
        v128.store(out0 + o, y00);
        v128.store(out0 + next + o, y01);
        v128.store(out1 + o, y10);
        v128.store(out1 + next + o, y11);
      }
    }
  }
}

/** Tiles per block of the Winograd filter gradient: its products' depth, deep enough to amortise C's loads. */
const WTG: i32 = 128;

/** Bytes of scratch `winogradFilterGradient` needs besides SCRATCH_BYTES. */
export function winogradFilterGradientScratchBytes(depth: i32, nc: i32): i32 {
  return 9 * WTG * (depth + nc) * 4;
}

/**
 * The filter gradient of `winogradPhases` without bias: with Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A per tile, the
 * gradient of the 2×2 filter g is Gᵀ[Σ_tiles (Bᵀ d B) ⊙ (A dY Aᵀ)]G, so the 9 sums over tiles are
 * products M_ξ[depth × nc] = V_ξᵀ · Ŵ_ξ, Ŵ = A dY Aᵀ (A = [1 0; 1 1; 0 1]), written as 9 planes at `m`
 * (rows `ldm` floats apart, plane ξ at m + 4·ξ·depth·ldm). The caller finishes with Gᵀ M G:
 * dg(U, V) = Σ_{a ∈ {U, U+1}, b ∈ {V, V+1}} M_{3a+b}. dY: [batch, h, w, ·] with pixels `ldy` floats
 * apart, columns nc from `dy` (a helper thread's share: dy and m offset by its first column), nc a
 * multiple of 4. Every element of M is one running sum over the tiles in order, whatever the split.
 * Scratch: SCRATCH_BYTES at `scratch`, winogradFilterGradientScratchBytes(depth, nc) at `work`.
 */
export function winogradFilterGradient(
  x: usize, batch: i32, h: i32, w: i32, cin: i32,
  pixelStride: i32, rowStride: i32, imageStride: i32,
  phases: i32, phaseTable: usize,
  dy: usize, ldy: i32, nc: i32,
  m: usize, ldm: i32,
  scratch: usize, work: usize,
): void {
  const tilesH = h >> 1;
  const tilesW = w >> 1;
  const tiles = batch * tilesH * tilesW;
  const depth = phases * cin;
  const v = work; // 9 planes [WTG, depth]
  const wt = work + <usize>(9 * WTG * depth) * 4; // 9 planes [WTG, nc]
  const vPlane = <usize>(WTG * depth) * 4;
  const wPlane = <usize>(WTG * nc) * 4;
  const mPlane = <usize>depth * <usize>ldm * 4;
  const pixelBytes = <usize>pixelStride * 4;
  const rowBytes = <usize>rowStride * 4;
  const dyPixel = <usize>ldy * 4;
  const dyRow = <usize>w * dyPixel;
  for (let t0 = 0; t0 < tiles; t0 += WTG) {
    const tb = min(WTG, tiles - t0);
    transformInputs(v, vPlane, depth, x, h, w, cin, pixelBytes, rowBytes, imageStride, phases, phaseTable, t0, tb, tilesW, tilesH);
    // Ŵ = A dY Aᵀ: rows y0, y0 + y1, y1 of the tile's 2×2 dY; then the same along columns.
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tl = tile % tilesW;
      const rest = tile / tilesW;
      const tm = rest % tilesH;
      const image = rest / tilesH;
      const at = dy + (<usize>(image * h + 2 * tm) * <usize>w + <usize>(2 * tl)) * dyPixel;
      const dst = wt + <usize>(t * nc) * 4;
      for (let co = 0; co < nc; co += 4) {
        const o = <usize>co * 4;
        const y00 = v128.load(at + o), y01 = v128.load(at + dyPixel + o);
        const y10 = v128.load(at + dyRow + o), y11 = v128.load(at + dyRow + dyPixel + o);
        const s0 = f32x4.add(y00, y10), s1 = f32x4.add(y01, y11);
        v128.store(dst + o, y00);
        v128.store(dst + wPlane + o, f32x4.add(y00, y01));
        v128.store(dst + 2 * wPlane + o, y01);
        v128.store(dst + 3 * wPlane + o, s0);
        v128.store(dst + 4 * wPlane + o, f32x4.add(s0, s1));
        v128.store(dst + 5 * wPlane + o, s1);
        v128.store(dst + 6 * wPlane + o, y10);
        v128.store(dst + 7 * wPlane + o, f32x4.add(y10, y11));
        v128.store(dst + 8 * wPlane + o, y11);
      }
    }
    // M_ξ (+)= V_ξᵀ · Ŵ_ξ: V_ξ is [tb, depth], read transposed.
    for (let xi = 0; xi < 9; xi++) {
      gemm(depth, nc, tb, v + <usize>xi * vPlane, 1, depth, wt + <usize>xi * wPlane, nc, 1, m + <usize>xi * mPlane, ldm, t0 > 0 ? 1 : 0, scratch, 0);
    }
  }
}
