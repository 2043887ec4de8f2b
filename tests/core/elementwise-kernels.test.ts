/**
 * The training step's element-wise and per-channel kernels (core/asm/elementwise.ts →
 * core/src/kernels/gemm/elementwise.ts) against the cpu backend: broadcasts of a per-channel vector
 * or a scalar on either side, odd channel counts (the SIMD loops' tails), sums and means over the
 * leading axes with and without keepDims, batch norm with and without offset and scale, leaky ReLU's
 * gradient; the layouts they do not cover go to the original kernels; and a whole DCGAN step's
 * gradients with them in place.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerWasmKernels } from '@gan/core/kernels/index';
import {
  ELEMENTWISE_KERNEL_NAMES,
  Gemm,
  elementwiseKernelsOf,
  parseKernelChoice,
  registerElementwiseKernels,
  restoreElementwiseKernels,
} from '@gan/core/kernels/gemm/index';
import { on, seeded } from './backend-compare.ts';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmKernels();
});
afterAll(async () => {
  restoreElementwiseKernels();
  await tf.setBackend('cpu');
});

/** `f` on the cpu backend, then on wasm with the kernels in place: both results. */
async function bothBackends(f: () => tf.Tensor) {
  const expected = await on('cpu', () => tf.tidy(f));
  registerElementwiseKernels();
  try {
    return { expected, actual: await on('wasm', () => tf.tidy(f)) };
  } finally {
    restoreElementwiseKernels();
  }
}

function expectClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-5) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThan(tolerance);
}

const t = seeded;

describe('element-wise kernels equal the cpu backend', () => {
  const shapes: [string, number[], number[]][] = [
    ['same shapes', [2, 3, 4, 8], [2, 3, 4, 8]],
    ['a per-channel vector', [2, 3, 4, 8], [8]],
    ['a [1,1,1,C] vector', [2, 3, 4, 8], [1, 1, 1, 8]],
    ['a scalar', [2, 3, 4, 8], []],
    ['odd channels (tails)', [3, 5, 7], [7]],
  ];
  const binaries: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
  ];
  for (const [op, f] of binaries)
    it.each(shapes)(`${op}: %s, on either side`, async (_, full, other) => {
      const r1 = await bothBackends(() => f(t(full, 1), t(other, 2)));
      expectClose(r1.actual, r1.expected);
      const r2 = await bothBackends(() => f(t(other, 3), t(full, 4)));
      expectClose(r2.actual, r2.expected);
    });

  it.each(shapes)('greater and select (leaky ReLU’s gradient): %s', async (_, full, other) => {
    const r = await bothBackends(() => {
      const x = t(full, 5);
      return tf.where(tf.greater(x, t(other, 6)), x, tf.mul(x, 0.2));
    });
    expect(Array.from(r.actual)).toEqual(Array.from(r.expected));
  });

  it.each([[[64, 4, 4, 6]], [[5, 3]], [[7]]])('square, relu, leaky relu on %j', async (shape) => {
    for (const f of [tf.square, tf.relu, (x: tf.Tensor) => tf.leakyRelu(x, 0.2)]) {
      const r = await bothBackends(() => f(t(shape, 7)));
      expectClose(r.actual, r.expected, 1e-7); // the cpu backend multiplies by alpha in double precision
    }
  });

  it.each([
    ['NHWC', [8, 4, 4, 12]],
    ['odd channels', [3, 5, 7]],
    ['2-D', [100, 9]],
  ])('sum and mean over the leading axes (%s), with and without keepDims', async (_, shape) => {
    const axes = shape.slice(0, -1).map((__, i) => i);
    for (const keepDims of [false, true])
      for (const f of [tf.sum, tf.mean]) {
        const r = await bothBackends(() => f(t(shape, 8), axes, keepDims));
        expectClose(r.actual, r.expected);
      }
  });

  it('batch norm, with and without offset and scale', async () => {
    const x = () => t([4, 3, 3, 8], 9);
    const mean = () => t([8], 10);
    const variance = () => tf.add(tf.abs(t([8], 11)), 0.1);
    for (const withParameters of [true, false]) {
      const r = await bothBackends(() =>
        withParameters
          ? tf.batchNorm(x(), mean(), variance(), t([8], 12), t([8], 13), 1e-3)
          : tf.batchNorm(x(), mean(), variance(), undefined, undefined, 1e-3),
      );
      expectClose(r.actual, r.expected);
    }
  });
});

describe('what the kernels leave to the originals', () => {
  it.each([
    ['int32 operands', () => tf.mul(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([4, 5, 6], [3], 'int32'))],
    ['a two-sided broadcast', () => tf.add(t([3, 1], 1), t([1, 4], 2))],
    ['a broadcast of a middle axis', () => tf.mul(t([2, 3, 4], 1), t([3, 1], 2))],
    ['a sum over the last axis', () => tf.sum(t([4, 6], 3), 1)],
    ['a sum over every axis', () => tf.sum(t([4, 6], 4))],
    ['a select with a broadcast condition', () => tf.where(tf.tensor([true, false, true], [3], 'bool'), t([3], 5), t([3], 6))],
  ])('%s', async (_, f) => {
    const r = await bothBackends(f);
    expectClose(r.actual, r.expected);
  });

  it('GAN_KERNELS chooses whether they are used', () => {
    expect(elementwiseKernelsOf(parseKernelChoice(undefined))).toBe(true);
    for (const choice of ['tfjs', 'matmul', 'gemm']) expect(elementwiseKernelsOf(parseKernelChoice(choice))).toBe(false);
  });

  it('they run on the SIMD module, and restoring puts every original back', async () => {
    await tf.setBackend('wasm');
    const originals = ELEMENTWISE_KERNEL_NAMES.map((name) => tf.getKernel(name, 'wasm')!.kernelFunc);
    registerElementwiseKernels();
    registerElementwiseKernels();
    // Each kernel of ours reaches the module through Gemm.elementwise: moments are Mean, Sub, Square, Mean.
    const calls = vi.spyOn(Gemm.prototype, 'elementwise', 'get');
    tf.tidy(() => tf.moments(t([4, 4, 4, 8], 1), [0, 1, 2]).variance.dataSync());
    expect(calls.mock.calls.length).toBeGreaterThanOrEqual(4);
    calls.mockRestore();
    expect(restoreElementwiseKernels()).toEqual([...ELEMENTWISE_KERNEL_NAMES]);
    expect(ELEMENTWISE_KERNEL_NAMES.map((name) => tf.getKernel(name, 'wasm')!.kernelFunc)).toEqual(originals);
  });
});
