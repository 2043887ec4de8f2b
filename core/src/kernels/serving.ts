/**
 * The kernels of the serving path: what the worker registers on the WASM backend (GanSubPixelConv,
 * on the plain-SIMD GEMM so every CPU computes the same bits) and nothing else. `gan sample`,
 * `gan walk` and `gan export` register the same set (trainer/src/serving-backend.ts), so they write
 * the bytes the worker serves whatever backend trains.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SUB_PIXEL_CONV, subPixelConvKernel } from './gemm/sub-pixel-conv.ts';

/** Registers the serving kernels on the 'wasm' backend (a kernel already registered under the name is kept). */
export function registerServingKernels(): void {
  if (!tf.getKernel(SUB_PIXEL_CONV, 'wasm'))
    tf.registerKernel({ kernelName: SUB_PIXEL_CONV, backendName: 'wasm', kernelFunc: subPixelConvKernel() });
}
