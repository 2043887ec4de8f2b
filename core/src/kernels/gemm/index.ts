/**
 * The trainer's matrix kernels on the AssemblyScript GEMM (./gemm.ts) for the tfjs `wasm` backend,
 * relaxed SIMD where the engine has it. (Serving's kernel on the same GEMM, GanSubPixelConv, always
 * plain SIMD, is in ./sub-pixel-conv.ts and registered with the other convolution kernels by
 * ../index.ts: the worker and `gan sample` both run it.)
 *
 * `registerGemmKernels()` replaces BatchMatMul where the policy says the GEMM wins (by default all
 * but large plain products: see DEFAULT_MATMUL_POLICY), and marks it as taking transposed operands at
 * full speed, so the convolution-gradient kernels hand it theirs instead of transposing first;
 * `restoreGemmKernels()` puts the original back. Which of them the trainer places is configuration
 * (./kernel-choice.ts: GAN_KERNELS, read by the trainer).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FAST_TRANSPOSED_MATMUL } from '../kernel-scope.ts';
import { KernelPlacements } from '../placement.ts';
import { type MatMulPolicy, batchMatMulKernel } from './batch-mat-mul.ts';
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
import { conv2dBackpropInputKernel } from './conv2d-backprop-input.ts';
import { stridedConv2dKernel } from './conv2d-strided.ts';
import { type GemmVariant, bestGemmVariant } from './gemm.ts';
import { GEMM_KERNEL_NAMES, type GemmKernelName } from './kernel-choice.ts';

export { type MatMulPolicy, type MatMulShape, batchMatMulKernel } from './batch-mat-mul.ts';
export { GATHERED_MIN_CHANNELS, conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
export { conv2dBackpropInputKernel, phaseTaps, winogradPhasePlan } from './conv2d-backprop-input.ts';
export { coversStridedLayer, stridedConv2dKernel, stridedInput, stridedPhaseTaps } from './conv2d-strided.ts';
export {
  GEMM_KERNEL_NAMES,
  type GemmKernelName,
  KERNEL_CHOICES,
  type KernelChoice,
  KernelChoiceError,
  elementwiseKernelsOf,
  gemmKernelsOf,
  parseKernelChoice,
} from './kernel-choice.ts';
export {
  ELEMENTWISE_KERNEL_NAMES,
  type ElementwiseKernelName,
  registerElementwiseKernels,
  restoreElementwiseKernels,
} from './elementwise.ts';
export { Winograd } from './winograd.ts';
export {
  Gemm,
  type GemmParallel,
  GemmUnavailableError,
  type GemmVariant,
  type WasmBackendInternals,
  bestGemmVariant,
  enableRelaxedSimd,
} from './gemm.ts';

/**
 * Plain single products of at least this many multiply-adds (512³) stay on XNNPACK: there its thread
 * pool and its packed-weight cache (for a B reused across calls) can pay off; below it, on the
 * trainer's shapes, XNNPACK on 2 threads ran 1.1–35× slower than this kernel on one (it repacks B,
 * which changes every step, on every call).
 */
export const XNNPACK_MIN_MACS = 512 ** 3;

/** Transposed operands and batches (tfjs's scalar loops) and all but large plain products. */
export const DEFAULT_MATMUL_POLICY: MatMulPolicy = ({ batch, m, n, k, transposeA, transposeB }) =>
  transposeA || transposeB || batch > 1 || m * n * k < XNNPACK_MIN_MACS;

/** Every product (for tests and benchmarks). */
export const ALWAYS: MatMulPolicy = () => true;

const MARK = Symbol.for('gan-edge.gemm-kernel');
type Marked = tf.KernelFunc & { [MARK]?: GemmVariant; [FAST_TRANSPOSED_MATMUL]?: true };
const placements = new KernelPlacements(Symbol.for('gan-edge.gemm-kernel.originals'));

/** The variant of the GEMM kernel in place for `name` on `backendName`, if it is ours. */
export function gemmKernelVariant(name: string, backendName = 'wasm'): GemmVariant | undefined {
  return (tf.getKernel(name, backendName)?.kernelFunc as Marked | undefined)?.[MARK];
}

export interface GemmKernelOptions {
  backendName?: string;
  variant?: GemmVariant;
  matMulPolicy?: MatMulPolicy;
  /** The kernels to place (default: all). */
  only?: readonly GemmKernelName[];
}

/**
 * Places the kernels (replacing any earlier placement of ours), each over the kernel registered now
 * (call after registerWasmKernels: the filter gradient falls back to the project's composed one).
 * Returns the names placed.
 */
export function registerGemmKernels(options: GemmKernelOptions = {}): string[] {
  const { backendName = 'wasm', variant = bestGemmVariant(), matMulPolicy = DEFAULT_MATMUL_POLICY, only = GEMM_KERNEL_NAMES } = options;
  restoreGemmKernels(backendName);
  const placed: string[] = [];
  const place = (name: GemmKernelName, make: (original?: tf.KernelFunc) => tf.KernelFunc, marks: object = {}) => {
    if (!only.includes(name)) return;
    placements.place(name, backendName, (original): Marked => Object.assign(make(original), { [MARK]: variant }, marks));
    placed.push(name);
  };
  place('BatchMatMul', (original) => batchMatMulKernel(original, matMulPolicy, variant), { [FAST_TRANSPOSED_MATMUL]: true });
  place('Conv2DBackpropFilter', (original) => conv2dBackpropFilterKernel(original, variant));
  place('Conv2DBackpropInput', (original) => conv2dBackpropInputKernel(original, variant));
  place('Conv2D', (original) => stridedConv2dKernel('Conv2D', original, variant));
  place('FusedConv2D', (original) => stridedConv2dKernel('FusedConv2D', original, variant));
  return placed;
}

/** Puts back what `registerGemmKernels` replaced; returns the names restored. */
export function restoreGemmKernels(backendName = 'wasm'): string[] {
  return placements.restore(GEMM_KERNEL_NAMES, backendName, (config) => (config?.kernelFunc as Marked | undefined)?.[MARK] !== undefined);
}
