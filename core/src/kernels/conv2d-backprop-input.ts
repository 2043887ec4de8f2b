/**
 * Conv2DBackpropInput (the transposed convolution, and the input gradient of a convolution) as
 * stride-1 convolutions, which the WASM backend runs on XNNPACK instead of its plain loop.
 *
 * Along one axis, with forward stride s, filter size K and leading pad p, the input gradient
 *   dx[i] = Σ_{o, k : o·s + k − p = i} dy[o] · W[k]
 * splits by output phase r = i mod s (i = s·m + r): only the taps k ≡ r + p (mod s) contribute,
 * k = k0 + s·j, reading dy[m + c − j] with c = (r + p − k0) / s. So each phase is a stride-1
 * correlation of dy with J = ⌈(K − k0)/s⌉ taps of the flipped filter, and the s² phases (both axes)
 * interleave by depth-to-space. For a 4x4, stride-2 "same" layer that is four 2x2 convolutions: no
 * multiply by a structural zero. Stride 1 is one convolution with the flipped, transposed filter.
 *
 * Shapes this form does not cover (NCHW, a phase with no tap, a phase that would need negative
 * padding) go to the backend's original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type KernelScope, withScope } from './kernel-scope.ts';

type Attrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
};

/** One phase along one axis: first tap in the flipped filter, tap count, and padding of dy. */
interface AxisPhase {
  flippedStart: number;
  taps: number;
  padBefore: number;
  padAfter: number;
}

/**
 * The phases along one axis, or undefined where the sub-pixel form does not apply.
 * `size` is dx's extent, `outSize` dy's, `perPhase` = ⌈size / s⌉ rows computed for every phase.
 */
export function axisPhases(size: number, outSize: number, k: number, s: number, padBefore: number): AxisPhase[] | undefined {
  const perPhase = Math.ceil(size / s);
  const phases: AxisPhase[] = [];
  for (let r = 0; r < s; r++) {
    const k0 = (((r + padBefore) % s) + s) % s;
    const taps = Math.ceil((k - k0) / s);
    if (taps <= 0) return undefined;
    const c = (r + padBefore - k0) / s;
    // dy rows read: c − taps + 1 … perPhase − 1 + c.
    const before = taps - 1 - c;
    const after = perPhase - 1 + c - (outSize - 1);
    if (before < 0 || after < 0) return undefined;
    // Tap j reads W[k0 + s·j] at dy offset c − j; in increasing offset order that is the flipped
    // filter (index K−1−k) from K−1−k0−s·(taps−1) with step s.
    phases.push({ flippedStart: k - 1 - k0 - s * (taps - 1), taps, padBefore: before, padAfter: after });
  }
  return phases;
}

/** The sub-pixel plan for a layer, or undefined if it needs the original kernel. */
export function subPixelPlan(info: tf.backend_util.Conv2DInfo) {
  if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const rows = axisPhases(info.inHeight, info.outHeight, info.filterHeight, info.strideHeight, info.padInfo.top);
  const cols = axisPhases(info.inWidth, info.outWidth, info.filterWidth, info.strideWidth, info.padInfo.left);
  if (!rows || !cols) return undefined;
  return { rows, cols };
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
    const wt = s.transpose(s.reshape(filter, [kh * kw * ci, co]), [1, 0]);
    const dx = s.matMul(s.reshape(dy, [1, n, co]), s.reshape(wt, [1, co, kh * kw * ci]));
    return s.reshape(dx, [n, h, w, ci]);
  }
  // [KH, KW, Ci, Co] → flipped in both axes, [KH, KW, Co, Ci] (conv input channels = dy's).
  const flipped = s.reverse(s.transpose(filter, [0, 1, 3, 2]), [0, 1]);
  const phases: tf.TensorInfo[] = [];
  for (const a of plan.rows)
    for (const b of plan.cols) {
      const f = s.stridedSlice(flipped, [a.flippedStart, b.flippedStart, 0, 0], [a.taps, b.taps, co, ci], [sh, sw, 1, 1]);
      phases.push(s.conv2d(dy, f, [[0, 0], [a.padBefore, a.padAfter], [b.padBefore, b.padAfter], [0, 0]]));
    }
  // Channel (a·sw + b)·Ci + c of the concatenation is phase (a, b) of channel c: depth-to-space's order.
  const interleaved = sh === sw ? s.depthToSpace(s.concat(phases, 3), sh) : interleave(s, phases, sh, sw);
  return s.slice(interleaved, [0, 0, 0, 0], [n, h, w, ci]);
}

/** Interleaves phase maps [N, M, L, C] (row phase major) into [N, M·sh, L·sw, C] for unequal strides. */
function interleave(s: KernelScope, phases: tf.TensorInfo[], sh: number, sw: number): tf.TensorInfo {
  const [n, m, l, c] = phases[0].shape;
  const stacked = s.reshape(s.concat(phases, 3), [n, m, l, sh, sw, c]);
  return s.reshape(s.transpose(stacked, [0, 1, 3, 2, 4, 5]), [n, m * sh, l * sw, c]);
}

export function conv2dBackpropInputKernel(backendName: string, original?: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Attrs;
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
