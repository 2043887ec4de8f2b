/** Spectral normalisation of D's convolutions: σ really is the kernel's largest singular value, u moves only in training, the layer is scale-invariant in its kernel, and D built with it has no batch norms. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '@gan/core/config';
import { buildDiscriminator } from '@gan/core/model';
import { SpectralNormConv2D } from '@gan/core/spectral-norm';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function layer(filters = 6, cin = 3) {
  const conv = new SpectralNormConv2D({
    name: 'sn',
    filters,
    kernelSize: 4,
    strides: 2,
    padding: 'same',
    kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: 3 }),
    seed: 5,
  });
  conv.build([null, 8, 8, cin]);
  return conv;
}

/** Largest singular value of a [rows, cols] matrix by a long power iteration in float64. */
function largestSingularValue(m: Float32Array, rows: number, cols: number): number {
  let v = Array.from({ length: cols }, (_, i) => Math.sin(i + 1));
  let sigma = 0;
  for (let it = 0; it < 500; it++) {
    const u = Array.from({ length: rows }, (_, r) => v.reduce((s, vc, c) => s + m[r * cols + c] * vc, 0));
    const next = Array.from({ length: cols }, (_, c) => u.reduce((s, ur, r) => s + m[r * cols + c] * ur, 0));
    const norm = Math.hypot(...next);
    sigma = Math.sqrt(norm);
    v = next.map((x) => x / norm);
  }
  return sigma;
}

const x = () => tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 9) as tf.Tensor4D;

describe('SpectralNormConv2D', () => {
  it('converges to a kernel whose largest singular value is 1, from a kernel whose is not', () => {
    const conv = layer();
    const raw = conv.getWeights()[0];
    expect(largestSingularValue(raw.dataSync() as Float32Array, 48, 6)).toBeGreaterThan(2);
    for (let i = 0; i < 30; i++) tf.tidy(() => conv.apply(x(), { training: true }) as tf.Tensor);
    const kernel = tf.tidy(() => conv.normalisedKernel(false));
    expect(largestSingularValue(kernel.dataSync() as Float32Array, 48, 6)).toBeCloseTo(1, 3);
    tf.dispose([raw, kernel]);
  });

  it("settles u at once: a new layer's normalised kernel already has largest singular value 1", () => {
    const conv = layer();
    conv.settle();
    const kernel = tf.tidy(() => conv.normalisedKernel(false));
    expect(largestSingularValue(kernel.dataSync() as Float32Array, 48, 6)).toBeCloseTo(1, 2);
    kernel.dispose();
  });

  it("passes the gradient through σ (Miyato et al.'s dW = G/σ − ⟨W, G⟩/σ² · v uᵀ for the held u, v)", () => {
    const conv = layer();
    conv.settle();
    const variable = conv.trainableWeights[0].read() as tf.Variable;
    const g = tf.randomNormal([4, 4, 3, 6], 0, 1, 'float32', 11) as tf.Tensor4D;
    // L = ⟨W / σ, G⟩, with u read (inference mode) so the same u and v hold throughout.
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(conv.normalisedKernel(false), g)) as tf.Scalar, [variable]);
    const expected = tf.tidy(() => {
      const w = tf.reshape(variable, [48, 6]) as tf.Tensor2D;
      const u = tf.reshape(conv.getWeights()[2], [1, 6]);
      const v = tf.div(tf.matMul(w, tf.transpose(u)), tf.norm(tf.matMul(w, tf.transpose(u))));
      const sigma = tf.sum(tf.mul(tf.matMul(v, u), w));
      const gm = tf.reshape(g, [48, 6]);
      const dw = tf.sub(tf.div(gm, sigma), tf.mul(tf.div(tf.sum(tf.mul(w, gm)), tf.square(sigma)), tf.matMul(v, u)));
      return tf.reshape(dw, [4, 4, 3, 6]);
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(grads[variable.name], expected))).dataSync()[0]);
    const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]);
    expect(diff).toBeLessThan(1e-4 * scale);
    tf.dispose([g, expected, grads[variable.name]]);
  });

  it('moves u in training mode only, and convolves with the normalised kernel', () => {
    const conv = layer();
    const u = () => Array.from(conv.getWeights()[2].dataSync());
    const before = u();
    const input = x();
    const inference = conv.apply(input, { training: false }) as tf.Tensor;
    expect(u()).toEqual(before);
    const expected = tf.tidy(() => tf.conv2d(input, conv.normalisedKernel(false), 2, 'same')); // the bias starts at 0
    expect(Array.from(inference.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.tidy(() => conv.apply(input, { training: true }) as tf.Tensor);
    expect(u()).not.toEqual(before);
    tf.dispose([input, inference, expected]);
  });

  it('gives the same output for a kernel scaled by 3 (it is W / σ(W)), and a gradient to the kernel', () => {
    const conv = layer();
    const input = x();
    const before = conv.apply(input, { training: false }) as tf.Tensor;
    const [kernel, bias, u] = conv.getWeights();
    conv.setWeights([tf.mul(kernel, 3), bias, u]);
    const after = conv.apply(input, { training: false }) as tf.Tensor;
    const diff = tf.max(tf.abs(tf.sub(before, after))).dataSync()[0];
    expect(diff).toBeLessThan(1e-5);
    const variable = conv.trainableWeights[0].read() as tf.Variable;
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.square(conv.apply(input, { training: true }) as tf.Tensor)) as tf.Scalar,
      [variable],
    );
    expect(tf.max(tf.abs(grads[variable.name])).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([input, before, after, kernel, bias, u, grads[variable.name]]);
  });
});

describe('a discriminator with spectral normalisation', () => {
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 };

  it.each(['planes', 'projection'] as const)(
    '(%s) normalises every convolution, with biases and no batch norms; the kernels keep their names',
    (conditioning) => {
      const plain = buildDiscriminator(config, 1, conditioning);
      const normalised = buildDiscriminator(config, 1, conditioning, { spectralNorm: true });
      const names = (d: tfl.LayersModel) => d.weights.map((w) => w.originalName);
      expect(names(normalised).filter((n) => n.includes('_bn'))).toEqual([]);
      expect(
        names(normalised)
          .filter((n) => n.endsWith('/sn_u'))
          .sort(),
      ).toEqual(['down1/sn_u', 'down2/sn_u', 'score/sn_u']);
      const kernels = (d: tfl.LayersModel) => names(d).filter((n) => n.endsWith('/kernel'));
      expect(kernels(normalised)).toEqual(kernels(plain));
      plain.dispose();
      normalised.dispose();
    },
  );
});
