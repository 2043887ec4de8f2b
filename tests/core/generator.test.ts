import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, FastGenerator, generatorInput, latentFromSeed, subPixelKernel } from '@gan/core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ProjectionWithoutClassesError, buildDiscriminator, buildGenerator } from '@gan/core/model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 0 };

/** Gives every batch-norm layer non-trivial statistics, so folding is really exercised. */
function randomiseBatchNorm(model: ReturnType<typeof buildGenerator>) {
  for (const w of model.weights) {
    if (/moving_variance/.test(w.originalName)) w.write(tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 1));
    if (/moving_mean|beta/.test(w.originalName)) w.write(tf.randomNormal(w.shape as number[], 0, 0.3, 'float32', 2));
    if (/_class\/gamma/.test(w.originalName)) w.write(tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 3));
  }
}

describe('generator architecture', () => {
  it('has the seed article shapes for the reference config', () => {
    const g = buildGenerator({ ...tiny, imageSize: 32, latentSize: 100, generatorWidth: 64 });
    const shapes = g.layers.filter((l) => l.getClassName() === 'Conv2DTranspose').map((l) => l.outputShape);
    expect(shapes).toEqual([
      [null, 4, 4, 256],
      [null, 8, 8, 128],
      [null, 16, 16, 64],
      [null, 32, 32, 3],
    ]);
    const d = buildDiscriminator({ ...tiny, imageSize: 32, discriminatorWidth: 64 });
    expect(d.outputShape).toEqual([null, 1]);
    g.dispose();
    d.dispose();
  });

  it('the sub-pixel rewrite of one transposed convolution equals conv2dTranspose', () => {
    const [cin, cout, h] = [3, 2, 5];
    const k = tf.randomNormal([4, 4, cout, cin], 0, 1, 'float32', 3) as tf.Tensor4D;
    const x = tf.randomNormal([2, h, h, cin], 0, 1, 'float32', 4) as tf.Tensor4D;
    const expected = tf.conv2dTranspose(x, k, [2, 2 * h, 2 * h, cout], 2, 'same');
    const filter = tf.tensor4d(subPixelKernel(k.dataSync() as Float32Array, cin, cout), [3, 3, cin, 4 * cout]);
    const actual = tf.depthToSpace(tf.conv2d(x, filter, 1, 'same'), 2);
    expect(actual.shape).toEqual(expected.shape);
    expect(tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it.each([
    ['unconditional 16x16 RGB', tiny],
    ['conditional 32x32 grey', { ...tiny, imageSize: 32, channels: 1, numClasses: 10 } as ModelConfig],
    ['wide layers (one 2x2 convolution per phase)', { ...tiny, generatorWidth: 16 } as ModelConfig],
    [
      'class-conditional batch norm, three classes in one batch',
      { ...tiny, numClasses: 3, generatorConditioning: 'batch-norm' } as ModelConfig,
    ],
    [
      'class-conditional batch norm, wide layers',
      { ...tiny, numClasses: 3, generatorWidth: 16, generatorConditioning: 'batch-norm' } as ModelConfig,
    ],
  ])('the folded fast generator equals the layers model in inference mode (%s)', (_, config) => {
    const g = buildGenerator(config, 5);
    randomiseBatchNorm(g);
    const weights = Object.fromEntries(g.weights.map((w) => [w.originalName, w.read()]));
    const fast = FastGenerator.fromWeights(config, weights);
    const input = generatorInput(
      config,
      ['a', 'b', 'c'].map((s) => latentFromSeed(s, config.latentSize)),
      [0, 1, 2].map((c) => c % Math.max(1, config.numClasses)),
    );
    const expected = g.predict(input) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const actual = fast.forward(input);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(actual.shape).toEqual([3, config.imageSize, config.imageSize, config.channels]);
    expect(tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]).toBeLessThan(1e-4);
    fast.dispose();
    g.dispose();
  });
});

describe('discriminator architecture', () => {
  const conditional: ModelConfig = { ...tiny, numClasses: 3 };
  const shapes = (model: tfl.LayersModel) => model.weights.map((w) => [w.originalName, w.shape]);

  it('keeps the class-planes D that existing checkpoints hold: weight names, shapes and order', () => {
    // Checkpoints store D's weights by these names and Adam's slots by this order: a change breaks every resume.
    const d = buildDiscriminator(conditional, 1);
    expect(shapes(d)).toEqual([
      ['down1/kernel', [4, 4, 6, 4]],
      ['down2/kernel', [4, 4, 4, 8]],
      ['down2_bn/gamma', [8]],
      ['down2_bn/beta', [8]],
      ['score/kernel', [4, 4, 8, 1]],
      ['down2_bn/moving_mean', [8]],
      ['down2_bn/moving_variance', [8]],
    ]);
    const explicit = buildDiscriminator(conditional, 1, 'planes');
    expect(shapes(explicit)).toEqual(shapes(d));
    d.dispose();
    explicit.dispose();
  });

  it('the projection D takes [image, one-hot class], has no class planes and one class embedding over the 4x4 features', () => {
    const d = buildDiscriminator(conditional, 1, 'projection');
    expect(d.inputs.map((i) => i.shape)).toEqual([
      [null, 16, 16, 3],
      [null, 3],
    ]);
    expect(d.outputShape).toEqual([null, 1]);
    expect(shapes(d)).toEqual([
      ['down1/kernel', [4, 4, 3, 4]],
      ['down2/kernel', [4, 4, 4, 8]],
      ['down2_bn/gamma', [8]],
      ['down2_bn/beta', [8]],
      ['score/kernel', [4, 4, 8, 1]],
      ['class_embedding/kernel', [3, 4 * 4 * 8]],
      ['down2_bn/moving_mean', [8]],
      ['down2_bn/moving_variance', [8]],
    ]);
    expect(() => buildDiscriminator(tiny, 1, 'projection')).toThrow(ProjectionWithoutClassesError);
    d.dispose();
  });

  it('the projection logit is the score of the features plus the inner product of their class embedding with them', () => {
    const d = buildDiscriminator(conditional, 2, 'projection');
    tf.tidy(() => {
      const image = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 9);
      const onehot = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
      const features = tfl.model({ inputs: d.inputs[0], outputs: d.getLayer('features').output as tfl.SymbolicTensor });
      const score = tfl.model({ inputs: d.inputs[0], outputs: d.getLayer('logit').output as tfl.SymbolicTensor });
      const embedding = d.getWeights()[d.weights.findIndex((w) => w.originalName === 'class_embedding/kernel')];
      const expected = tf.add(
        score.predict(image) as tf.Tensor,
        tf.sum(tf.mul(tf.matMul(onehot, embedding), features.predict(image) as tf.Tensor), 1, true),
      );
      const actual = d.predict([image, onehot]) as tf.Tensor;
      expect(actual.shape).toEqual([2, 1]);
      expect(tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]).toBeLessThan(1e-5);
      // The class changes the verdict on the same image.
      const otherClass = d.predict([image, tf.oneHot(tf.tensor1d([1, 1], 'int32'), 3)]) as tf.Tensor;
      expect(Array.from(otherClass.dataSync())).not.toEqual(Array.from(actual.dataSync()));
    });
    d.dispose();
  });
});

describe('export format', () => {
  it('float16 bits round-trip through tfjs decodeWeights within half precision', async () => {
    const { encodeWeightShards } = await import('@gan/core');
    const data = new Float32Array([0, 1, -2.5, 0.0001, 65504, 1e-8, 0.3333]);
    const { weightsManifest, shards } = encodeWeightShards([{ name: 'w', shape: [7], data }], { float16: true });
    const decoded = tf.io.decodeWeights(shards[0].bytes.buffer as ArrayBuffer, weightsManifest[0].weights).w.dataSync();
    data.forEach((v, i) => {
      expect(Math.abs(decoded[i] - v)).toBeLessThanOrEqual(Math.abs(v) / 1024 + 6e-8);
    });
  });
});
