/**
 * Which of the project's training kernels the wasm backend gets, as configuration (the trainer reads
 * it from GAN_KERNELS; nothing in core reads the environment):
 *
 * - `all`: the GEMM kernels and the element-wise ones (the default);
 * - `gemm`: the GEMM kernels only (matrix products, convolution forms, filter gradient);
 * - `matmul`: BatchMatMul only (the filter gradient on XNNPACK's convolution);
 * - `tfjs`: none, tfjs's own kernels (the composed filter gradient aside).
 *
 * Any other value is an error, not a silent `all`: a typo must not change what a benchmark measures.
 */
/** The kernels `registerGemmKernels` can place (./index.ts). */
export const GEMM_KERNEL_NAMES = ['BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Conv2D', 'FusedConv2D'] as const;
export type GemmKernelName = (typeof GEMM_KERNEL_NAMES)[number];

export const KERNEL_CHOICES = ['all', 'gemm', 'matmul', 'tfjs'] as const;
export type KernelChoice = (typeof KERNEL_CHOICES)[number];

export class KernelChoiceError extends Error {
  override name = 'KernelChoiceError';
}

/** A choice as written (case-insensitive; absent or empty: `all`); `source` names it in the error. */
export function parseKernelChoice(value: string | undefined, source = 'GAN_KERNELS'): KernelChoice {
  const choice = (value ?? '').trim().toLowerCase() || 'all';
  if ((KERNEL_CHOICES as readonly string[]).includes(choice)) return choice as KernelChoice;
  throw new KernelChoiceError(`${source} must be one of ${KERNEL_CHOICES.join(', ')} (or unset for all), not ${JSON.stringify(value)}`);
}

/** The GEMM kernels a choice places. */
export function gemmKernelsOf(choice: KernelChoice): readonly GemmKernelName[] {
  if (choice === 'tfjs') return [];
  if (choice === 'matmul') return ['BatchMatMul'];
  return GEMM_KERNEL_NAMES;
}

/** Whether a choice places the element-wise kernels. */
export const elementwiseKernelsOf = (choice: KernelChoice): boolean => choice === 'all';
