/**
 * The GEMM's helper threads (core/src/kernels/gemm/threads.ts) on the trainer's threaded WASM build:
 * the trainer starts them, large products and Winograd convolutions are split over them, and every
 * result has the same bits as on the calling thread alone; a failure on a helper is an error, not a
 * hang. (cli.test.ts trains a whole run on two threads against one.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Gemm, type GemmParallel, type WasmBackendInternals, bestGemmVariant } from '@gan/core/kernels/gemm/index';
import { GemmThreadError, startGemmThreads } from '@gan/core/kernels/gemm/threads';
import { selectBackend } from '@gan/trainer/backend';
import { values } from '../core/backend-compare.ts';

let gemm: Gemm;
let parallel: GemmParallel;

beforeAll(async () => {
  const selection = await selectBackend('wasm', { threads: 2 });
  expect(selection.threads).toBe(2);
  gemm = Gemm.of(tf.backend() as unknown as WasmBackendInternals, bestGemmVariant());
  parallel = (gemm as unknown as { parallel: GemmParallel }).parallel;
});
afterAll(() => gemm.useParallel(parallel));

/** `compute` on one thread and then on the helpers too: both results, and the parts the helpers ran. */
function bothWays(compute: () => tf.Tensor) {
  gemm.useParallel(undefined);
  const one = tf.tidy(compute);
  gemm.useParallel(parallel);
  const run = vi.spyOn(parallel, 'run');
  const two = tf.tidy(compute);
  const parts = run.mock.calls.map(([name, calls]) => `${name}×${calls.length}`);
  run.mockRestore();
  const result = { one: Array.from(one.dataSync()), two: Array.from(two.dataSync()), parts };
  tf.dispose([one, two]);
  return result;
}

describe('the GEMM on helper threads', () => {
  it('the trainer starts one helper per extra thread', () => {
    expect(parallel?.count).toBe(2);
  });

  it('the input gradient (Winograd) has the same bits on two threads as on one', () => {
    const dy = tf.tensor4d(values(16 * 8 * 8 * 64, 1), [16, 8, 8, 64]);
    const filter = tf.tensor4d(values(4 * 4 * 32 * 64, 2), [4, 4, 32, 64]);
    const r = bothWays(() => tf.conv2dTranspose(dy, filter, [16, 16, 16, 32], 2, 'same'));
    expect(r.parts).toEqual(['winograd×2', 'winograd×2', 'winograd×2', 'winograd×2']);
    expect(r.two).toEqual(r.one);
    tf.dispose([dy, filter]);
  });

  it('the strided convolution and its filter gradient (Winograd over input phases) have the same bits on two threads as on one', () => {
    const x = tf.tensor4d(values(16 * 16 * 16 * 32, 9), [16, 16, 16, 32]);
    const filter = tf.tensor4d(values(4 * 4 * 32 * 64, 10), [4, 4, 32, 64]);
    const r = bothWays(() => tf.conv2d(x, filter, 2, 'same'));
    expect(r.parts).toEqual(['winogradPhases×2']);
    expect(r.two).toEqual(r.one);
    const dy = tf.tensor4d(values(16 * 8 * 8 * 64, 11), [16, 8, 8, 64]);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [4, 4, 32, 64] };
    const g = bothWays(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor);
    expect(g.parts).toEqual(['winogradFilterGradient×2']);
    expect(g.two).toEqual(g.one);
    tf.dispose([x, filter, dy]);
  });

  it('the per-tap filter gradient and transposed matrix products have the same bits on two threads as on one', () => {
    // 3x3 stride 1: the per-tap form (the stride-2 4x4 layers take Winograd's, above).
    const x = tf.tensor4d(values(32 * 16 * 16 * 32, 3), [32, 16, 16, 32]);
    const dy = tf.tensor4d(values(32 * 16 * 16 * 64, 4), [32, 16, 16, 64]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 32, 64] };
    const filterGrad = bothWays(
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
    expect(filterGrad.parts.length).toBe(9); // one product per filter tap, each split
    expect(filterGrad.parts.every((p) => p === 'gemm×2')).toBe(true);
    expect(filterGrad.two).toEqual(filterGrad.one);

    const a = tf.tensor2d(values(512 * 300, 5), [512, 300]);
    const b = tf.tensor2d(values(200 * 512, 6), [200, 512]);
    const product = bothWays(() => tf.matMul(a, b, true, true));
    expect(product.parts).toEqual(['gemm×2']);
    expect(product.two).toEqual(product.one);
    tf.dispose([x, dy, a, b]);
  });

  it('small products stay on the calling thread', () => {
    const a = tf.tensor2d(values(16 * 16, 7), [16, 16]);
    const r = bothWays(() => tf.matMul(a, a, true, false));
    expect(r.parts).toEqual([]);
    expect(r.two).toEqual(r.one);
    a.dispose();
  });

  it('a part that fails on a helper thread is an error on the calling thread', () => {
    // A product whose output lies beyond the end of the memory traps in every part.
    const beyond = (gemm as unknown as { memory: WebAssembly.Memory }).memory.buffer.byteLength;
    expect(() => gemm.run(64, 256, 512, { offset: 0, row: 512, col: 1 }, { offset: 0, row: 256, col: 1 }, beyond, 256)).toThrow();
    // …and the helpers still work afterwards.
    const a = tf.tensor2d(values(256 * 256, 8), [256, 256]);
    const r = bothWays(() => tf.matMul(a, a, true, false));
    expect(r.two).toEqual(r.one);
    a.dispose();
  });

  describe('a helper thread that dies fails its caller instead of hanging it', () => {
    type Worker = import('node:worker_threads').Worker;
    /**
     * Starts fresh helpers that are waited for at most `timeoutMs`, ends the helper's thread with
     * `kill`, then hands `check` a product split over the helpers; the trainer's helpers come back after.
     */
    async function withEndedHelper(timeoutMs: number, kill: (worker: Worker) => Promise<void>, check: (product: () => void) => void) {
      const stop = await startGemmThreads(gemm, 2, { timeoutMs });
      const fresh = (gemm as unknown as { parallel: { helpers: { worker: Worker }[] } }).parallel;
      const a = tf.tensor2d(values(256 * 256, 9), [256, 256]);
      try {
        await kill(fresh.helpers[0].worker);
        check(() => tf.tidy(() => void tf.matMul(a, a, true, false).dataSync()));
      } finally {
        a.dispose();
        stop();
        gemm.useParallel(parallel);
      }
    }

    it('an exit the caller has seen: the next call fails at once', async () => {
      await withEndedHelper(
        60_000,
        async (worker) => void (await worker.terminate()),
        (product) => expect(product).toThrow(/helper thread has ended \(exit code/),
      );
    });

    it('an exit the caller could not see (it was waiting): the call fails after the timeout, and the helper gets no more parts', async () => {
      await withEndedHelper(
        300,
        async (worker) => {
          worker.removeAllListeners('exit');
          worker.removeAllListeners('error');
          await worker.terminate();
        },
        (product) => {
          expect(product).toThrow(GemmThreadError);
          expect(product).toThrow(/helper thread has ended \(did not finish a part in 300 ms\)/);
        },
      );
    });
  });
});
