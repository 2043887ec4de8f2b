/**
 * Conv2DBackpropFilter on the AssemblyScript kernel. The stride-2, 4x4, "same" layers (those
 * conv2d-strided.ts runs forward) by Winograd (`winogradFilterGradient` below); others with 16+ input
 * channels as one gathered GEMM per filter tap:
 *
 *   dW[kh, kw] (Ci × Co) = Σ_p x[pixel(p; kh, kw)]ᵀ · dy[p],  p = (n, oh, ow),
 *   pixel(p; kh, kw) = (n, oh·sh + kh − top, ow·sw + kw − left), zero outside the image.
 *
 * The GEMM reads x's pixel rows in place through a table of offsets (no patch matrix, no transposes)
 * and dy as it is, and writes each tap's block of dW directly. With few input channels a tap's product
 * is too thin to pay for packing dy once per tap: those layers, other layouts and dilations go to the
 * kernel this one replaces (the project's composed kernel, which gathers their patches once).
 */
import { stridedTap } from '../phase-taps.ts';
import type * as tf from '@tensorflow/tfjs-core';
import { filterGradientGeometry } from '../conv2d-backprop-filter.ts';
import { coversStridedLayer, stridedInput } from './conv2d-strided.ts';
import { Gemm, type GemmVariant, OP_ADD, type WasmBackendInternals } from './gemm.ts';

/** Fewest input channels for the per-tap form (below, dy's packing per tap outweighs the product). */
export const GATHERED_MIN_CHANNELS = 16;

export function conv2dBackpropFilterKernel(original: tf.KernelFunc | undefined, variant?: GemmVariant): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { dataFormat } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const info = filterGradientGeometry(x, attrs);
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
    const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    if (dataFormat !== 'NCHW' && coversStridedLayer(info, x, dy))
      return winogradFilterGradient(backend as tf.KernelBackend, x, dy, info, variant);
    if (dataFormat === 'NCHW' || ci < GATHERED_MIN_CHANNELS || x.dtype !== 'float32' || dy.dtype !== 'float32') {
      if (!original) throw new Error('Conv2DBackpropFilter: no original kernel for this layout');
      return original(args);
    }
    const wasm = backend as unknown as WasmBackendInternals;
    const gemm = Gemm.of(wasm, variant);
    const out = wasm.makeOutput([kh, kw, ci, co], 'float32');
    const xAt = wasm.dataIdMap.get(x.dataId)!.memoryOffset;
    const dyAt = wasm.dataIdMap.get(dy.dataId)!.memoryOffset;
    const outAt = wasm.dataIdMap.get(out.dataId)!.memoryOffset;
    const p = n * oh * ow;
    const offsets = new Int32Array(p);
    gemm.withTable(p, (table) => {
      for (let fh = 0; fh < kh; fh++)
        for (let fw = 0; fw < kw; fw++) {
          let at = 0;
          for (let b = 0; b < n; b++)
            for (let r = 0; r < oh; r++) {
              const ih = r * sh + fh - info.padInfo.top;
              for (let c = 0; c < ow; c++) {
                const iw = c * sw + fw - info.padInfo.left;
                offsets[at++] = ih >= 0 && ih < h && iw >= 0 && iw < w ? ((b * h + ih) * w + iw) * ci : -1;
              }
            }
          table.set(offsets);
          gemm.runGathered(ci, co, p, xAt, table.offset, { offset: dyAt, row: co, col: 1 }, outAt + (fh * kw + fw) * ci * co * 4, co);
        }
    });
    return out;
  };
}

/**
 * The stride-2, 4x4, "same" layers (those conv2d-strided.ts runs forward) by Winograd: per input
 * phase (r, s), the 2×2 filter's gradient from the 9 sums over tiles the module computes, then
 * tap (U, V) of phase (r, s) is filter tap (2U + 1 − r, 2V + 1 − s). 9 multiply-adds per 2×2 output
 * pixels and phase where the per-tap form has 16.
 */
function winogradFilterGradient(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  variant: GemmVariant | undefined,
): tf.TensorInfo {
  const { inChannels: ci, outChannels: co } = info;
  const wasm = backend as unknown as WasmBackendInternals;
  const gemm = Gemm.of(wasm, variant);
  const offsetOf = (t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
  const out = wasm.makeOutput([4, 4, ci, co], 'float32');
  const depth = 4 * ci;
  const plane = depth * co;
  gemm.withBuffer(9 * plane * 4, (planes) => {
    gemm.winograd.filterGradient(stridedInput(offsetOf(x), info), { offset: offsetOf(dy), n: co }, planes);
    // Gᵀ M G: tap (U, V) sums rows U, U + 1 and columns V, V + 1 of the 3×3 M, on the module.
    const add = (x: number, y: number, into: number) => gemm.elementwise.binary(OP_ADD, x, 1, y, 1, into, 1, ci * co);
    const outAt = offsetOf(out);
    for (let r = 0; r < 2; r++)
      for (let s = 0; s < 2; s++)
        for (let u = 0; u < 2; u++)
          for (let v = 0; v < 2; v++) {
            const block = (xi: number) => planes + (xi * plane + (2 * r + s) * ci * co) * 4;
            const dst = outAt + (stridedTap(r, u) * 4 + stridedTap(s, v)) * ci * co * 4;
            add(block(3 * u + v), block(3 * u + v + 1), dst);
            add(dst, block(3 * u + v + 3), dst);
            add(dst, block(3 * u + v + 4), dst);
          }
  });
  return out;
}
