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
 */

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

/**
 * One 4×8 tile: c (rows `ldcBytes` apart) = packed A panel · packed B panel over kc depths, starting
 * from c's values when `load`, from zero otherwise.
 */
function tile(ap: usize, bp: usize, kc: i32, c: usize, ldcBytes: usize, load: bool): void {
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
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldcBytes, c10); v128.store(c + ldcBytes, c11, 16);
  v128.store(c + 2 * ldcBytes, c20); v128.store(c + 2 * ldcBytes, c21, 16);
  v128.store(c + 3 * ldcBytes, c30); v128.store(c + 3 * ldcBytes, c31, 16);
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
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bp = packedB + <usize>(jr * kc) * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const ap = packedA + <usize>(ir * kc) * 4;
            const ct = c + <usize>(i0 + ir) * ldcBytes + <usize>(j0 + jr) * 4;
            if (rows == MR && cols == NR) {
              tile(ap, bp, kc, ct, ldcBytes, load);
            } else {
              // A partial tile runs on a full one in scratch; only its valid part is copied.
              if (load) for (let r = 0; r < rows; r++) memory.copy(edge + <usize>(r * NR) * 4, ct + <usize>r * ldcBytes, <usize>cols * 4);
              tile(ap, bp, kc, edge, NR * 4, load);
              for (let r = 0; r < rows; r++) memory.copy(ct + <usize>r * ldcBytes, edge + <usize>(r * NR) * 4, <usize>cols * 4);
            }
          }
        }
      }
    }
  }
}
