/**
 * Conv2D and FusedConv2D for the stride-2, 4x4, "same" layers (the discriminator's, and the input
 * gradient of the generator's transposed convolutions) by Winograd's F(2×2, 2×2) on the project's
 * GEMM, for training.
 *
 * Along one axis, out(i) = Σ_u x(2i − 1 + u)·W(u), u = 0…3. Split x by phase r (x(2p + r)): phase 0
 * meets taps u = 1, 3 at p = i, i + 1 and phase 1 taps u = 0, 2 at p = i − 1, i. So in 2-D the layer
 * is the sum of four 2×2 stride-1 correlations, one per input phase (r, s), each on an image half the
 * size with padding (r, s) before it, and all with the output's size. `winogradPhases` reads the
 * phases in place (pixel stride 2, row stride 2 rows) and sums them inside its 9 products, so the
 * layer is 9 GEMMs of depth 4·Cin with 9 multiply-adds per 2×2 output pixels where the direct form
 * has 64.
 *
 * The filter changes every training step: its Winograd planes are built per filter tensor (cached
 * while it lives). Layouts this form does not cover (channel counts not multiples of 4, such as the
 * image layer; sizes not multiples of 4; other strides, filters, paddings or dilations; activations
 * other than linear and ReLU) go to the kernel this one replaces.
 */
import { stridedTap } from '../phase-taps.ts';
import * as tf from '@tensorflow/tfjs-core';
import { DerivedCache } from '../kernel-scope.ts';
import { Gemm, type GemmVariant, type PhasedInput, type WasmBackendInternals } from './gemm.ts';

/** Whether the layer is one this kernel covers. */
export function coversStridedLayer(info: tf.backend_util.Conv2DInfo, x: tf.TensorInfo, filter: tf.TensorInfo): boolean {
  const { inHeight: h, inWidth: w, inChannels: ci, outChannels: co, outHeight: m, outWidth: l, padInfo } = info;
  return (
    info.dataFormat === 'channelsLast' &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.filterHeight === 4 &&
    info.filterWidth === 4 &&
    padInfo.top === 1 &&
    padInfo.left === 1 &&
    h === 2 * m &&
    w === 2 * l &&
    m % 2 === 0 &&
    l % 2 === 0 &&
    ci % 4 === 0 &&
    co % 4 === 0
  );
}

/**
 * The four phase filters of a [4, 4, Ci, Co] filter side by side, as one [2, 2, 4·Ci, Co] filter:
 * tap (U, V) of phase (r, s), channels (2r + s)·Ci … is W's tap (2U + 1 − r, 2V + 1 − s). Per tap
 * (U, V), u-major, the filter's taps (indices 0–15) of phases 0–3.
 */
export function stridedPhaseTaps(): number[][] {
  return [0, 1].flatMap((u) => [0, 1].map((v) => [0, 1].flatMap((r) => [0, 1].map((s) => stridedTap(r, u) * 4 + stridedTap(s, v)))));
}

/**
 * A stride-2 layer's input x (at byte offset `offset`) as its four input phases (r, s), phase 2r + s:
 * pixel (b, i, j) of phase (r, s) is x's pixel (b, 2i + r, 2j + s), read in place, with padding
 * (r, s) before it.
 */
export function stridedInput(offset: number, info: tf.backend_util.Conv2DInfo): PhasedInput {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: m, outWidth: l } = info;
  return {
    offset,
    batch: n,
    height: m,
    width: l,
    channels: ci,
    pixelStride: 2 * ci,
    rowStride: 2 * w * ci,
    imageStride: h * w * ci,
    phases: [0, 1].flatMap((r) => [0, 1].map((s) => ({ offset: (r * w + s) * ci, padTop: r, padLeft: s }))),
  };
}

export function stridedConv2dKernel(
  name: 'Conv2D' | 'FusedConv2D',
  original: tf.KernelFunc | undefined,
  variant?: GemmVariant,
): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
    const activation = name === 'FusedConv2D' ? (attrs as unknown as tf.FusedConv2DAttrs).activation : 'linear';
    const fallback = () => {
      if (!original) throw new Error(`${name}: no original kernel for this layout`);
      return original(args);
    };
    if (!x || !filter || preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return fallback();
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC'),
    );
    const { batchSize: n, inChannels: ci, outChannels: co, outHeight: m, outWidth: l } = info;
    if (!coversStridedLayer(info, x, filter) || (bias && (bias.dtype !== 'float32' || bias.shape.join() !== `${co}`))) return fallback();

    const wasm = backend as unknown as WasmBackendInternals;
    const gemm = Gemm.of(wasm, variant);
    const offsetOf = (t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    const [packed] = DerivedCache.of(backend as tf.KernelBackend).get(filter, `winograd-strided-${gemm.variant}`, 'wasm', (scope) => {
      const size = gemm.winograd.floats(4 * ci, co);
      const planes = scope.constant(new Float32Array(size), [size]);
      const block = ci * co;
      // The stacked filter, copied tap block by tap block inside the backend's memory (no read-back).
      gemm.withBuffer(16 * block * 4, (stacked) => {
        const taps = stridedPhaseTaps().map((sources, tap) => {
          const at = stacked + tap * 4 * block * 4;
          for (const [phase, source] of sources.entries())
            gemm.floats(at + phase * block * 4, block).set(gemm.floats(offsetOf(filter) + source * block * 4, block));
          return at;
        });
        gemm.winograd.prepackTaps(taps, { row: co, col: 1 }, 4 * ci, co, offsetOf(planes));
      });
      return [planes];
    });
    const out = wasm.makeOutput([n, m, l, co], 'float32');
    gemm.winograd.convPhases(
      stridedInput(offsetOf(x), info),
      { packed: offsetOf(packed), n: co, bias: bias ? offsetOf(bias) : 0, relu: activation === 'relu' },
      { offset: offsetOf(out), ldc: co, groupStride: l * co },
    );
    return out;
  };
}
