import * as tf from '@tensorflow/tfjs-core';
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { initBackend } from '@gan/worker/tf-backend';

describe('tfjs backend inside workerd', () => {
  it('is WASM with SIMD, single-threaded', async () => {
    const info = await initBackend();
    expect(tf.getBackend()).toBe('wasm');
    expect(info).toMatchObject({ backend: 'wasm', simd: true, threads: false });
    // It computes: a small matmul on the WASM kernels.
    const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    expect(Array.from(await product.data())).toEqual([11]);
  });

  it('/healthz reports it', async () => {
    const response = await SELF.fetch('https://gan.test/healthz');
    expect(response.status).toBe(200);
    const body = await response.json<Record<string, unknown>>();
    expect(body).toMatchObject({ status: 'ok', backend: 'wasm', simd: true, threads: false });
  });
});
