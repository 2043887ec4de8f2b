/** The stride-1 convolution as im2col + GEMM against a prepacked filter (serving's image layer). */
import { KC, MC, NC, NR, blockTiles, packA, roundUp } from './products';

/** Bytes of scratch `conv` needs besides SCRATCH_BYTES: one MC block of patches, and the padded bias. */
export function convScratchBytes(k: i32, n: i32): i32 {
  return (MC * k + roundUp(n, NR)) * 4;
}

/**
 * Copies the patches of output pixels i0 … i0+mc−1 (row-major [mc, kh·kw·cin], taps (u, v) then
 * channels: the order of a [kh, kw, cin, ·] filter) into `dst`, zeros outside the image.
 */
export function im2col(
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
