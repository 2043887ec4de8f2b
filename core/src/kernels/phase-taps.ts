/**
 * Which filter tap meets which pixel when a strided layer is split into phases: the one place this
 * arithmetic lives. The general form (any stride, filter size and padding, along one axis) is
 * `axisPhases`, which the transposed convolution's sub-pixel and Winograd forms are planned from; the
 * GAN's 4-tap, stride-2 layers padded by 1 use `stridedTap` directly: the serving generator's phase
 * filters (core/src/inference.ts), the strided convolution's input phases and its filter gradient
 * (gemm/conv2d-strided.ts, gemm/conv2d-backprop-filter.ts). tests/core/kernels.test.ts checks that
 * the two agree.
 *
 * Along one axis, with forward stride s, filter size K and leading pad p, the input gradient
 *   dx[i] = Σ_{o, k : o·s + k − p = i} dy[o] · W[k]
 * splits by output phase r = i mod s (i = s·m + r): only the taps k ≡ r + p (mod s) contribute,
 * k = k0 + s·j, reading dy[m + c − j] with c = (r + p − k0) / s.
 */

/** One phase along one axis: the filter taps it uses (in dy-offset order) and the padding of dy. */
export interface AxisPhase {
  taps: number[];
  padBefore: number;
  padAfter: number;
}

/**
 * The phases along one axis, or undefined where the sub-pixel form does not apply.
 * `size` is dx's extent, `outSize` dy's; every phase computes ⌈size / s⌉ positions.
 */
export function axisPhases(size: number, outSize: number, k: number, s: number, padBefore: number): AxisPhase[] | undefined {
  const perPhase = Math.ceil(size / s);
  const phases: AxisPhase[] = [];
  for (let r = 0; r < s; r++) {
    const k0 = (((r + padBefore) % s) + s) % s;
    const count = Math.ceil((k - k0) / s);
    if (count <= 0) return undefined;
    const c = (r + padBefore - k0) / s;
    // dy positions read: c − count + 1 … perPhase − 1 + c.
    const before = count - 1 - c;
    const after = perPhase - 1 + c - (outSize - 1);
    if (before < 0 || after < 0) return undefined;
    // Tap j (filter index k0 + s·j) reads dy at offset c − j: in increasing offset order, j descends.
    const taps = Array.from({ length: count }, (_, t) => k0 + s * (count - 1 - t));
    phases.push({ taps, padBefore: before, padAfter: after });
  }
  return phases;
}

/**
 * A 4-tap, stride-2 convolution padded by 1, along one axis: input phase r (pixels 2i + r) meets
 * filter tap 2u + 1 − r at window position u ∈ {0, 1} (input pixel 2(o + u − 1) + r for output o).
 * Its transposed convolution is the same arithmetic read the other way: output phase a (pixels
 * 2m + a) takes input m − 1 + a + u times tap stridedTap(a, 1 − u) = 3 − a − 2u, which is
 * `axisPhases(·, ·, 4, 2, 1)`'s taps of phase a in order.
 */
export function stridedTap(phase: number, u: number): number {
  return 2 * u + 1 - phase;
}
