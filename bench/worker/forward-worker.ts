/**
 * A benchmark-only Worker: the serving generator (FastGenerator on the WASM SIMD backend, set up by
 * the worker's own tf-backend.ts) on the reference architecture with fixed pseudo-random weights, no
 * R2. GET /?batch=N&reps=K answers the milliseconds of K forward passes, timed inside workerd (locally
 * its clock advances during CPU work; in production it would not). `&kernels=tfjs` runs them on the
 * backend's own kernels (XNNPACK) instead of the project's GanSubPixelConv, for comparisons.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FastGenerator, REFERENCE_CONFIG, generatorChannels, generatorInput, latentFromSeed } from '@gan/core';
import { generatorLayerNames } from '@gan/core/config';
import { SUB_PIXEL_CONV, registerWasmKernels, restoreWasmKernels } from '@gan/core/kernels/index';
import { initBackend } from '@gan/worker/tf-backend';

function values(size: number, seed: number, scale: number, offset = 0): Float32Array {
  let s = (seed * 2654435761) | 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    return offset + (((s >>> 8) / (1 << 24)) * 2 - 1) * scale;
  });
}

function referenceWeights(): tf.NamedTensorMap {
  const config = REFERENCE_CONFIG;
  const names = generatorLayerNames(config);
  const channels = generatorChannels(config);
  const w: tf.NamedTensorMap = {};
  const layers = [names.project, ...names.hidden, names.output];
  layers.forEach((name, i) => {
    const cin = i === 0 ? config.latentSize : channels[i - 1];
    const cout = channels[i];
    w[`${name}/kernel`] = tf.tensor4d(values(16 * cin * cout, i + 1, 0.03), [4, 4, cout, cin]);
    if (name !== names.output) {
      const bn = names.bn(name);
      w[`${bn}/gamma`] = tf.tensor1d(values(cout, 10 + i, 0.02, 1));
      w[`${bn}/beta`] = tf.tensor1d(values(cout, 20 + i, 0.1));
      w[`${bn}/moving_mean`] = tf.tensor1d(values(cout, 30 + i, 0.2));
      w[`${bn}/moving_variance`] = tf.tensor1d(values(cout, 40 + i, 0.5, 1));
    }
  });
  return w;
}

let generator: FastGenerator | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    await initBackend();
    generator ??= FastGenerator.fromWeights(REFERENCE_CONFIG, referenceWeights());
    const url = new URL(request.url);
    const batch = Number(url.searchParams.get('batch') ?? 1);
    const reps = Number(url.searchParams.get('reps') ?? 10);
    if (url.searchParams.get('kernels') === 'tfjs') restoreWasmKernels();
    else registerWasmKernels('wasm', [SUB_PIXEL_CONV]);
    const input = generatorInput(
      REFERENCE_CONFIG,
      Array.from({ length: batch }, (_, i) => latentFromSeed(`w${i}`, REFERENCE_CONFIG.latentSize)),
    );
    generator.forward(input).dispose();
    // workerd's clock is coarse (whole milliseconds): time groups of calls and report the mean of each.
    const group = Math.max(1, Math.min(reps, Math.ceil(20 / batch)));
    const ms: number[] = [];
    for (let done = 0; done < reps; done += group) {
      const t0 = performance.now();
      for (let i = 0; i < group; i++) {
        const y = generator.forward(input);
        y.dataSync();
        y.dispose();
      }
      ms.push((performance.now() - t0) / group);
    }
    input.dispose();
    return Response.json({ ms, backend: tf.getBackend() });
  },
};
