/**
 * Faster and missing convolution kernels for the tfjs WASM backend, composed from kernels it runs on
 * XNNPACK (Conv2D, BatchMatMul) plus cheap data movement:
 *
 * - Conv2DBackpropFilter, which the WASM backend lacks (so training there failed);
 * - Conv2DBackpropInput (transposed convolution: the generator's layers, and the input gradient of
 *   the discriminator's strided convolutions), replacing the backend's plain loop with the sub-pixel
 *   form; layouts that form does not cover still run the original kernel.
 *
 * Call `registerWasmKernels()` once the WASM backend is registered (importing
 * '@tensorflow/tfjs-backend-wasm' does that), before or after `await tf.setBackend('wasm')`.
 * Calling it again changes nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
import { conv2dBackpropInputKernel } from './conv2d-backprop-input.ts';

export { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
export { axisPhases, conv2dBackpropInputKernel, subPixelPlan } from './conv2d-backprop-input.ts';
export { KernelScope, withScope } from './kernel-scope.ts';

/** Marks kernel functions defined here, so a second registration (even from a second copy of this module) is a no-op. */
const MARK = Symbol.for('gan-edge.kernel');
type Marked = tf.KernelFunc & { [MARK]?: true };

const marked = (f: tf.KernelFunc): tf.KernelFunc => Object.assign(f, { [MARK]: true as const });
const isOurs = (config: tf.KernelConfig | undefined) => (config?.kernelFunc as Marked | undefined)?.[MARK] === true;

/** Registers the kernels on `backendName` (default 'wasm'). Returns the names of kernels it (re)placed. */
export function registerWasmKernels(backendName = 'wasm'): string[] {
  const placed: string[] = [];
  const filterGrad = tf.getKernel('Conv2DBackpropFilter', backendName);
  if (!isOurs(filterGrad)) {
    if (filterGrad) tf.unregisterKernel('Conv2DBackpropFilter', backendName);
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: marked(conv2dBackpropFilterKernel(backendName)) });
    placed.push('Conv2DBackpropFilter');
  }
  const inputGrad = tf.getKernel('Conv2DBackpropInput', backendName);
  if (!isOurs(inputGrad)) {
    if (inputGrad) tf.unregisterKernel('Conv2DBackpropInput', backendName);
    tf.registerKernel({
      kernelName: 'Conv2DBackpropInput',
      backendName,
      // The original's set-up (binding its WASM function) must still run if the backend starts later.
      setupFunc: inputGrad?.setupFunc,
      kernelFunc: marked(conv2dBackpropInputKernel(backendName, inputGrad?.kernelFunc)),
    });
    placed.push('Conv2DBackpropInput');
  }
  return placed;
}
