import * as tf from '@tensorflow/tfjs-core';
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type ModelConfig, FastGenerator, generatorChannels, generatorInput, latentFromSeed } from '@gan/core';
import { generatorLayerNames } from '@gan/core/config';
import { SUB_PIXEL_CONV, registerWasmKernels, restoreWasmKernels } from '@gan/core/kernels/index';
import { initBackend } from '@gan/worker/tf-backend';
import { GOLDEN_WIDE_FORWARD, wideForwardSha256 } from './golden.ts';

describe('tfjs backend inside workerd', () => {
  it('is WASM with SIMD, single-threaded', async () => {
    const info = await initBackend();
    expect(tf.getBackend()).toBe('wasm');
    expect(info).toMatchObject({ backend: 'wasm', simd: true, threads: false });
    // It computes: a small matmul on the WASM kernels.
    const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    expect(Array.from(await product.data())).toEqual([11]);
  });

  it("runs the generator's layers on the project's GEMM (the bundled plain-SIMD module), as XNNPACK would within float tolerance", async () => {
    await initBackend();
    expect(tf.getKernel(SUB_PIXEL_CONV, 'wasm')).toBeDefined();
    // Wide enough for both forms: Winograd (2x2 filters, 16+ channels) and im2col (the image layer).
    const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 6, generatorWidth: 16, discriminatorWidth: 4, numClasses: 0 };
    const names = generatorLayerNames(config);
    const channels = generatorChannels(config);
    const weights: tf.NamedTensorMap = {};
    [names.project, ...names.hidden, names.output].forEach((name, i) => {
      const cin = i === 0 ? config.latentSize : channels[i - 1];
      weights[`${name}/kernel`] = tf.randomUniform([4, 4, channels[i], cin], -0.2, 0.2, 'float32', i + 1);
      if (name === names.output) return;
      for (const [w, value] of [
        ['gamma', 1],
        ['beta', 0],
        ['moving_mean', 0],
        ['moving_variance', 1],
      ] as const) {
        weights[`${names.bn(name)}/${w}`] = tf.fill([channels[i]], value);
      }
    });
    const generator = FastGenerator.fromWeights(config, weights);
    tf.dispose(Object.values(weights));
    const input = generatorInput(config, [latentFromSeed('a', 6), latentFromSeed('b', 6)]);
    const run = () => tf.tidy(() => generator.forward(input)).dataSync() as Float32Array;
    const { kernels } = await tf.profile(run);
    expect(kernels.filter((k) => k.name === SUB_PIXEL_CONV)).toHaveLength(2);
    const ours = run();
    restoreWasmKernels();
    try {
      const xnnpack = run();
      expect(Math.max(...ours.map((v, i) => Math.abs(v - xnnpack[i])))).toBeLessThan(1e-5);
      expect(new Set(ours).size).toBeGreaterThan(100);
    } finally {
      registerWasmKernels('wasm', [SUB_PIXEL_CONV]);
      generator.dispose();
      input.dispose();
    }
  });

  it('computes the pinned bits of a wide generator (Winograd and im2col layers), as `gan sample` does in Node', async () => {
    await initBackend();
    expect(await wideForwardSha256()).toBe(GOLDEN_WIDE_FORWARD);
  });

  it('/healthz reports it', async () => {
    const response = await SELF.fetch('https://gan.test/healthz');
    expect(response.status).toBe(200);
    const body = await response.json<Record<string, unknown>>();
    expect(body).toMatchObject({ status: 'ok', backend: 'wasm', simd: true, threads: false });
  });
});
