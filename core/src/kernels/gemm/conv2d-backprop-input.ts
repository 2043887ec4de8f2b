/**
 * Conv2DBackpropInput for the wide stride-2, 4x4, "same" layers (the generator's transposed
 * convolutions and the input gradient of the discriminator's strided ones) by Winograd's F(2×2, 2×2)
 * on the AssemblyScript GEMM, for training.
 *
 * Each of the four output phases (a, b) of such a layer is a stride-1 2x2 correlation of dy with four
 * taps of the flipped filter (the sub-pixel form, ../conv2d-backprop-input.ts), and Winograd's
 * F(2×2, 2×2) computes it with 9 multiply-adds per 2×2 output pixels where the direct form has 16.
 * Each phase writes its pixels (2m + a, 2l + b) straight into dx: no concatenations. XNNPACK runs the
 * same phase convolutions at ~37 GFLOP/s on two threads (bench/profile-train.ts); this kernel, on one
 * thread, does ~1.8× fewer multiply-adds at the GEMM's rate (relaxed SIMD where the engine has it).
 *
 * The filter changes every training step, so its Winograd planes are built per filter tensor from its
 * values (cached while it lives: the D step and the G step run the generator with the same weights).
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
 * The phase filters of a [4, 4, Ci, Co] filter as [2, 2, Co, Ci] (dy channels in, dx channels out),
 * phase (a, b) at index 2a + b: tap (u, v) of phase (a, b) is filter element (rows[a].taps[u],
 * cols[b].taps[v]), transposed.
 */
export function phaseFilterValues(
  filter: Float32Array,
  ci: number,
  co: number,
  plan: NonNullable<ReturnType<typeof winogradPhasePlan>>,
): Float32Array[] {
  const phases: Float32Array[] = [];
  for (const a of plan.rows)
    for (const b of plan.cols) {
      const out = new Float32Array(4 * co * ci);
      for (let u = 0; u < 2; u++)
        for (let v = 0; v < 2; v++) {
          const src = (a.taps[u] * 4 + b.taps[v]) * ci * co;
          const dst = (u * 2 + v) * co * ci;
          for (let x = 0; x < ci; x++) for (let y = 0; y < co; y++) out[dst + y * ci + x] = filter[src + x * co + y];
        }
      phases.push(out);
    }
  return phases;
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
      const values = (backend as tf.KernelBackend).readSync(filter.dataId) as Float32Array;
      const perPhase = gemm.winogradFloats(co, ci);
      const all = scope.constant(new Float32Array(4 * perPhase), [4 * perPhase]);
      for (const [i, phase] of phaseFilterValues(values, ci, co, plan).entries())
        gemm.prepackWinograd(phase, co, ci, offsetOf(all) + i * perPhase * 4);
      return [all];
    });
    const perPhaseBytes = gemm.winogradFloats(co, ci) * 4;
    const dx = wasm.makeOutput([n, h, w, ci], 'float32');
    const dxAt = offsetOf(dx);
    for (const [ia, a] of plan.rows.entries())
      for (const [ib, b] of plan.cols.entries()) {
        const input = { offset: offsetOf(dy), batch: n, height: m, width: l, channels: co, padTop: a.padBefore, padLeft: b.padBefore };
        // Pixel (i, j) of phase (a, b) is dx pixel (2i + a, 2j + b).
        const output = { offset: dxAt + (ia * w + ib) * ci * 4, ldc: 2 * ci, groupStride: 2 * w * ci };
        const filterAt = offsetOf(packed) + (ia * 2 + ib) * perPhaseBytes;
        gemm.winograd({ ...input, outHeight: m, outWidth: l }, { packed: filterAt, n: ci, bias: 0, relu: false }, output);
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
