/**
 * The benchmarked generator: the reference architecture with seeded weights and non-trivial batch
 * norm statistics (so folding is exercised), the same weights on every backend and in PyTorch, and
 * the pre-optimisation form of the fast generator (one 3x3 convolution with 4·C outputs per layer,
 * then DepthToSpace) as the "before" of the serving path.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type ModelConfig, FastGenerator, REFERENCE_CONFIG, generatorChannels, subPixelKernel } from '@gan/core';
import { buildGenerator, generatorLayerNames } from '@gan/core/model';
import { writeFileSync } from 'node:fs';
import { b64 } from './pytorch.ts';

export const CONFIG: ModelConfig = REFERENCE_CONFIG;

/** Deterministic pseudo-random values (a hash of the index), so every backend sees the same numbers. */
export function values(size: number, seed: number, scale = 1): Float32Array {
  let s = (seed * 2654435761) | 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    return (((s >>> 8) / (1 << 24)) * 2 - 1) * scale;
  });
}

/** Named weights of the reference generator (tfjs layer names), built once on the cpu backend. */
export function referenceWeights(): Map<string, { shape: number[]; data: Float32Array }> {
  const g = buildGenerator(CONFIG, 1);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const w of g.weights) {
    const shape = w.shape as number[];
    let data = w.read().dataSync() as Float32Array;
    const size = data.length;
    if (/moving_variance/.test(w.originalName)) data = values(size, 11, 0.5).map((v) => 1 + v);
    if (/moving_mean/.test(w.originalName)) data = values(size, 12, 0.2);
    if (/beta/.test(w.originalName)) data = values(size, 13, 0.1);
    out.set(w.originalName, { shape, data: Float32Array.from(data) });
  }
  g.dispose();
  return out;
}

export function writeWeightsForPyTorch(weights: ReturnType<typeof referenceWeights>, path: string): void {
  const json = Object.fromEntries([...weights].map(([name, w]) => [name, { shape: w.shape, data: b64(w.data) }]));
  writeFileSync(path, JSON.stringify(json));
}

/** Tensors of the weights on the current backend. */
export function namedTensors(weights: ReturnType<typeof referenceWeights>): tf.NamedTensorMap {
  return Object.fromEntries([...weights].map(([name, w]) => [name, tf.tensor(w.data, w.shape)]));
}

/** The layers model with these weights, on the current backend. */
export function layersGenerator(weights: ReturnType<typeof referenceWeights>): tfl.LayersModel {
  const g = buildGenerator(CONFIG, 1);
  for (const w of g.weights) w.write(tf.tensor(weights.get(w.originalName)!.data, w.shape as number[]));
  return g;
}

/** The serving path as first written: per layer one 3x3 convolution to 4·C channels, then DepthToSpace. */
export class SubPixel3x3Generator {
  private readonly fast: FastGenerator;
  private readonly stages: { filter: tf.Tensor4D; bias: tf.Tensor1D; relu: boolean }[];

  constructor(weights: tf.NamedTensorMap) {
    // The folded projection (layer 0) is the same in both forms; reuse FastGenerator's for it.
    this.fast = FastGenerator.fromWeights(CONFIG, weights);
    const names = generatorLayerNames(CONFIG);
    const channels = generatorChannels(CONFIG);
    this.stages = [...names.hidden, names.output].map((name, i) => {
      const cin = channels[i];
      const cout = channels[i + 1];
      const isOutput = name === names.output;
      const k = weights[`${name}/kernel`].dataSync() as Float32Array;
      let scale: Float32Array | undefined;
      const bias = new Float32Array(4 * cout);
      if (!isOutput) {
        const get = (w: string) => weights[`${names.bn(name)}/${w}`].dataSync() as Float32Array;
        const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(get);
        scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + 1e-5));
        for (let p = 0; p < 4; p++) for (let c = 0; c < cout; c++) bias[p * cout + c] = beta[c] - mean[c] * scale[c];
      }
      return {
        filter: tf.tensor4d(subPixelKernel(k, cin, cout, scale), [3, 3, cin, 4 * cout]),
        bias: tf.tensor1d(bias),
        relu: !isOutput,
      };
    });
  }

  forward(input: tf.Tensor2D): tf.Tensor4D {
    const p = this.fast as unknown as { projectWeight: tf.Tensor2D; projectBias: tf.Tensor1D };
    return tf.tidy(() => {
      const n = input.shape[0];
      const c0 = p.projectBias.shape[0] / 16;
      let x = tf.reshape(tf.fused.matMul({ a: input, b: p.projectWeight, bias: p.projectBias, activation: 'relu' }), [
        n,
        4,
        4,
        c0,
      ]) as tf.Tensor4D;
      for (const s of this.stages) {
        x = tf.depthToSpace(
          tf.fused.conv2d({ x, filter: s.filter, strides: 1, pad: 'same', bias: s.bias, activation: s.relu ? 'relu' : 'linear' }),
          2,
        );
      }
      return tf.tanh(x);
    });
  }
}
