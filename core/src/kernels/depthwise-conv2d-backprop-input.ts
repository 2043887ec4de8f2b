/**
 * DepthwiseConv2dNativeBackpropInput — the input gradient of a depthwise convolution — which the WASM
 * backend does not register, so no gradient could reach an image through a network built of
 * depthwise convolutions (MobileNetV2: the frozen feature network of the vision-aided discriminator).
 *
 * Along one axis, with forward stride s, filter size K and leading pad p, the input gradient is
 *   dx[i] = Σ_{o, k : o·s + k − p = i} dy[o] · W[k].
 * With dy spread out by s (s − 1 zeros after each value: u[o·s] = dy[o], the rest 0) that is
 *   dx[i] = Σ_k u[i + p − k] · W[k] = Σ_j u[i − (K − 1 − p) + j] · W[K − 1 − j],
 * a stride-1 correlation of u, padded by K − 1 − p in front, with the flipped filter. Per channel this
 * is exactly the forward depthwise convolution, which the backend runs natively: one spread (two
 * padded reshapes), one pad, one forward depthwise convolution with the flipped filter (kept while
 * the filter's data lives; under a gradient tape that is the tape's saved copy, so it is flipped once
 * per backward pass, a copy of a few kilobytes).
 *
 * The spread multiplies by zeros: a stride-2 layer does 4× the taps it needs. Depthwise layers are a
 * small share of MobileNetV2's work, and only four of them are strided (three before the vision-aided
 * discriminator's cut), so the simple form is kept. Channel multipliers other than 1, dilations and NCHW are refused (MobileNetV2 has none).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DerivedCache, type KernelScope, withScope } from './kernel-scope.ts';

/** The spread of dy by `stride` along height and width: [N, H·sh, W·sw, C], each value followed by zeros. */
function spread(s: KernelScope, dy: tf.TensorInfo, [sh, sw]: [number, number]): tf.TensorInfo {
  const [n, h, w, c] = dy.shape;
  let out = dy;
  if (sh > 1)
    out = s.reshape(
      s.pad(s.reshape(out, [n, h, 1, w * c]), [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
      ]),
      [n, h * sh, w, c],
    );
  if (sw > 1)
    out = s.reshape(
      s.pad(s.reshape(out, [n * h * sh, w, 1, c]), [
        [0, 0],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ]),
      [n, h * sh, w * sw, c],
    );
  return out;
}

/** The unsupported layout, by name, or undefined when the form above covers it. */
function unsupported(info: tf.backend_util.Conv2DInfo, filter: tf.TensorInfo): string | undefined {
  if (info.dataFormat !== 'channelsLast') return 'NCHW';
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return 'dilation';
  if (filter.shape[3] !== 1) return `channel multiplier ${filter.shape[3]}`;
  return undefined;
}

export function depthwiseConv2dBackpropInputKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dilations, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      true,
    );
    const refused = unsupported(info, filter);
    if (refused) throw new Error(`DepthwiseConv2dNativeBackpropInput on ${backendName}: ${refused} is not supported`);
    const { inHeight, inWidth, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
    return withScope(backend as tf.KernelBackend, backendName, (s) => {
      const [flipped] = DerivedCache.of(s.backend).get(filter, 'depthwise-flipped', backendName, (d) => [d.reverse(filter, [0, 1])]);
      const u = spread(s, dy, [sh, sw]);
      // Rows of u needed: i − (K − 1 − p) … i + p for i in [0, inHeight); u has H·s of them.
      const before = [kh - 1 - padInfo.top, kw - 1 - padInfo.left];
      const after = [inHeight + padInfo.top - u.shape[1], inWidth + padInfo.left - u.shape[2]];
      const cropped = s.slice(
        u,
        [0, Math.max(0, -before[0]), Math.max(0, -before[1]), 0],
        [
          u.shape[0],
          u.shape[1] - Math.max(0, -before[0]) - Math.max(0, -after[0]),
          u.shape[2] - Math.max(0, -before[1]) - Math.max(0, -after[1]),
          u.shape[3],
        ],
      );
      const padded = s.pad(cropped, [
        [0, 0],
        [Math.max(0, before[0]), Math.max(0, after[0])],
        [Math.max(0, before[1]), Math.max(0, after[1])],
        [0, 0],
      ]);
      return s.run(
        'DepthwiseConv2dNative',
        { x: padded, filter: flipped },
        { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC' },
      );
    });
  };
}
