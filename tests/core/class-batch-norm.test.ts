import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, FastGenerator, ManifestSchema, MissingWeightError, generatorInput, latentFromSeed } from '@gan/core';
import { buildGenerator } from '@gan/core/model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const plain: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 };
const conditional: ModelConfig = { ...plain, generatorConditioning: 'batch-norm' };
const shapes = (model: tfl.LayersModel) => model.weights.map((w) => [w.originalName, w.shape]);

describe('class-conditional batch norm in G', () => {
  it('is refused without its class weights or without classes, leaving no tensor behind', async () => {
    const g = buildGenerator(conditional, 6);
    const weights = Object.fromEntries(g.weights.map((w) => [w.originalName, w.read()]));
    const before = tf.memory().numTensors;
    const { 'up1_bn_class/beta': _, ...lacking } = weights;
    expect(() => FastGenerator.fromWeights(conditional, lacking)).toThrow(MissingWeightError);
    expect(() => FastGenerator.fromWeights(conditional, { ...weights, 'project_bn_class/gamma': weights['up1_bn_class/gamma'] })).toThrow(
      /project_bn_class\/gamma has shape \[3,4\], expected \[3,8\]/,
    );
    expect(() => FastGenerator.fromWeights({ ...conditional, numClasses: 0 }, weights)).toThrow(MissingWeightError);
    expect(tf.memory().numTensors).toBe(before);
    // A manifest cannot promise it without classes either.
    const { buildFixture } = await import('../worker/fixtures.ts');
    const { manifest } = await buildFixture({ name: 'cbn', version: 'v1', config: conditional, classes: ['a', 'b', 'c'] });
    expect(ManifestSchema.safeParse(manifest).success).toBe(true);
    const classless = { ...manifest, classes: [], architecture: { ...manifest.architecture, numClasses: 0 } };
    expect(ManifestSchema.safeParse(classless).error?.issues.map((i) => i.message)).toEqual([
      'architecture.generatorConditioning batch-norm needs classes',
    ]);
    g.dispose();
  });

  it('keeps the plain G that every checkpoint and export holds: weight names, shapes and order', () => {
    const g = buildGenerator(plain, 1);
    expect(shapes(g)).toEqual([
      ['project/kernel', [4, 4, 8, 11]],
      ['project_bn/gamma', [8]],
      ['project_bn/beta', [8]],
      ['up1/kernel', [4, 4, 4, 8]],
      ['up1_bn/gamma', [4]],
      ['up1_bn/beta', [4]],
      ['to_image/kernel', [4, 4, 3, 4]],
      ['project_bn/moving_mean', [8]],
      ['project_bn/moving_variance', [8]],
      ['up1_bn/moving_mean', [4]],
      ['up1_bn/moving_variance', [4]],
    ]);
    g.dispose();
  });

  it("adds a [K, C] gamma and beta after every batch norm, starting at 1 and 0: the plain G's weights make the same network", () => {
    const g = buildGenerator(conditional, 1);
    const p = buildGenerator(plain, 1);
    const classWeights = [
      ['project_bn_class/gamma', [3, 8]],
      ['project_bn_class/beta', [3, 8]],
      ['up1_bn_class/gamma', [3, 4]],
      ['up1_bn_class/beta', [3, 4]],
    ];
    expect(shapes(g).filter(([name]) => !(name as string).includes('_class/'))).toEqual(shapes(p));
    expect(shapes(g).filter(([name]) => (name as string).includes('_class/'))).toEqual(classWeights);
    const valuesOf = (m: tfl.LayersModel, name: string) =>
      m.weights
        .find((w) => w.originalName === name)!
        .read()
        .dataSync();
    for (const [name] of shapes(p)) expect(valuesOf(g, name as string)).toEqual(valuesOf(p, name as string));
    expect([...valuesOf(g, 'up1_bn_class/gamma')].every((v) => v === 1)).toBe(true);
    expect([...valuesOf(g, 'up1_bn_class/beta')].every((v) => v === 0)).toBe(true);
    const input = generatorInput(
      conditional,
      ['a', 'b', 'c'].map((s) => latentFromSeed(s, conditional.latentSize)),
      [0, 1, 2],
    );
    const same = tf.max(tf.abs(tf.sub(g.apply(input, { training: true }) as tf.Tensor, p.apply(input, { training: true }) as tf.Tensor)));
    expect(same.dataSync()[0]).toBe(0);
    expect(() => buildGenerator({ ...conditional, numClasses: 0 })).toThrow(/needs classes/);
    tf.dispose([input, same]);
    g.dispose();
    p.dispose();
  });

  it("one class's gamma and beta change that class's images only, in training and when served", () => {
    const g = buildGenerator(conditional, 2);
    const input = generatorInput(
      conditional,
      ['a', 'b', 'c', 'd'].map((s) => latentFromSeed(s, conditional.latentSize)),
      [0, 1, 2, 1],
    );
    const weightsOf = () => Object.fromEntries(g.weights.map((w) => [w.originalName, w.read()]));
    const before = g.apply(input, { training: true }) as tf.Tensor4D;
    const servedBefore = FastGenerator.fromWeights(conditional, weightsOf());
    const fastBefore = servedBefore.forward(input);
    const beta = g.weights.find((w) => w.originalName === 'up1_bn_class/beta')!;
    beta.write(tf.tensor2d([0, 0, 0, 0, 0.5, -0.5, 0.5, -0.5, 0, 0, 0, 0], [3, 4]));
    const after = g.apply(input, { training: true }) as tf.Tensor4D;
    const servedAfter = FastGenerator.fromWeights(conditional, weightsOf());
    const fastAfter = servedAfter.forward(input);
    const changed = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      [0, 1, 2, 3].map((i) => tf.max(tf.abs(tf.sub(tf.slice(a, [i], [1]), tf.slice(b, [i], [1])))).dataSync()[0] > 1e-3);
    // In training the batch statistics are shared, so only the shift of class 1's features is checked there.
    expect(changed(before, after)).toEqual([false, true, false, true]);
    expect(changed(fastBefore, fastAfter)).toEqual([false, true, false, true]);
    tf.dispose([input, before, after, fastBefore, fastAfter]);
    servedBefore.dispose();
    servedAfter.dispose();
    g.dispose();
  });

  it("G's gradient reaches the gamma and beta rows of the classes in the batch, and no others", () => {
    const g = buildGenerator(conditional, 3);
    const input = generatorInput(
      conditional,
      ['a', 'b'].map((s) => latentFromSeed(s, conditional.latentSize)),
      [0, 2],
    );
    const vars = g.trainableWeights.filter((w) => w.originalName.includes('_class/')).map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.mean(tf.square(g.apply(input, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
    for (const v of vars) {
      const rows = (tf.sum(tf.abs(grads[v.name]), 1) as tf.Tensor1D).arraySync();
      expect(rows[0]).toBeGreaterThan(0);
      expect(rows[1]).toBe(0);
      expect(rows[2]).toBeGreaterThan(0);
    }
    tf.dispose([input, ...Object.values(grads)]);
    g.dispose();
  });

  it('its topology loads back with tf.loadLayersModel, which rebuilds the same network', async () => {
    const g = buildGenerator(conditional, 4);
    // Rows that differ per class, so a lost or permuted row would show.
    for (const w of g.weights.filter((w) => w.originalName.includes('_class/')))
      w.write(tf.randomNormal(w.shape as number[], w.originalName.endsWith('gamma') ? 1 : 0, 0.5, 'float32', 5));
    const artifacts: tf.io.ModelArtifacts = {
      modelTopology: g.toJSON(null, false) as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: g.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], dtype: 'float32' as const })),
      weightData: tf
        .concat(g.weights.map((w) => tf.reshape(w.read(), [-1])))
        .dataSync()
        .slice().buffer,
    };
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const input = generatorInput(
      conditional,
      [0, 1, 2].map((c) => latentFromSeed(`x${c}`, conditional.latentSize)),
      [0, 1, 2],
    );
    const diff = tf.max(tf.abs(tf.sub(g.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor))).dataSync()[0];
    expect(diff).toBe(0);
    tf.dispose(input);
    loaded.dispose();
    g.dispose();
  });
});
