/**
 * Conv2DBackpropInput (the transposed convolution, and the input gradient of a convolution) as
 * stride-1 convolutions, which the WASM backend runs on XNNPACK instead of its plain loop.
 *
 * Along one axis, with forward stride s, filter size K and leading pad p, the input gradient
 *   dx[i] = Σ_{o, k : o·s + k − p = i} dy[o] · W[k]
 * splits by output phase r = i mod s (i = s·m + r): only the taps k ≡ r + p (mod s) contribute,
 * k = k0 + s·j, reading dy[m + c − j] with c = (r + p − k0) / s. So each phase is a stride-1
 * correlation of dy with J = ⌈(K − k0)/s⌉ taps of the flipped filter, and the s² phases (both axes)
 * interleave (depth-to-space). For a 4x4, stride-2 "same" layer that is four 2x2 convolutions: no
 * multiply by a structural zero. Stride 1 is one convolution with the flipped, transposed filter.
 *
 * Shapes this form does not cover (NCHW, a phase with no tap, a phase that would need negative
 * padding) go to the backend's original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DerivedCache, type KernelScope, withScope } from './kernel-scope.ts';
import { type AxisPhase, axisPhases } from './phase-taps.ts';

/** The sub-pixel plan for a layer, or undefined if it needs the original kernel. */
export function subPixelPlan(info: tf.backend_util.Conv2DInfo) {
  if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const rows = axisPhases(info.inHeight, info.outHeight, info.filterHeight, info.strideHeight, info.padInfo.top);
  const cols = axisPhases(info.inWidth, info.outWidth, info.filterWidth, info.strideWidth, info.padInfo.left);
  if (!rows || !cols) return undefined;
  return { rows, cols };
}

/**
 * Below this many dx channels, the column phases of a row phase run as one convolution (a window
 * covering all of them, zero taps where a phase has none): XNNPACK is inefficient with very few output
 * channels (the generator's image layer has 1 or 3), and this gives it sw·Ci.
 */
const NARROW_CHANNELS = 16;

/** The window covering every column phase: first dy offset, width, and dy padding. */
function mergedColumns(cols: AxisPhase[]) {
  const first = cols.map((b) => -b.padBefore);
  const lo = Math.min(...first);
  const hi = Math.max(...cols.map((b, i) => first[i] + b.taps.length - 1));
  return { lo, width: hi - lo + 1, first, padBefore: -lo, padAfter: Math.max(...cols.map((b) => b.padAfter)) };
}

/**
 * The filters of the convolutions, row phase major: per (row, column) phase [taps, taps, Co, Ci], or
 * in the narrow form one per row phase [taps, window, Co, sw·Ci]. Derived once per filter tensor
 * (cached while it lives: inference reuses them, and XNNPACK keeps its packed operators) from the
 * filter taps as rows of [KH·KW, Co·Ci], each by a one-hot selection product (see KernelScope.rows).
 */
function phaseFilters(
  s: KernelScope,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  plan: NonNullable<ReturnType<typeof subPixelPlan>>,
  narrow: boolean,
): tf.TensorInfo[] {
  const { inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw, strideWidth: sw } = info;
  const key = JSON.stringify({ plan, narrow });
  return DerivedCache.of(s.backend).get(filter, key, s.backendName, (d) => {
    const taps = d.reshape(d.transpose(filter, [0, 1, 3, 2]), [kh * kw, co * ci]);
    if (!narrow) {
      return plan.rows.flatMap((a) =>
        plan.cols.map((b) =>
          d.reshape(
            d.rows(
              taps,
              a.taps.flatMap((i) => b.taps.map((j) => i * kw + j)),
            ),
            [a.taps.length, b.taps.length, co, ci],
          ),
        ),
      );
    }
    const m = mergedColumns(plan.cols);
    return plan.rows.map((a) => {
      const indices: number[] = [];
      for (const i of a.taps)
        for (let u = 0; u < m.width; u++)
          plan.cols.forEach((b, ib) => {
            const t = m.lo + u - m.first[ib];
            indices.push(t >= 0 && t < b.taps.length ? i * kw + b.taps[t] : -1);
          });
      // [taps·window, sw, Co, Ci] → [taps·window, Co, sw, Ci]: output channel b·Ci + c.
      const selected = d.reshape(d.rows(taps, indices), [a.taps.length * m.width, sw, co, ci]);
      return d.reshape(d.transpose(selected, [0, 2, 1, 3]), [a.taps.length, m.width, co, sw * ci]);
    });
  });
}

function subPixel(
  s: KernelScope,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  plan: NonNullable<ReturnType<typeof subPixelPlan>>,
): tf.TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  // Dense case: dy is one pixel and each filter tap writes one dx pixel (e.g. the generator's first
  // layer, 1x1 → 4x4 "valid"): dx = dy[N, Co] × Wᵀ[Co, KH·KW·Ci].
  if (info.outHeight === 1 && info.outWidth === 1 && kh === h && kw === w && info.padInfo.top === 0 && info.padInfo.left === 0) {
    if (s.transposedMatMulIsFast) {
      const dx = s.matMulTransposed(s.reshape(dy, [1, n, co]), s.reshape(filter, [1, kh * kw * ci, co]), false, true);
      return s.reshape(dx, [n, h, w, ci]);
    }
    const [wt] = DerivedCache.of(s.backend).get(filter, 'dense', s.backendName, (d) => [
      d.reshape(d.transpose(d.reshape(filter, [kh * kw * ci, co]), [1, 0]), [1, co, kh * kw * ci]),
    ]);
    const dx = s.matMul(s.reshape(dy, [1, n, co]), wt);
    return s.reshape(dx, [n, h, w, ci]);
  }
  const narrow = ci < NARROW_CHANNELS && plan.cols.length > 1;
  const filters = phaseFilters(s, filter, info, plan, narrow);
  const merged = mergedColumns(plan.cols);
  const rowPhases: tf.TensorInfo[] = [];
  for (const [ia, a] of plan.rows.entries()) {
    // [N, M, L, sw·Ci]: column phase b of channel c at b·Ci + c.
    const joined = narrow
      ? s.conv2d(dy, filters[ia], [
          [0, 0],
          [a.padBefore, a.padAfter],
          [merged.padBefore, merged.padAfter],
          [0, 0],
        ])
      : s.concat(
          plan.cols.map((b, ib) =>
            s.conv2d(dy, filters[ia * plan.cols.length + ib], [
              [0, 0],
              [a.padBefore, a.padAfter],
              [b.padBefore, b.padAfter],
              [0, 0],
            ]),
          ),
          3,
        );
    const [, m, l] = joined.shape;
    rowPhases.push(s.reshape(joined, [n, m, 1, l, sw * ci]));
  }
  // [N, M, sh, L, sw·Ci] is, in memory, [N, M·sh, L·sw, Ci]: the phases interleaved (depth-to-space
  // by two concatenations; the WASM DepthToSpace kernel is ~10× slower).
  const stacked = s.concat(rowPhases, 2);
  const [, m, , l] = stacked.shape;
  const dx = s.reshape(stacked, [n, m * sh, l * sw, ci]);
  return s.slice(dx, [0, 0, 0, 0], [n, h, w, ci]);
}

export function conv2dBackpropInputKernel(backendName: string, original?: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC'),
    );
    const plan = subPixelPlan(info);
    if (!plan) {
      if (!original) throw new Error(`Conv2DBackpropInput on ${backendName}: unsupported layout`);
      return original(args);
    }
    return withScope(backend as tf.KernelBackend, backendName, (s) => subPixel(s, dy, filter, info, plan));
  };
}
