/**
 * BatchMatMul on the AssemblyScript GEMM, transposed operands included (tfjs 4.22's WASM kernel runs
 * those, and batches of more than one, as scalar loops; XNNPACK only the plain B = 1 product).
 * Batch dimensions broadcast where one side has a single matrix; other broadcasts, non-float inputs,
 * and products `use` declines go to the backend's original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Gemm, type GemmVariant, type WasmBackendInternals } from './gemm.ts';

export interface MatMulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
}

/** Which products go to the AssemblyScript kernel (the rest to the original). */
export type MatMulPolicy = (shape: MatMulShape) => boolean;

const product = (dims: number[]) => dims.reduce((p, d) => p * d, 1);

export function batchMatMulKernel(original: tf.KernelFunc | undefined, use: MatMulPolicy, variant?: GemmVariant): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (k !== kb) throw new Error(`BatchMatMul: inner dimensions ${k} and ${kb} differ (shapes ${a.shape} and ${b.shape})`);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = product(outer);
    const batchA = product(a.shape.slice(0, -2));
    const batchB = product(b.shape.slice(0, -2));
    const fits = a.dtype === 'float32' && b.dtype === 'float32' && (batchA === batch || batchA === 1) && (batchB === batch || batchB === 1);
    if (!fits || !use({ batch, m, n, k, transposeA, transposeB })) {
      if (!original) throw new Error('BatchMatMul: no original kernel for this product');
      return original(args);
    }
    const wasm = backend as unknown as WasmBackendInternals;
    const gemm = Gemm.of(wasm, variant);
    const out = wasm.makeOutput([...outer, m, n], 'float32');
    const aAt = wasm.dataIdMap.get(a.dataId)!.memoryOffset;
    const bAt = wasm.dataIdMap.get(b.dataId)!.memoryOffset;
    const cAt = wasm.dataIdMap.get(out.dataId)!.memoryOffset;
    // Stored A is [m, k] or, transposed, [k, m]; stored B [k, n] or [n, k].
    const aStrides = transposeA ? { row: 1, col: m } : { row: k, col: 1 };
    const bStrides = transposeB ? { row: 1, col: k } : { row: n, col: 1 };
    for (let i = 0; i < batch; i++) {
      const aOffset = aAt + (batchA === 1 ? 0 : i * m * k * 4);
      const bOffset = bAt + (batchB === 1 ? 0 : i * k * n * 4);
      gemm.run(m, n, k, { offset: aOffset, ...aStrides }, { offset: bOffset, ...bStrides }, cAt + i * m * n * 4, n);
    }
    return out;
  };
}
