/**
 * Faster and missing convolution kernels for the tfjs WASM backend, composed from kernels it runs on
 * XNNPACK (Conv2D, BatchMatMul) plus cheap data movement:
 *
 * - Conv2DBackpropFilter, which the WASM backend lacks (so training there failed);
 * - Conv2DBackpropInput (transposed convolution: the generator's layers, and the input gradient of
 *   the discriminator's strided convolutions), replacing the backend's plain loop with the sub-pixel
 *   form; layouts that form does not cover still run the original kernel;
 * - DepthwiseConv2dNativeBackpropInput, which the WASM backend lacks (no gradient reached an image
 *   through MobileNetV2), as a forward depthwise convolution of the spread dy (WASM only);
 * - Tile (batch norm's gradient uses it) as block copies;
 * - GanSubPixelConv, a kernel of this project's own: one layer of the serving generator (its phase
 *   convolutions, bias and ReLU) on the AssemblyScript GEMM (gemm/sub-pixel-conv.ts), which
 *   FastGenerator uses where it is registered. WASM backend only (it works on the backend's memory);
 *   the worker registers it with the plain-SIMD module it bundles, `gan sample` and the trainer's
 *   renders get it here, so both compute the same bits.
 *
 * Call `registerWasmKernels()` once the WASM backend is registered (importing
 * '@tensorflow/tfjs-backend-wasm' does that), before or after `await tf.setBackend('wasm')`.
 * Calling it again changes nothing.
 *
 * The first three only compose other kernels of the same backend, so they work on any backend. On the
 * pure-JS 'cpu' backend, whose own filter gradient is a slow loop,
 * `registerWasmKernels('cpu', ['Conv2DBackpropFilter'])` makes a training iteration ~12× faster
 * (reference architecture, batch 4: ~130 s → ~11 s); the other two do not help there.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
import { conv2dBackpropInputKernel } from './conv2d-backprop-input.ts';
import { depthwiseConv2dBackpropInputKernel } from './depthwise-conv2d-backprop-input.ts';
import { SUB_PIXEL_CONV, subPixelConvKernel } from './gemm/sub-pixel-conv.ts';
import { KernelPlacements } from './placement.ts';
import { tileKernel } from './tile.ts';

export { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
export { conv2dBackpropInputKernel, subPixelPlan } from './conv2d-backprop-input.ts';
export { depthwiseConv2dBackpropInputKernel } from './depthwise-conv2d-backprop-input.ts';
export { type AxisPhase, axisPhases, stridedTap } from './phase-taps.ts';
export { DerivedCache, FAST_TRANSPOSED_MATMUL, KernelScope, withScope } from './kernel-scope.ts';
export { tileKernel } from './tile.ts';
export { SUB_PIXEL_CONV, SubPixelConvError, type SubPixelConvAttrs, subPixelConvKernel } from './gemm/sub-pixel-conv.ts';
export { provideGemmModule } from './gemm/gemm.ts';

/** Marks kernel functions defined here, so a second registration (even from a second copy of this module) is a no-op. */
const MARK = Symbol.for('gan-edge.kernel');
type Marked = tf.KernelFunc & { [MARK]?: true };

const marked = (f: tf.KernelFunc): tf.KernelFunc => Object.assign(f, { [MARK]: true as const });
const isOurs = (config: tf.KernelConfig | undefined) => (config?.kernelFunc as Marked | undefined)?.[MARK] === true;

/** The kernels this module provides. */
export const WASM_KERNEL_NAMES = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropInput',
  'Tile',
  SUB_PIXEL_CONV,
] as const;
export type WasmKernelName = (typeof WASM_KERNEL_NAMES)[number];

/** What each placed kernel replaced, per backend and kernel name (global: one per tfjs registry). */
const placements = new KernelPlacements(Symbol.for('gan-edge.kernel.originals'));

/**
 * Registers the kernels on `backendName` (default 'wasm'): all of them, or those named in `only`
 * (GanSubPixelConv on the 'wasm' backend only). Returns the names of kernels it added or replaced
 * (none when they are already in place).
 */
export function registerWasmKernels(backendName = 'wasm', only: readonly WasmKernelName[] = WASM_KERNEL_NAMES): string[] {
  const placed: string[] = [];
  /** Puts `make(original)` in place of kernel `name`, keeping the original's set-up (its WASM bindings). */
  const place = (name: WasmKernelName, make: (original?: tf.KernelFunc) => tf.KernelFunc) => {
    if (!only.includes(name)) return;
    if (isOurs(tf.getKernel(name, backendName))) return;
    placements.place(name, backendName, (original) => marked(make(original)));
    placed.push(name);
  };
  place('Conv2DBackpropFilter', () => conv2dBackpropFilterKernel(backendName));
  place('Conv2DBackpropInput', (original) => conv2dBackpropInputKernel(backendName, original));
  place('Tile', (original) => tileKernel(backendName, original));
  if (backendName === 'wasm') {
    // Missing on WASM (other backends have their own): the input gradient through a frozen MobileNetV2.
    place('DepthwiseConv2dNativeBackpropInput', () => depthwiseConv2dBackpropInputKernel(backendName));
    place(SUB_PIXEL_CONV, () => subPixelConvKernel());
  }
  return placed;
}

/** Puts back what `registerWasmKernels` replaced (for comparisons); returns the names restored. */
export function restoreWasmKernels(backendName = 'wasm'): string[] {
  return placements.restore(WASM_KERNEL_NAMES, backendName, isOurs);
}
