/**
 * Conv2DBackpropInput for the wide stride-2, 4x4, "same" layers (the generator's transposed
 * convolutions and the input gradient of the discriminator's strided ones) by Winograd's F(2×2, 2×2)
 * on the AssemblyScript GEMM, for training.
 *
 * Each of the four output phases (a, b) of such a layer is a stride-1 2x2 correlation of dy with four
 * taps of the flipped filter (the sub-pixel form, ../conv2d-backprop-input.ts), and Winograd's
 * F(2×2, 2×2) computes it with 9 multiply-adds per 2×2 output pixels where the direct form has 16.
 * Each phase writes its pixels (2m + a, 2l + b) straight into dx: no concatenations. At batch 64 it
 * takes half the time of the XNNPACK phase convolutions, on one thread and on two (BENCHMARKS.md,
 * "Training kernels").
 *
 * The filter changes every training step, so its Winograd planes are built per filter tensor on the
 * module, from its taps read in place (cached while it lives: the D step and the G step run the
 * generator with the same weights).
 * Layers this form does not cover (narrow channel counts such as the image layer, odd sizes, other
 * strides or layouts) go to the kernel this one replaces.
 */
import * as tf from '@tensorflow/tfjs-core';
import { subPixelPlan } from '../conv2d-backprop-input.ts';
import { DerivedCache } from '../kernel-scope.ts';
import { Gemm, type GemmVariant, type WasmBackendInternals } from './gemm.ts';

/** The layer geometry this kernel covers, or undefined. */
export function winogradPhasePlan(dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo) {
  const { inHeight: h, inWidth: w, inChannels: ci, outChannels: co, outHeight: m, outWidth: l } = info;
  const covered =
    dy.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.filterHeight === 4 &&
    info.filterWidth === 4 &&
    h === 2 * m &&
    w === 2 * l &&
    m % 2 === 0 &&
    l % 2 === 0 &&
    ci % 4 === 0 &&
    co % 4 === 0;
  const plan = covered ? subPixelPlan(info) : undefined;
  // Every phase a 2x2 correlation (4x4 stride 2: two taps per axis).
  if (!plan || ![...plan.rows, ...plan.cols].every((p) => p.taps.length === 2)) return undefined;
  return plan;
}

/**
 * The filter taps of each phase: tap (u, v) of phase (a, b) (index 2a + b) is filter tap
 * (rows[a].taps[u], cols[b].taps[v]), whose [Ci, Co] block the phase reads transposed (dy channels
 * in, dx channels out). Indices into the filter's 16 taps, phase by phase, u-major.
 */
export function phaseTaps(plan: NonNullable<ReturnType<typeof winogradPhasePlan>>): number[][] {
  return plan.rows.flatMap((a) => plan.cols.map((b) => a.taps.flatMap((row) => b.taps.map((col) => row * 4 + col))));
}

export function conv2dBackpropInputKernel(original: tf.KernelFunc | undefined, variant?: GemmVariant): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = computeInfo(inputShape, filter, strides, pad, dimRoundingMode, dataFormat);
    const plan = info && winogradPhasePlan(dy, filter, info);
    if (!info || !plan) {
      if (!original) throw new Error('Conv2DBackpropInput: no original kernel for this layout');
      return original(args);
    }
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co, outHeight: m, outWidth: l } = info;
    const wasm = backend as unknown as WasmBackendInternals;
    const gemm = Gemm.of(wasm, variant);
    const offsetOf = (t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    const [packed] = DerivedCache.of(backend as tf.KernelBackend).get(filter, `winograd-phases-${gemm.variant}`, 'wasm', (scope) => {
      const perPhase = gemm.winograd.floats(co, ci);
      const all = scope.constant(new Float32Array(4 * perPhase), [4 * perPhase]);
      // Read in place, each [Ci, Co] tap as its transpose: element (dy channel y, dx channel x) at x·Co + y.
      const tapAt = (tap: number) => offsetOf(filter) + tap * ci * co * 4;
      for (const [i, taps] of phaseTaps(plan).entries())
        gemm.winograd.prepackTaps(taps.map(tapAt), { row: 1, col: co }, co, ci, offsetOf(all) + i * perPhase * 4);
      return [all];
    });
    const perPhaseBytes = gemm.winograd.floats(co, ci) * 4;
    const dx = wasm.makeOutput([n, h, w, ci], 'float32');
    const dxAt = offsetOf(dx);
    for (const [ia, a] of plan.rows.entries())
      for (const [ib, b] of plan.cols.entries()) {
        const input = { offset: offsetOf(dy), batch: n, height: m, width: l, channels: co, padTop: a.padBefore, padLeft: b.padBefore };
        // Pixel (i, j) of phase (a, b) is dx pixel (2i + a, 2j + b).
        const output = { offset: dxAt + (ia * w + ib) * ci * 4, ldc: 2 * ci, groupStride: 2 * w * ci };
        const filterAt = offsetOf(packed) + (ia * 2 + ib) * perPhaseBytes;
        gemm.winograd.conv({ ...input, outHeight: m, outWidth: l }, { packed: filterAt, n: ci, bias: 0, relu: false }, output);
      }
    return dx;
  };
}

function computeInfo(
  inputShape: number[],
  filter: tf.TensorInfo,
  strides: [number, number] | number,
  pad: tf.Conv2DBackpropInputAttrs['pad'],
  dimRoundingMode: tf.Conv2DBackpropInputAttrs['dimRoundingMode'],
  dataFormat: tf.Conv2DBackpropInputAttrs['dataFormat'],
): tf.backend_util.Conv2DInfo | undefined {
  if ((dataFormat ?? 'NHWC') !== 'NHWC') return undefined;
  return tf.backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}
