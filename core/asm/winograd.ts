/**
 * Winograd's F(2×2, 2×2) convolutions: 2×2 filters on 2×2 output tiles, 9 GEMMs against the
 * filter's transformed planes (serving's wide layers, the trainer's input gradient and its stride-2
 * convolutions by input phases).
 */
import { KC, MC, NC, NR, blockTiles, packA, packedBFloats, roundUp } from './products';

/** Tiles of 2×2 output pixels per block of the Winograd convolution (its scratch holds one block). */
export const WT: i32 = 32;

/** Bytes of scratch `winograd` needs besides SCRATCH_BYTES: a block's transformed inputs and products. */
export function winogradScratchBytes(cin: i32, cout: i32): i32 {
  return 9 * WT * (cin + cout) * 4 + 16; // + `winograd`'s one-phase table
}

/**
 * C[m×n] = A·B, B packed by prepackB (no bias, no ReLU), rows of C `ldc` floats apart: the products
 * of `winograd`.
 */
export function gemmPrepacked(m: i32, n: i32, k: i32, a: usize, aRow: i32, packed: usize, c: usize, ldc: i32, scratch: usize, splitA: bool): void {
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
@inline export function transformInputs(
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
