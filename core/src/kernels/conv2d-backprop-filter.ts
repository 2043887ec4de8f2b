/**
 * Conv2DBackpropFilter (the filter gradient of a 2-D convolution) for backends that lack it, as one
 * stride-1 convolution, which the WASM backend runs on XNNPACK:
 *
 *   dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, kh + oh·s − pad, kw + ow·s − pad, ci] · dy[n, oh, ow, co]
 *
 * is a correlation over (oh, ow) with dilation s, taking the batch as the channel axis and the input
 * channels as the batch: X' = x as [Ci, H, W, N] (the "image"), F' = dy as [OH, OW, N, Co] (the
 * "filter"), conv2d(X', F', stride 1, dilation s) = dW as [Ci, KH, KW, Co]. Every multiply-add is
 * useful. (Gathering patches with StridedSlice and one matrix product does the same arithmetic but
 * the WASM StridedSlice is ~20× slower than this whole convolution.)
 *
 * When each output pixel sees the whole input (a "valid" layer whose filter is the image size, e.g.
 * 4x4 on 4x4 maps), it is a plain matrix product xᵀ[KH·KW·Ci, N] × dy[N, Co].
 *
 * With few input channels (the 3-channel image layers) that convolution has only KH·KW·Ci output
 * rows, which XNNPACK's convolution handles at a tenth of its speed. There the patches are gathered
 * instead by the forward convolution with a one-hot filter (exact: each output copies one input), and
 * dW = patchesᵀ[KH·KW·Ci, P] × dy[P, Co] is one matrix product (the transpose explicit unless the
 * BatchMatMul in place takes transposed operands at full speed: see KernelScope.transposedMatMulIsFast).
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope } from './kernel-scope.ts';

/** The convolution a filter gradient belongs to, from the kernel's input x and its attributes. */
export function filterGradientGeometry(x: tf.TensorInfo, attrs: tf.NamedAttrMap | undefined): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
}

/** Patches up to this size (KH·KW·Ci) are gathered explicitly (see the top). */
const SMALL_PATCH = 64;

export function conv2dBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { dataFormat, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (dataFormat === 'NCHW') throw new Error(`Conv2DBackpropFilter on ${backendName} supports NHWC only`);
    const info = filterGradientGeometry(x, attrs);
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
    const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    const { top, left, bottom: padBottom, right: padRight } = info.padInfo;
    const patch = kh * kw * ci;
    return withScope(backend as tf.KernelBackend, backendName, (s) => {
      if (oh === 1 && ow === 1 && kh === h && kw === w && top === 0 && left === 0) {
        if (s.transposedMatMulIsFast) {
          const grad = s.matMulTransposed(s.reshape(x, [1, n, patch]), s.reshape(dy, [1, n, co]), true, false);
          return s.reshape(grad, filterShape);
        }
        const xt = s.transpose(s.reshape(x, [n, kh * kw * ci]), [1, 0]);
        const grad = s.matMul(s.reshape(xt, [1, kh * kw * ci, n]), s.reshape(dy, [1, n, co]));
        return s.reshape(grad, filterShape);
      }
      if (patch <= SMALL_PATCH) {
        const onehot = new Float32Array(patch * patch);
        for (let k = 0; k < patch; k++) onehot[k * patch + k] = 1; // [KH, KW, Ci] → column (kh·KW + kw)·Ci + ci
        const patches = s.conv2d(
          x,
          s.constant(onehot, [kh, kw, ci, patch]),
          [
            [0, 0],
            [top, padBottom],
            [left, padRight],
            [0, 0],
          ],
          [1, 1],
          [sh, sw],
        );
        const p = n * oh * ow;
        if (s.transposedMatMulIsFast) {
          const grad = s.matMulTransposed(s.reshape(patches, [1, p, patch]), s.reshape(dy, [1, p, co]), true, false);
          return s.reshape(grad, filterShape);
        }
        const columns = s.transpose(s.reshape(patches, [p, patch]), [1, 0]); // [KH·KW·Ci, P]
        const grad = s.matMul(s.reshape(columns, [1, patch, p]), s.reshape(dy, [1, p, co]));
        return s.reshape(grad, filterShape);
      }
      // Rows read run from −top to (OH−1)·s + KH−1 − top; pad below to reach it, or crop if the
      // forward convolution never read the last rows.
      const bottom = (oh - 1) * sh + kh - top - h;
      const right = (ow - 1) * sw + kw - left - w;
      let image = s.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]
      if (bottom < 0 || right < 0) image = s.slice(image, [0, 0, 0, 0], [ci, h + Math.min(0, bottom), w + Math.min(0, right), n]);
      const filter = s.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, Co]
      const grad = s.conv2d(
        image,
        filter,
        [
          [0, 0],
          [top, Math.max(0, bottom)],
          [left, Math.max(0, right)],
          [0, 0],
        ],
        [sh, sw],
      ); // [Ci, KH, KW, Co]
      return s.transpose(grad, [1, 2, 0, 3]);
    });
  };
}
