import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, FastGenerator, generatorInput, latentFromSeed } from '@gan/core';
import { buildGenerator } from '@gan/core/model';
import { ResizeConv2D, asTransposedWeight, resizeConvAsTransposed } from '@gan/core/resize-conv';
import * as tfl from '@tensorflow/tfjs-layers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];

describe('resize-convolution upsampling of the generator', () => {
  it('one stage (nearest ×2, then a 3x3 convolution) equals the stride-2 transposed convolution of the summed kernel', () => {
    const [cin, cout, h] = [3, 5, 6];
    const k3 = tf.randomNormal([3, 3, cin, cout], 0, 1, 'float32', 11) as tf.Tensor4D;
    const x = tf.randomNormal([2, h, h, cin], 0, 1, 'float32', 12) as tf.Tensor4D;
    const expected = tf.conv2d(tf.image.resizeNearestNeighbor(x, [2 * h, 2 * h]), k3, 1, 'same');
    const k4 = tf.tensor4d(resizeConvAsTransposed(k3.dataSync() as Float32Array, cin, cout), [4, 4, cout, cin]);
    const actual = tf.conv2dTranspose(x, k4, [2, 2 * h, 2 * h, cout], 2, 'same');
    expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-5);
  });

  it('the ResizeConv2D layer computes nearest ×2 then the 3x3 convolution, with the same gradients for its kernel and input', () => {
    const [cin, cout, h] = [4, 3, 5];
    const layer = new ResizeConv2D({
      name: 'up',
      filters: cout,
      kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 1, seed: 7 }),
    });
    const x = tf.randomNormal([2, h, h, cin], 0, 1, 'float32', 13) as tf.Tensor4D;
    const y = layer.apply(x) as tf.Tensor4D;
    const [kernel] = layer.getWeights() as tf.Tensor4D[];
    expect(kernel.shape).toEqual([3, 3, cin, cout]);
    expect(layer.weights[0].originalName).toBe('up/kernel');
    // Nearest ×2 by stacking: the cpu backend's ResizeNearestNeighborGrad is wrong where the upstream
    // gradient varies (the WASM backend's is right), so the reference gradient must not go through it.
    const upsample = (xi: tf.Tensor4D) => {
      const columns = tf.reshape(tf.stack([xi, xi], 3), [2, h, 2 * h, cin]);
      return tf.reshape(tf.stack([columns, columns], 2), [2, 2 * h, 2 * h, cin]) as tf.Tensor4D;
    };
    expect(maxAbsDiff(upsample(x), tf.image.resizeNearestNeighbor(x, [2 * h, 2 * h]))).toBe(0);
    const reference = (xi: tf.Tensor4D, k: tf.Tensor4D) => tf.conv2d(upsample(xi), k, 1, 'same');
    expect(y.shape).toEqual([2, 2 * h, 2 * h, cout]);
    expect(maxAbsDiff(y, reference(x, kernel))).toBeLessThan(1e-4);
    // d(sum of squares)/d(kernel, input) through the layer equals that through the reference
    const weight = tf.randomNormal([2, 2 * h, 2 * h, cout], 0, 1, 'float32', 14);
    const lossOf = (out: tf.Tensor) => tf.sum(tf.mul(out, weight)) as tf.Scalar;
    const [dxRef, dkRef] = tf.grads((xi: tf.Tensor, k: tf.Tensor) => lossOf(reference(xi as tf.Tensor4D, k as tf.Tensor4D)))([x, kernel]);
    const { value, grads } = tf.variableGrads(() => lossOf(layer.apply(x) as tf.Tensor), [layer.weights[0].read() as tf.Variable]);
    expect(maxAbsDiff(Object.values(grads)[0], dkRef)).toBeLessThan(1e-3);
    expect(maxAbsDiff(tf.grad((xi: tf.Tensor) => lossOf(layer.apply(xi) as tf.Tensor))(x), dxRef)).toBeLessThan(1e-3);
    value.dispose();
  });

  it('refuses a kernel of the wrong size', () => {
    expect(() => resizeConvAsTransposed(new Float32Array(10), 1, 1)).toThrow(RangeError);
  });

  it.each([
    ['unconditional 16x16 RGB', { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 0 }],
    [
      'conditional 32x32 RGB, wide',
      { imageSize: 32, channels: 3, latentSize: 8, generatorWidth: 16, discriminatorWidth: 4, numClasses: 3 },
    ],
  ] as [string, ModelConfig][])('a resize generator, its weights as transposed ones, serves the same images (%s)', (_, config) => {
    const g = buildGenerator(config, 5, 'resize');
    for (const w of g.weights) {
      if (/moving_variance/.test(w.originalName)) w.write(tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 1));
      if (/moving_mean|beta/.test(w.originalName)) w.write(tf.randomNormal(w.shape as number[], 0, 0.3, 'float32', 2));
    }
    const kernels = g.weights.filter((w) => w.originalName.endsWith('/kernel')).map((w) => w.shape.join('x'));
    expect(kernels.slice(1).every((s) => s.startsWith('3x3x'))).toBe(true);
    const weights = Object.fromEntries(
      g.weights.map((w) => {
        const t = asTransposedWeight(w.originalName, { shape: w.shape as number[], data: w.read().dataSync() as Float32Array });
        return [w.originalName, tf.tensor(t.data, t.shape)];
      }),
    );
    // the converted weights fit the transposed generator's layers exactly
    const transposed = buildGenerator(config, 5);
    for (const w of transposed.weights) expect(weights[w.originalName].shape).toEqual(w.shape);
    const input = generatorInput(
      config,
      ['a', 'b', 'c'].map((s) => latentFromSeed(s, config.latentSize)),
      config.numClasses ? [0, 1, 2] : undefined,
    );
    const expected = g.predict(input) as tf.Tensor;
    const fast = FastGenerator.fromWeights(config, weights);
    expect(maxAbsDiff(fast.forward(input), expected)).toBeLessThan(1e-4);
    fast.dispose();
    g.dispose();
    transposed.dispose();
  });
});
