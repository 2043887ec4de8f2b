/**
 * The backend `gan sample`, `gan walk` and `gan export` render on: the worker's serving path, whatever
 * backend trains. The wasm SIMD backend with the serving kernels only (core/src/kernels/serving.ts:
 * GanSubPixelConv on the plain-SIMD GEMM), as in workerd: the trainer's kernels (its GEMM products,
 * element-wise kernels, gradients) are taken off the wasm backend first, in case this process placed
 * them, so a render computes with exactly the worker's kernels. Rendering on tfjs-node or the cpu
 * backend would give other bytes than the worker serves for the same URL (their convolutions round
 * differently), which is why there is no choice here.
 *
 * It is one thread, as in workerd, unless this process already started the wasm backend on more
 * (XNNPACK gives the same results on any number of threads).
 */
import * as tf from '@tensorflow/tfjs-core';
import { restoreElementwiseKernels, restoreGemmKernels } from '@gan/core/kernels/gemm/index';
import { restoreWasmKernels } from '@gan/core/kernels/index';
import { registerServingKernels } from '@gan/core/kernels/serving';
import { startWasm } from './backend.ts';

/** What the serving path is, for the log. */
export const SERVING_PATH = "wasm SIMD with the worker's kernels";

/** Makes the serving path the active backend; afterwards no kernel of the trainer's is placed on wasm. */
export async function activateServingBackend(log: (line: string) => void = () => {}): Promise<void> {
  await startWasm(1, log);
  restoreGemmKernels('wasm');
  restoreElementwiseKernels('wasm');
  restoreWasmKernels('wasm');
  registerServingKernels();
  if (tf.getBackend() !== 'wasm') throw new Error('the serving backend (wasm) did not become active');
}
