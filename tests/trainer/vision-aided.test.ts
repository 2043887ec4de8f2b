/**
 * The vision-aided discriminator: the frozen MobileNetV2 folded from the nsfwjs package (loaded with the
 * network off, equal to the package's own Keras model), gradients that reach G through it on WASM while
 * it and the heads stay fixed, the heads' step that moves only the heads, the hinge losses and the
 * warm-up against hand-computed values, and a run that checkpoints its heads and resumes to the same bits.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModelConfig } from '@gan/core/config';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { Sfc32 } from '@gan/core/prng';
import { selectBackend } from '@gan/trainer/backend';
import { defaultCacheDir } from '@gan/trainer/data/index';
import { locateNsfwjs, readPackagedMobileNet } from '@gan/trainer/evaluate/imagenet';
import { exportRun } from '@gan/trainer/export/export';
import { loadLatestCheckpoint } from '@gan/trainer/train/checkpoint';
import { type FrozenFeatureNetwork, FrozenNetworkError, loadFrozenMobileNet } from '@gan/trainer/train/frozen-mobilenet';
import { type TrainOptions, runTraining } from '@gan/trainer/train/run';
import { ARTICLE_RECIPE } from '@gan/trainer/train/settings';
import { ARTICLE_ADAM, type GanModels, createAdam, generatorStep } from '@gan/trainer/train/step';
import {
  VISION_PREFIX,
  VisionHeads,
  visionDiscriminatorLoss,
  visionGeneratorLoss,
  visionGeneratorWeight,
  visionHeadsStep,
} from '@gan/trainer/train/vision-aided';
import { tinyRun } from './tiny-run.ts';

let packageDir: string;
let network: FrozenFeatureNetwork;
let root: string;

beforeAll(async () => {
  // Installing into the cache (first use only) is npm's job; everything after must not fetch.
  packageDir = await locateNsfwjs({ cacheDir: defaultCacheDir() });
  vi.stubEnv('GAN_NSFWJS_DIR', packageDir);
  vi.stubGlobal('fetch', () => {
    throw new Error('no network while training');
  });
  await selectBackend('wasm', { threads: 1 });
  network = await loadFrozenMobileNet({ cacheDir: defaultCacheDir() });
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-vision-'));
}, 300_000);

afterAll(async () => {
  network?.dispose();
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
  await tf.setBackend('cpu');
});

/** The package's own Keras MobileNetV2 at `size` px, cut at `cut`, as tfjs-layers loads it. */
async function packagedModel(size: number, cut: string[]): Promise<tfl.LayersModel> {
  const require = createRequire(path.join(packageDir, 'package.json'));
  const dir = './dist/models/mobilenet_v2';
  const json = structuredClone(require(`${dir}/model.min.js`)) as {
    modelTopology: { model_config: { config: { layers: { config: Record<string, unknown> }[]; output_layers: unknown } } };
    weightsManifest: tf.io.WeightsManifestConfig;
  };
  const config = json.modelTopology.model_config.config;
  config.layers[0].config.batch_input_shape = [null, size, size, 3];
  config.layers = config.layers.slice(0, Math.max(...cut.map((c) => config.layers.findIndex((l) => l.config.name === c))) + 1);
  config.output_layers = cut.map((c) => [c, 0, 0]);
  const bytes = Buffer.concat(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => Buffer.from(require(`${dir}/${p}.min.js`) as string, 'base64'))),
  );
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    }),
    { strict: false },
  );
}

describe('the frozen MobileNetV2', () => {
  it('is read from the package with the network off, and its features equal the Keras model its batch norms were folded from', async () => {
    expect(network.id).toBe('nsfwjs-mobilenet_v2-v1-block_5_add+block_12_add-64');
    expect(network.version).toMatch(/^[0-9a-f]{12}$/);
    expect(network.outputs).toEqual([
      { layer: 'block_5_add', channels: 32, size: 8 },
      { layer: 'block_12_add', channels: 96, size: 4 },
    ]);
    const reference = await packagedModel(64, ['block_5_add', 'block_12_add']);
    const images = tf.tidy(() => tf.tanh(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3))) as tf.Tensor4D;
    const expected = tf.tidy(() => {
      const x = tf.image.resizeBilinear(tf.div(tf.add(images, 1), 2) as tf.Tensor4D, [64, 64], true);
      return reference.predict(x) as tf.Tensor4D[];
    });
    for (const differentiable of [true, false]) {
      const got = network.apply(images, differentiable);
      got.forEach((g, i) => {
        expect(g.shape).toEqual(expected[i].shape);
        const scale = tf.max(tf.abs(expected[i])).dataSync()[0];
        const error = tf.max(tf.abs(tf.sub(g, expected[i]))).dataSync()[0];
        expect(scale).toBeGreaterThan(1);
        expect(error / scale).toBeLessThan(1e-4);
      });
      tf.dispose(got);
    }
    // A grey image is tiled to RGB: the same features as its three-channel copy.
    const grey = tf.fill([1, 16, 16, 1], 0.3) as tf.Tensor4D;
    const [fromGrey] = network.apply(grey, true);
    const [fromRgb] = network.apply(tf.tile(grey, [1, 1, 1, 3]) as tf.Tensor4D, true);
    expect(Array.from(fromGrey.dataSync())).toEqual(Array.from(fromRgb.dataSync()));
    tf.dispose([images, grey, fromGrey, fromRgb, ...expected]);
    reference.dispose();
  }, 120_000);

  it('reads the package from a relative directory as from an absolute one (a relative --cache-dir)', async () => {
    const absolute = await readPackagedMobileNet(packageDir);
    const relative = await readPackagedMobileNet(path.relative(process.cwd(), packageDir));
    expect(relative.weights.equals(absolute.weights)).toBe(true);
    expect(relative.packageVersion).toBe(absolute.packageVersion);
  });

  it('refuses a cut it cannot make: an unknown layer, or one folded into its convolution', async () => {
    await expect(loadFrozenMobileNet({ cacheDir: defaultCacheDir(), cut: ['block_99_add'] })).rejects.toThrow(FrozenNetworkError);
    await expect(loadFrozenMobileNet({ cacheDir: defaultCacheDir(), cut: ['block_3_expand_BN'] })).rejects.toThrow(
      /folded into block_3_expand/,
    );
  });
});

describe('the heads and their losses', () => {
  it('hinge losses and the warm-up against hand-computed values', () => {
    const real = [tf.tensor2d([[2, 0.5]]), tf.tensor2d([[-1, 1, 3, 0]])];
    const fake = [tf.tensor2d([[-2, 0]]), tf.tensor2d([[1, -0.5, -1, 0.5]])];
    // Head 0: real relu(1 − r) = [0, 0.5] → 0.25, fake relu(1 + f) = [0, 1] → 0.5.
    // Head 1: real [2, 0, 0, 1] → 0.75, fake [2, 0.5, 0, 1.5] → 1. Averaged over heads: 0.5 + 0.75.
    expect(visionDiscriminatorLoss(real, fake).dataSync()[0]).toBeCloseTo(1.25, 6);
    // G: −mean over heads of mean fake: −(−1 + 0) / 2 = 0.5.
    expect(visionGeneratorLoss(fake).dataSync()[0]).toBeCloseTo(0.5, 6);
    expect([0, 50, 100, 400].map((t) => visionGeneratorWeight(2, 100, t))).toEqual([0, 1, 2, 2]);
    expect(visionGeneratorWeight(2, 0, 0)).toBe(2);
    tf.dispose([...real, ...fake]);
  });

  it('project the class: zero embeddings give the same logits for every class, and one class moved moves only its images', () => {
    const heads = VisionHeads.initial(network, 3, 5);
    const features = network.outputs.map(({ channels, size }, i) =>
      tf.tidy(() => tf.relu(tf.randomNormal([2, size, size, channels], 0, 1, 'float32', 10 + i))),
    ) as tf.Tensor4D[];
    const before = heads.logits(features, [0, 1]).map((t) => Array.from(t.dataSync()));
    const swapped = heads.logits(features, [2, 2]).map((t) => Array.from(t.dataSync()));
    expect(swapped).toEqual(before);
    const [, embedding] = heads.named().find(([name]) => name === `${VISION_PREFIX}/head0/embedding`)!;
    embedding.assign(
      tf.tensor2d(
        [0, 1, 0].flatMap((on) => new Array(64).fill(on)),
        [3, 64],
      ),
    );
    const after = heads.logits(features, [0, 1]).map((t) => Array.from(t.dataSync()));
    const positions = network.outputs[0].size ** 2;
    expect(after[0].slice(0, positions)).toEqual(before[0].slice(0, positions)); // class 0: untouched
    expect(after[0].slice(positions)).not.toEqual(before[0].slice(positions)); // class 1: moved
    expect(after[1]).toEqual(before[1]); // head 1 has its own embedding
    heads.dispose();
    tf.dispose(features);
  });
});

describe('training through the frozen network (WASM)', () => {
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 };
  const N = 4;
  const values = (xs: tf.Tensor[]) => xs.map((t) => Array.from(t.dataSync()));
  const models = (): GanModels => ({
    config,
    generator: buildGenerator(config, 1),
    discriminator: buildDiscriminator(config, 1, 'projection'),
    conditioning: 'projection',
  });

  it("G's step sends a gradient through the network into G; the network, the heads and D do not move", async () => {
    const rng = Sfc32.fromSeed('vision-step');
    const noise = rng.fillNormal(new Float32Array(N * config.latentSize));
    const labels = [0, 1, 2, 1];
    const heads = VisionHeads.initial(network, 3, 2);
    // Non-zero embeddings, so the projection is part of the gradient too.
    for (const [name, v] of heads.named()) if (name.endsWith('embedding')) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 4));
    const branch = { network, heads, optimizer: createAdam(ARTICLE_ADAM) };
    const frozen = values(network.tensors());
    const headWeights = values(heads.variables());
    const trainedG = async (weight: number) => {
      const m = models();
      const dBefore = values(m.discriminator.weights.map((w) => w.read()));
      const optimizer = createAdam(ARTICLE_ADAM);
      await generatorStep(m, optimizer, { noise, labels }, 'bce', 0, { branch, weight });
      optimizer.dispose();
      expect(values(m.discriminator.weights.map((w) => w.read()))).toEqual(dBefore);
      const g = values(m.generator.weights.map((w) => w.read()));
      m.generator.dispose();
      m.discriminator.dispose();
      return g;
    };
    const without = await trainedG(0);
    const tensors = tf.memory().numTensors;
    const withVision = await trainedG(1);
    expect(withVision).not.toEqual(without); // the vision term changed G's update: its gradient arrived
    expect(values(network.tensors())).toEqual(frozen);
    expect(values(heads.variables())).toEqual(headWeights);
    await trainedG(1);
    expect(tf.memory().numTensors).toBe(tensors);
    heads.dispose();
    branch.optimizer.dispose();
  }, 120_000);

  it("the heads' step moves every head weight and nothing else, and leaks nothing", async () => {
    const heads = VisionHeads.initial(network, 3, 3);
    const branch = { network, heads, optimizer: createAdam(ARTICLE_ADAM) };
    const frozen = values(network.tensors());
    const real = tf.tidy(() => tf.tanh(tf.randomNormal([N, 16, 16, 3], 0, 1, 'float32', 5))) as tf.Tensor4D;
    const fake = tf.tidy(() => tf.tanh(tf.randomNormal([N, 16, 16, 3], 0.5, 1, 'float32', 6))) as tf.Tensor4D;
    const before = values(heads.variables());
    const loss = await visionHeadsStep(branch, real, fake, [0, 1, 2, 0], [1, 1, 2, 0]);
    expect(Number.isFinite(loss)).toBe(true);
    const moved = values(heads.variables());
    for (const [i, [name]] of heads.named().entries()) expect(moved[i], name).not.toEqual(before[i]);
    expect(values(network.tensors())).toEqual(frozen);
    const tensors = tf.memory().numTensors;
    await visionHeadsStep(branch, real, fake, [0, 1, 2, 0], [1, 1, 2, 0]);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([real, fake]);
    heads.dispose();
    branch.optimizer.dispose();
  }, 120_000);
});

describe('a vision-aided run', () => {
  const run = (outDir: string, extra: Partial<TrainOptions> = {}) =>
    tinyRun('wasm', outDir, {
      imageSize: 16,
      recipe: { ...ARTICLE_RECIPE, conditioning: 'projection', visionAided: 0.5, visionWarmup: 1 },
      seed: 'vision',
      ...extra,
    });

  it('records the network, checkpoints the heads, resumes to the same bits and names it in the manifest and the card', async () => {
    const full = path.join(root, 'full');
    const split = path.join(root, 'split');
    await runTraining(run(full, { steps: 4 }));
    await runTraining(run(split, { steps: 2 }));
    await runTraining(run(split, { steps: 4, resume: true, data: undefined, recipe: ARTICLE_RECIPE }));
    const a = (await loadLatestCheckpoint(full)).checkpoint!;
    const b = (await loadLatestCheckpoint(split)).checkpoint!;
    expect([...a.tensors.keys()].filter((k) => k.startsWith(`${VISION_PREFIX}/`))).toHaveLength(10);
    expect([...a.tensors.keys()].some((k) => k.startsWith('adam_v/'))).toBe(true);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const [name, t] of a.tensors)
      expect(Buffer.from(b.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    const recipe = JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8')).recipe;
    expect(recipe).toMatchObject({ visionAided: 0.5, visionWarmup: 1, visionNetwork: `${network.id}@${network.version}` });
    const rows = (await readFile(path.join(split, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.every((r) => Number.isFinite(r.dv_loss))).toBe(true);
    const exported = await exportRun(split, path.join(root, 'export'));
    expect(exported.manifest.training.recipe?.visionAided).toEqual({
      weight: 0.5,
      warmup: 1,
      network: `${network.id}@${network.version}`,
    });
    expect(await readFile(path.join(root, 'export', 'README.md'), 'utf8')).toMatch(/a vision-aided discriminator beside D/);
  }, 300_000);

  it('refuses to resume on another feature network', async () => {
    const dir = path.join(root, 'other-network');
    await runTraining(run(dir, { steps: 1 }));
    const settings = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'));
    expect(settings.recipe.visionNetwork).toMatch(/@[0-9a-f]{12}$/);
    const checkpoint = (await loadLatestCheckpoint(dir)).checkpoint!;
    // The checkpoint as another feature network would have left it (its index's sum kept true).
    const saved = JSON.parse(await readFile(path.join(checkpoint.dir, 'state.json'), 'utf8'));
    saved.settings.recipe.visionNetwork = 'another-network@000000000000';
    const bytes = JSON.stringify(saved);
    await writeFile(path.join(checkpoint.dir, 'state.json'), bytes);
    const indexFile = path.join(dir, 'checkpoints', 'index.json');
    const index = JSON.parse(await readFile(indexFile, 'utf8'));
    index.checkpoints[0].sha256['state.json'] = createHash('sha256').update(bytes).digest('hex');
    await writeFile(indexFile, JSON.stringify(index));
    await expect(runTraining(run(dir, { steps: 2, resume: true, data: undefined }))).rejects.toThrow(/learnt on another-network/);
  }, 120_000);
});
