/**
 * Conv2DBackpropFilter (the filter gradient of a 2-D convolution) for backends that lack it, built
 * from Transpose, PadV2, (Strided)Slice, Concat and one matrix product, which the WASM backend runs
 * on XNNPACK:
 *
 *   dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + kh − pad, ow·s + kw − pad, ci] · dy[n, oh, ow, co]
 *
 * With P = N·OH·OW, the input patches are gathered tap by tap into columns [KH·KW·Ci, P] (one strided
 * slice per tap of the channel-first input), and dW = columns × dy[P, Co]. Every multiply-add is
 * useful (no zero taps), and the product has the large shared dimension P that GEMMs like.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope } from './kernel-scope.ts';

type Attrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

export function conv2dBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Attrs;
    if (dataFormat === 'NCHW') throw new Error(`Conv2DBackpropFilter on ${backendName} supports NHWC only`);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
    const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    const { top, left } = info.padInfo;
    const p = n * oh * ow;
    return withScope(backend as tf.KernelBackend, backendName, (s) => {
      // A whole-image window with one output position (e.g. a 4x4 "valid" layer on 4x4 maps): the
      // columns are the input itself.
      if (oh === 1 && ow === 1 && kh === h && kw === w && top === 0 && left === 0) {
        const cols = s.transpose(s.reshape(x, [n, kh * kw * ci]), [1, 0]);
        const grad = s.matMul(s.reshape(cols, [1, kh * kw * ci, n]), s.reshape(dy, [1, n, co]));
        return s.reshape(grad, filterShape);
      }
      // Rows (and columns) read run from −top to (OH−1)·s + KH−1 − top.
      const bottom = Math.max(0, (oh - 1) * sh + kh - top - h);
      const right = Math.max(0, (ow - 1) * sw + kw - left - w);
      const channelsFirst = s.transpose(x, [3, 0, 1, 2]); // [Ci, N, H, W]
      const padded = s.pad(channelsFirst, [[0, 0], [0, 0], [top, bottom], [left, right]]);
      const taps: tf.TensorInfo[] = [];
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) taps.push(s.stridedSlice(padded, [0, 0, i, j], [ci, n, oh, ow], [1, 1, sh, sw]));
      const cols = s.reshape(s.concat(taps, 0), [1, kh * kw * ci, p]); // [1, KH·KW·Ci, P]
      const grad = s.matMul(cols, s.reshape(dy, [1, p, co])); // [1, KH·KW·Ci, Co]
      return s.reshape(grad, filterShape);
    });
  };
}
