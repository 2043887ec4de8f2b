/**
 * One stage of the serving generator (core/src/inference.ts): a stride-2, 4x4, "same" transposed
 * convolution given as its phase convolutions, with bias and ReLU, as one kernel on the AssemblyScript
 * GEMM for the tfjs `wasm` backend.
 *
 * Each phase convolution (row phase a, column phases b … b + cols − 1, a [2, 2 or 3, Cin, cols·Cout]
 * filter) writes output pixel (2m + a, 2l + b) straight into the upsampled image, with bias and ReLU:
 * no concatenations, no reshapes, one kernel call per layer where the XNNPACK form takes four
 * convolutions and three concatenations. Its filter is transformed and packed once, and kept while the
 * filter lives (like the convolution kernels' derived filters). How it runs:
 *
 * - 2x2 filters (the wide layers), channel counts multiples of 4: Winograd's F(2×2, 2×2), 9 GEMMs
 *   against the filter's transformed planes, 9 multiply-adds per 2×2 output pixels where the direct
 *   form has 16;
 * - otherwise (the image layer's 2x3 filters): im2col + one GEMM.
 *
 * Always the plain-SIMD build, so every CPU and engine computes the same bits (core/asm/gemm.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { DerivedCache } from '../kernel-scope.ts';
import { Gemm, type WasmBackendInternals } from './gemm.ts';

export const SUB_PIXEL_CONV = 'GanSubPixelConv';

/** Attributes of SUB_PIXEL_CONV; convolution i has inputs `filter${i}` and `bias${i}`. */
export interface SubPixelConvAttrs {
  cout: number;
  relu: boolean;
  /** Per convolution: its output row phase a, its first output column phase b, and its padding. */
  rowPhases: number[];
  columnPhases: number[];
  padTops: number[];
  padLefts: number[];
}

export class SubPixelConvError extends Error {
  override name = 'SubPixelConvError';
}

/** Serving is pinned to the plain-SIMD build (same bits on every CPU). */
const SERVING_VARIANT = 'simd';

export function subPixelConvKernel(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const derived = DerivedCache.of(backend as tf.KernelBackend);
    const { cout, relu, rowPhases, columnPhases, padTops, padLefts } = attrs as unknown as SubPixelConvAttrs;
    const x = inputs.x as tf.TensorInfo;
    const [batch, h, w, cin] = x.shape;
    const wasm = backend as unknown as WasmBackendInternals;
    const gemm = Gemm.of(wasm, SERVING_VARIANT);
    const convs = rowPhases.map((a, i) => {
      const filter = inputs[`filter${i}`] as tf.TensorInfo;
      const bias = inputs[`bias${i}`] as tf.TensorInfo;
      const [kh, kw, filterIn, n] = filter.shape;
      const b = columnPhases[i];
      const cols = n / cout;
      if (filterIn !== cin || !Number.isInteger(cols) || b + cols > 2 || bias.shape.join() !== `${n}` || x.dtype !== 'float32') {
        throw new SubPixelConvError(
          `phase convolution ${i} does not fit: filter [${filter.shape}], bias [${bias.shape}], input [${x.shape}]`,
        );
      }
      const winograd = kh === 2 && kw === 2 && cin % 4 === 0 && n % 4 === 0 && h % 2 === 0 && w % 2 === 0;
      return { a, b, cols, kh, kw, n, filter, bias, padTop: padTops[i], padLeft: padLefts[i], winograd };
    });
    // Every output phase (a, b) exactly once, or the output would keep uninitialised memory.
    const covered = convs.flatMap(({ a, b, cols }) => Array.from({ length: cols }, (_, j) => a * 2 + b + j)).sort();
    if (covered.join() !== '0,1,2,3')
      throw new SubPixelConvError(`the phase convolutions cover output phases [${covered}], not each of 0–3 once`);

    const offsetOf = (t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    const packedOf = (filter: tf.TensorInfo, k: number, n: number) =>
      derived.get(filter, 'gemm-prepacked', 'wasm', (scope) => {
        const packed = scope.constant(new Float32Array(gemm.packedFloats(k, n)), [gemm.packedFloats(k, n)]);
        gemm.prepack({ offset: offsetOf(filter), row: n, col: 1 }, k, n, offsetOf(packed));
        return [packed];
      })[0];
    const winogradOf = (filter: tf.TensorInfo, n: number) =>
      derived.get(filter, 'gemm-winograd', 'wasm', (scope) => {
        const size = gemm.winograd.floats(cin, n);
        const packed = scope.constant(new Float32Array(size), [size]);
        gemm.winograd.prepack((backend as tf.KernelBackend).readSync(filter.dataId) as Float32Array, cin, n, offsetOf(packed));
        return [packed];
      })[0];

    const out = wasm.makeOutput([batch, 2 * h, 2 * w, cout], 'float32');
    const outAt = offsetOf(out);
    for (const conv of convs) {
      const input = {
        offset: offsetOf(x),
        batch,
        height: h,
        width: w,
        channels: cin,
        padTop: conv.padTop,
        padLeft: conv.padLeft,
        outHeight: h,
        outWidth: w,
      };
      // Pixel (m, l) of phase (a, b) is output pixel (2m + a, 2l + b); its cols phases are adjacent.
      const output = { offset: outAt + (conv.a * 2 * w + conv.b) * cout * 4, ldc: 2 * cout, groupStride: 4 * w * cout };
      const bias = offsetOf(conv.bias);
      if (conv.winograd) {
        gemm.winograd.conv(input, { packed: offsetOf(winogradOf(conv.filter, conv.n)), n: conv.n, bias, relu }, output);
      } else {
        const packed = packedOf(conv.filter, conv.kh * conv.kw * cin, conv.n);
        gemm.conv(input, { packed: offsetOf(packed), kh: conv.kh, kw: conv.kw, n: conv.n, bias, relu }, output);
      }
    }
    return out;
  };
}
