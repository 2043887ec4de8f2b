/**
 * A training step's element-wise and per-channel kernels on the project's SIMD module
 * (core/asm/elementwise.ts, in the GEMM's `.wasm`) for the tfjs `wasm` backend.
 *
 * Batch norm's moments, normalisation and gradient and leaky ReLU's gradient were ~25 % of a training
 * iteration (bench/profile-train.ts): tfjs's WASM build runs them single-threaded as scalar loops, its
 * broadcasts with index arithmetic per element, its sums over the leading axes after a transpose.
 * Each kernel here handles the layouts a DCGAN step uses (float32; operands full, a per-channel
 * vector or a scalar; sums and means over every axis but the last; a select of three equal shapes)
 * and hands anything else to the kernel it replaces.
 */
import * as tf from '@tensorflow/tfjs-core';
import { KernelPlacements } from '../placement.ts';
import { Gemm, type GemmVariant, OP_ADD, type WasmBackendInternals } from './gemm.ts';

export const ELEMENTWISE_KERNEL_NAMES = [
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Greater',
  'Select',
  'Square',
  'LeakyRelu',
  'Relu',
  'Sum',
  'Mean',
  'FusedBatchNorm',
] as const;
export type ElementwiseKernelName = (typeof ELEMENTWISE_KERNEL_NAMES)[number];

/** core/asm/elementwise.ts's OP_* and UNARY_*. */
const BINARY_OPS = { Add: OP_ADD, Sub: 1, Multiply: 2, RealDiv: 3 } as const;
const UNARY_KINDS = { Square: 0, LeakyRelu: 1, Relu: 2 } as const;

type Args = Parameters<tf.KernelFunc>[0];

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** How an operand lines up with an output of `shape`: full, a per-channel vector, a scalar, or not at all. */
function operandLayout(operand: number[], shape: number[]): 'full' | 'channels' | 'scalar' | undefined {
  if (sameShape(operand, shape)) return 'full';
  if (size(operand) === 1) return 'scalar';
  const c = shape[shape.length - 1];
  if (operand.length <= shape.length && operand[operand.length - 1] === c && size(operand) === c) return 'channels';
  return undefined;
}

/** Runs `body` with both operands as rows of c floats (a scalar spread into a vector of c). */
class Operands {
  constructor(
    private readonly gemm: Gemm,
    private readonly wasm: WasmBackendInternals,
    private readonly backend: tf.KernelBackend,
  ) {}

  offsetOf(t: tf.TensorInfo): number {
    return this.wasm.dataIdMap.get(t.dataId)!.memoryOffset;
  }

  /** `body(aOffset, aFull, bOffset, bFull)`, with a scalar operand spread over c floats. */
  run(
    a: tf.TensorInfo,
    aLayout: 'full' | 'channels' | 'scalar',
    b: tf.TensorInfo,
    bLayout: 'full' | 'channels' | 'scalar',
    c: number,
    body: (aAt: number, aFull: number, bAt: number, bFull: number) => void,
  ): void {
    const scalar = aLayout === 'scalar' ? a : bLayout === 'scalar' ? b : undefined;
    if (!scalar) {
      body(this.offsetOf(a), aLayout === 'full' ? 1 : 0, this.offsetOf(b), bLayout === 'full' ? 1 : 0);
      return;
    }
    const value = (this.backend.readSync(scalar.dataId) as Float32Array)[0];
    this.gemm.withBuffer(c * 4, (spread) => {
      this.gemm.floats(spread, c).fill(value);
      const at = (t: tf.TensorInfo, layout: string) => (layout === 'scalar' ? spread : this.offsetOf(t));
      body(at(a, aLayout), aLayout === 'full' ? 1 : 0, at(b, bLayout), bLayout === 'full' ? 1 : 0);
    });
  }
}

function context(args: Args, variant: GemmVariant | undefined) {
  const wasm = args.backend as unknown as WasmBackendInternals;
  const gemm = Gemm.of(wasm, variant);
  return { wasm, gemm, operands: new Operands(gemm, wasm, args.backend as tf.KernelBackend) };
}

function binaryKernel(name: keyof typeof BINARY_OPS | 'Greater', variant: GemmVariant | undefined, original: tf.KernelFunc) {
  return (args: Args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const aLayout = operandLayout(a.shape, shape);
    const bLayout = operandLayout(b.shape, shape);
    if (shape.length === 0 || !aLayout || !bLayout || (aLayout !== 'full' && bLayout !== 'full')) return original(args);
    const { wasm, gemm, operands } = context(args, variant);
    const c = shape[shape.length - 1];
    const rows = size(shape) / c;
    const out = wasm.makeOutput(shape, name === 'Greater' ? 'bool' : 'float32');
    const outAt = operands.offsetOf(out);
    operands.run(a, aLayout, b, bLayout, c, (aAt, aFull, bAt, bFull) => {
      if (name === 'Greater') gemm.elementwise.greater(aAt, aFull, bAt, bFull, outAt, rows, c);
      else gemm.elementwise.binary(BINARY_OPS[name], aAt, aFull, bAt, bFull, outAt, rows, c);
    });
    return out;
  };
}

function unaryKernel(name: keyof typeof UNARY_KINDS, variant: GemmVariant | undefined, original: tf.KernelFunc) {
  return (args: Args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return original(args);
    const { wasm, gemm, operands } = context(args, variant);
    const out = wasm.makeOutput(x.shape, 'float32');
    const alpha = name === 'LeakyRelu' ? (args.attrs as unknown as tf.LeakyReluAttrs).alpha : 0;
    gemm.elementwise.unary(UNARY_KINDS[name], operands.offsetOf(x), operands.offsetOf(out), size(x.shape), alpha);
    return out;
  };
}

function selectKernel(variant: GemmVariant | undefined, original: tf.KernelFunc) {
  return (args: Args) => {
    const { condition, t, e } = args.inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
    const fits =
      condition.dtype === 'bool' &&
      t.dtype === 'float32' &&
      e.dtype === 'float32' &&
      sameShape(condition.shape, t.shape) &&
      sameShape(t.shape, e.shape);
    if (!fits) return original(args);
    const { wasm, gemm, operands } = context(args, variant);
    const out = wasm.makeOutput(t.shape, 'float32');
    const at = (x: tf.TensorInfo) => operands.offsetOf(x);
    gemm.elementwise.select(at(condition), at(t), at(e), at(out), size(t.shape));
    return out;
  };
}

/** Sum and Mean over every axis but the last (batch norm's moments and gradient). */
function channelReductionKernel(name: 'Sum' | 'Mean', variant: GemmVariant | undefined, original: tf.KernelFunc) {
  return (args: Args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = [...tf.util.parseAxisParam(axis, x.shape)].sort((p, q) => p - q);
    const leading = axes.length === rank - 1 && axes.every((d, i) => d === i);
    if (x.dtype !== 'float32' || rank < 2 || !leading) return original(args);
    const { wasm, gemm, operands } = context(args, variant);
    const c = x.shape[rank - 1];
    const rows = size(x.shape) / c;
    const out = wasm.makeOutput(keepDims ? [...x.shape.slice(0, -1).map(() => 1), c] : [c], 'float32');
    gemm.elementwise.channelSums(operands.offsetOf(x), rows, c, name === 'Mean' ? rows : 1, operands.offsetOf(out));
    return out;
  };
}

function batchNormKernel(variant: GemmVariant | undefined, original: tf.KernelFunc) {
  return (args: Args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
    if (!x || !mean || !variance || x.dtype !== 'float32' || x.shape.length === 0) return original(args);
    const c = x.shape[x.shape.length - 1];
    const vectors = [mean, variance, offset, scale].filter((v): v is tf.TensorInfo => v !== undefined);
    if (!vectors.every((v) => v.dtype === 'float32' && operandLayout(v.shape, x.shape) === 'channels')) return original(args);
    const { wasm, gemm, operands } = context(args, variant);
    const out = wasm.makeOutput(x.shape, 'float32');
    const at = (t: tf.TensorInfo | undefined) => (t ? operands.offsetOf(t) : 0);
    gemm.withBuffer(8 * c, (work) =>
      gemm.elementwise.batchNorm(
        at(x),
        size(x.shape) / c,
        c,
        at(mean),
        at(variance),
        at(offset),
        at(scale),
        varianceEpsilon,
        at(out),
        work,
        work + 4 * c,
      ),
    );
    return out;
  };
}

const MARK = Symbol.for('gan-edge.elementwise-kernel');
type Marked = tf.KernelFunc & { [MARK]?: string };
const placements = new KernelPlacements(Symbol.for('gan-edge.elementwise-kernel.originals'));

/**
 * Places the kernels over those registered now for `backendName` (replacing an earlier placement of
 * ours); returns the names placed.
 */
export function registerElementwiseKernels(options: { backendName?: string; variant?: GemmVariant } = {}): string[] {
  const { backendName = 'wasm', variant } = options;
  restoreElementwiseKernels(backendName);
  const placed: string[] = [];
  for (const name of ELEMENTWISE_KERNEL_NAMES) {
    placements.place(name, backendName, (original) => {
      if (!original) throw new Error(`kernel ${name} is not registered for ${backendName}`);
      const kernel =
        name === 'Greater' || name in BINARY_OPS
          ? binaryKernel(name as keyof typeof BINARY_OPS | 'Greater', variant, original)
          : name in UNARY_KINDS
            ? unaryKernel(name as keyof typeof UNARY_KINDS, variant, original)
            : name === 'Select'
              ? selectKernel(variant, original)
              : name === 'FusedBatchNorm'
                ? batchNormKernel(variant, original)
                : channelReductionKernel(name as 'Sum' | 'Mean', variant, original);
      return Object.assign(kernel, { [MARK]: variant ?? 'default' }) as Marked;
    });
    placed.push(name);
  }
  return placed;
}

/** Puts back what `registerElementwiseKernels` replaced; returns the names restored. */
export function restoreElementwiseKernels(backendName = 'wasm'): string[] {
  return placements.restore(
    ELEMENTWISE_KERNEL_NAMES,
    backendName,
    (config) => (config?.kernelFunc as Marked | undefined)?.[MARK] !== undefined,
  );
}
