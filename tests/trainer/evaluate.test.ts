import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { encode as encodePng } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, Sfc32, buildManifest, encodeModelFiles } from '@gan/core';
import { buildGenerator } from '@gan/core/model';
import {
  type LabelledImages,
  buildClassifier,
  classifierTrainStep,
  cosineRate,
  extractFeatures,
  nearestNeighbourAccuracy,
  trainClassifier,
} from '@gan/trainer/evaluate/classifier';
import {
  type GaussianStats,
  JACOBI_MAX_DIM,
  frechetDistance,
  gaussianStats,
  symmetricEigen,
  traceSqrtProduct,
} from '@gan/trainer/evaluate/frechet';
import { evaluateImages } from '@gan/trainer/evaluate/evaluate';
import { evaluateExport, evaluateImageFolder, trainExtractor } from '@gan/trainer/evaluate/run';
import { type ClassifierInfo, ClassifierNotFoundError, loadClassifier, saveClassifier } from '@gan/trainer/evaluate/store';
import { main } from '@gan/trainer/cli';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const stats = (mean: number[], covariance: number[]): GaussianStats => ({
  dim: mean.length,
  count: 100,
  mean: Float64Array.from(mean),
  covariance: Float64Array.from(covariance),
});

/** A random symmetric positive definite n×n matrix: AᵀA/n + εI. */
function randomSpd(n: number, rng: Sfc32): Float64Array {
  const a = Float64Array.from({ length: n * n }, () => rng.next() * 2 - 1);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[k * n + i] * a[k * n + j];
      out[i * n + j] = s / n + (i === j ? 0.01 : 0);
    }
  return out;
}

describe('Fréchet distance', () => {
  it('is 0 between identical statistics, also for a rank-deficient covariance', () => {
    const rng = Sfc32.fromSeed('fd-identical');
    const features = Float32Array.from({ length: 200 * 16 }, () => rng.next());
    const s = gaussianStats(features, 200, 16);
    expect(frechetDistance(s, s)).toBeLessThan(1e-9);
    // 10 vectors in 16 dimensions: covariance of rank 9.
    const few = gaussianStats(features.subarray(0, 10 * 16), 10, 16);
    expect(frechetDistance(few, few)).toBeLessThan(1e-9);
  });

  it('equals ‖Δμ‖² for equal covariances and shifted means', () => {
    const cov = randomSpd(6, Sfc32.fromSeed('shift'));
    const a = stats([0, 0, 0, 0, 0, 0], [...cov]);
    const b = stats([1, -2, 0, 0.5, 0, 3], [...cov]);
    expect(frechetDistance(a, b)).toBeCloseTo(1 + 4 + 0.25 + 9, 9);
  });

  it('equals Σ(√aᵢ − √bᵢ)² + ‖Δμ‖² for diagonal covariances', () => {
    const da = [4, 1, 9, 0.25];
    const db = [1, 1, 16, 2.25];
    const diag = (d: number[]) => d.flatMap((v, i) => d.map((_, j) => (i === j ? v : 0)));
    const fd = frechetDistance(stats([1, 2, 3, 4], diag(da)), stats([1, 2, 3, 6], diag(db)));
    const expected = da.reduce((s, v, i) => s + (Math.sqrt(v) - Math.sqrt(db[i])) ** 2, 0) + 4;
    expect(fd).toBeCloseTo(expected, 10);
  });

  it('matches the 2x2 closed form Tr √(S1 S2) = √(tr(S1 S2) + 2 √det(S1 S2)) for non-commuting covariances', () => {
    const s1 = Float64Array.from([2, 1, 1, 3]);
    const s2 = Float64Array.from([1, -0.5, -0.5, 4]);
    const p = [s1[0] * s2[0] + s1[1] * s2[2], s1[0] * s2[1] + s1[1] * s2[3], s1[2] * s2[0] + s1[3] * s2[2], s1[2] * s2[1] + s1[3] * s2[3]];
    const expected = Math.sqrt(p[0] + p[3] + 2 * Math.sqrt(p[0] * p[3] - p[1] * p[2]));
    expect(traceSqrtProduct(s1, s2, 2)).toBeCloseTo(expected, 12);
    // And the whole distance, symmetric in its arguments.
    const a = stats([0, 1], [...s1]);
    const b = stats([1, 1], [...s2]);
    expect(frechetDistance(a, b)).toBeCloseTo(1 + 2 + 3 + 1 + 4 - 2 * expected, 10);
    expect(frechetDistance(b, a)).toBeCloseTo(frechetDistance(a, b), 10);
  });

  it('the Jacobi eigensolver reconstructs a 24x24 symmetric matrix', () => {
    const n = 24;
    const a = randomSpd(n, Sfc32.fromSeed('eigen'));
    const { values, vectors } = symmetricEigen(a, n);
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
        worst = Math.max(worst, Math.abs(s - a[i * n + j]));
      }
    expect(worst).toBeLessThan(1e-10);
  });

  it('gaussianStats gives the mean and the unbiased covariance', () => {
    const s = gaussianStats([1, 2, 3, 6, 5, 10], 3, 2); // rows (1,2), (3,6), (5,10)
    expect([...s.mean]).toEqual([3, 6]);
    expect([...s.covariance!]).toEqual([4, 8, 8, 16]);
  });

  it('above JACOBI_MAX_DIM keeps the centred vectors and gives, for sets smaller than the dimension, the distance the covariances give', () => {
    const dim = JACOBI_MAX_DIM + 44;
    const rng = Sfc32.fromSeed('low-rank');
    const set = (count: number, shift: number) =>
      Float64Array.from({ length: count * dim }, (_, i) => rng.next() * (1 + (i % dim) / dim) + (i % 7 === 0 ? shift : 0));
    const [a, b] = [set(40, 0), set(25, 0.3)];
    const low = [gaussianStats(a, 40, dim), gaussianStats(b, 25, dim)];
    expect(low[0].factor).toBeDefined();
    expect(low[0].covariance).toBeUndefined();
    // The same statistics with their covariances formed (Fᵀ F), through the full-dimension eigensolver.
    const full = low.map((s): GaussianStats => {
      const covariance = new Float64Array(dim * dim);
      for (let r = 0; r < s.count; r++)
        for (let i = 0; i < dim; i++)
          for (let j = 0; j < dim; j++) covariance[i * dim + j] += s.factor![r * dim + i] * s.factor![r * dim + j];
      return { dim, count: s.count, mean: s.mean, covariance };
    });
    const expected = frechetDistance(full[0], full[1]);
    expect(expected).toBeGreaterThan(1);
    // Within 1e-7 relative: the full-dimension path takes square roots of the rank-deficient
    // covariances' ~1e-14 rounding noise (clamped at 0 only where negative); the low-rank one never sees it.
    const near = (value: number, reference: number) => expect(Math.abs(value - reference) / reference).toBeLessThan(1e-7);
    near(frechetDistance(low[0], low[1]), expected);
    near(frechetDistance(low[1], low[0]), expected);
    expect(frechetDistance(low[0], gaussianStats(a, 40, dim))).toBeCloseTo(0, 8);
    // One set larger than the dimension: the covariance path, with the same answer.
    const many = set(dim + 10, 0.3);
    const manyStats = gaussianStats(many, dim + 10, dim);
    const manyFull = { dim, count: dim + 10, mean: manyStats.mean, covariance: new Float64Array(dim * dim) };
    for (let r = 0; r < dim + 10; r++)
      for (let i = 0; i < dim; i++)
        for (let j = 0; j < dim; j++) manyFull.covariance[i * dim + j] += manyStats.factor![r * dim + i] * manyStats.factor![r * dim + j];
    near(frechetDistance(low[0], manyStats), frechetDistance(full[0], manyFull));
  });
});

/**
 * An extractor whose answers are known by hand: the feature of a 2x2 grey image is its mean pixel,
 * and it classifies a positive mean as class 1 ("b"), any other as class 0 ("a").
 */
function meanPixelExtractor() {
  const input = tfl.input({ shape: [2, 2, 1] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const features = tfl.layers
    .dense({ name: 'features', units: 1, kernelInitializer: tfl.initializers.constant({ value: 0.25 }), biasInitializer: 'zeros' })
    .apply(flat) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ name: 'logits', units: 2, biasInitializer: 'zeros' }).apply(features) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [features, logits] });
  model.getLayer('logits').setWeights([tf.tensor2d([[-1, 1]]), tf.zeros([2])]);
  const info: ClassifierInfo = {
    formatVersion: 1,
    id: 'mean-2',
    version: '000000000000',
    dataset: 'constructed',
    imageSize: 2,
    channels: 1,
    classNames: ['a', 'b'],
    background: 'white',
    featureSize: 1,
    labels: 'classes',
    heldOutAccuracy: 1,
    trainCount: 4,
    heldOutCount: 4,
    training: { epochs: 0, batchSize: 1, learningRate: 0, maxShift: 0, seed: '', backend: 'cpu', seconds: 0 },
    createdAt: new Date(0).toISOString(),
  };
  return { model, info };
}

/** 2x2 grey images, each of one constant value (so its feature under meanPixelExtractor is that value). */
function constantImages(values: number[], labels: number[] = values.map(() => 0)): LabelledImages {
  const images = new Float32Array(values.length * 4);
  values.forEach((v, i) => {
    images.fill(v, i * 4, i * 4 + 4);
  });
  return { images, labels: Int32Array.from(labels), count: values.length, imageSize: 2, channels: 1, classNames: ['a', 'b'] };
}

describe('evaluation of a constructed case with a known answer', () => {
  it('FD and its floor are the 1-d Fréchet distances (Δμ)² + (σ₁ − σ₂)², class accuracy the share classified as asked', () => {
    const classifier = meanPixelExtractor();
    // Held-out features -1, 1, -1, 1: mean 0, unbiased variance 4/3.
    const heldOut = constantImages([-1, 1, -1, 1]);
    // Training features ±2: mean 0, standard deviation twice held-out's. The floor takes all 4
    // (N = 4 samples), so it is (σ_train − σ_heldOut)² = (2σ − σ)² = σ² = 4/3.
    const train = constantImages([-2, 2, -2, 2]);
    // Samples 1, 3, 1, 3: held-out's spread shifted by 2, so FD = 2² = 4. All are classified b (mean > 0).
    const samples = constantImages([1, 3, 1, 3]);
    const tensors = tf.memory().numTensors;
    const evaluation = evaluateImages({
      classifier,
      classNames: ['a', 'b'],
      train,
      heldOut,
      images: samples.images,
      count: 4,
      classes: Int32Array.from([1, 1, 0, 1]),
      seed: 'known',
      backend: 'cpu',
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(evaluation.fd).toBeCloseTo(4, 5);
    expect(evaluation.fdFloor).toBeCloseTo(4 / 3, 5);
    expect(evaluation.fdRatio).toBeCloseTo(3, 5);
    // Asked for b, b, a, b; got b four times: 3 of 4 right, none of the a's, all of the b's.
    expect(evaluation.classAccuracy).toBeCloseTo(0.75, 12);
    expect(evaluation.classAccuracyByClass).toEqual({ a: 0, b: 1 });
    classifier.model.dispose();
  });
});

/** Two classes of tiny images: class 0 bright on the left, class 1 bright on the right, plus noise. */
function halves(count: number, size: number, seed: string): LabelledImages {
  const rng = Sfc32.fromSeed(seed);
  const images = new Float32Array(count * size * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const bright = x < size / 2 === (labels[i] === 0);
        images[(i * size + y) * size + x] = (bright ? 0.6 : -0.6) + (rng.next() - 0.5) * 0.6;
      }
  }
  return { images, labels, count, imageSize: size, channels: 1, classNames: ['left', 'right'] };
}

describe('feature-extractor classifier', () => {
  it('has features of the chosen size and one logit per class', () => {
    const model = buildClassifier({ imageSize: 16, channels: 3, numClasses: 5, featureSize: 12 });
    const [features, logits] = model.predict(tf.zeros([2, 16, 16, 3])) as tf.Tensor[];
    expect(features.shape).toEqual([2, 12]);
    expect(logits.shape).toEqual([2, 5]);
    tf.dispose([features, logits]);
    model.dispose();
  });

  it('decays the learning rate from the base to 5 % of it along a cosine', () => {
    expect(cosineRate(1e-3, 0, 100)).toBeCloseTo(1e-3, 12);
    expect(cosineRate(1e-3, 99, 100)).toBeCloseTo(5e-5, 12);
    expect(cosineRate(1e-3, 50, 101)).toBeCloseTo(1e-3 * 0.525, 12);
  });

  it('1-nearest-neighbour accuracy takes the label of the closest reference feature', () => {
    const reference = Float32Array.from([0, 0, 10, 10]); // two 2-d features, labels 0 and 1
    const query = Float32Array.from([1, 1, 9, 8, 6, 6]);
    expect(nearestNeighbourAccuracy(query, [0, 1, 1], reference, [0, 1], 2)).toBe(1);
    expect(nearestNeighbourAccuracy(query, [1, 1, 0], reference, [0, 1], 2)).toBeCloseTo(1 / 3, 12);
  });

  it('a training step moves every weight and leaks no tensors', () => {
    const data = halves(8, 8, 'step');
    const model = buildClassifier({ imageSize: 8, channels: 1, numClasses: 2 }, 3);
    const optimizer = tf.train.adam(1e-2);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const x = tf.tensor4d(data.images, [8, 8, 8, 1]);
    const y = tf.tensor1d(data.labels, 'int32');
    classifierTrainStep(model, optimizer, x, y, 2); // creates the optimiser's slots
    const tensors = tf.memory().numTensors;
    const loss = classifierTrainStep(model, optimizer, x, y, 2);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Number.isFinite(loss)).toBe(true);
    model.getWeights().forEach((w, i) => {
      expect(w.dataSync()).not.toEqual(before[i]);
    });
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it('learns a separable task, and saves and loads with a weights version', async () => {
    const train = halves(32, 8, 'train');
    const test = halves(20, 8, 'test');
    const model = buildClassifier({ imageSize: 8, channels: 1, numClasses: 2 }, 1);
    trainClassifier(model, train, { epochs: 3, batchSize: 16, learningRate: 3e-3, seed: 's', maxShift: 1 });
    const out = extractFeatures(model, test.images, test.count, 8, 1);
    expect(out.predictions).toEqual(test.labels);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'gan-classifier-'));
    const info = await saveClassifier(dir, model, {
      id: 'halves-8',
      dataset: 'halves',
      imageSize: 8,
      channels: 1,
      classNames: ['left', 'right'],
      heldOutAccuracy: 1,
      trainCount: 32,
      heldOutCount: 20,
      createdAt: new Date(0).toISOString(),
      training: { epochs: 3, batchSize: 16, learningRate: 3e-3, maxShift: 1, seed: 's', backend: 'cpu', seconds: 0 },
    });
    expect(info.version).toMatch(/^[0-9a-f]{12}$/);
    const loaded = await loadClassifier(dir);
    expect(loaded.info).toEqual(info);
    const again = extractFeatures(loaded.model, test.images, test.count, 8, 1);
    expect(again.features).toEqual(out.features);
    loaded.model.dispose();
    model.dispose();

    const weights = await readFile(path.join(dir, 'weights.bin'));
    weights[10] ^= 0xff;
    await writeFile(path.join(dir, 'weights.bin'), weights);
    await expect(loadClassifier(dir)).rejects.toThrow(ClassifierNotFoundError);
  });
});

/** A folder data set of 8x8 RGB PNGs in two classes (sub-folders), 24 images each. */
async function makeFolderDataset(root: string): Promise<string> {
  const rng = Sfc32.fromSeed('folder');
  for (const [className, colour] of [
    ['blue', [40, 60, 220]],
    ['red', [220, 50, 40]],
  ] as const) {
    await mkdir(path.join(root, className), { recursive: true });
    for (let i = 0; i < 24; i++) {
      const data = new Uint8Array(8 * 8 * 3);
      for (let p = 0; p < 64; p++)
        for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.max(0, Math.min(255, colour[c] + Math.round((rng.next() - 0.5) * 120)));
      await writeFile(path.join(root, className, `${i}.png`), encodePng({ width: 8, height: 8, data, channels: 3, depth: 8 }));
    }
  }
  return root;
}

/** Exports an (untrained) conditional 8x8 RGB generator the way gan export lays it out. */
async function exportTinyGenerator(dir: string, dataset: string, classes: string[]): Promise<void> {
  const config: ModelConfig = {
    imageSize: 8,
    channels: 3,
    latentSize: 6,
    generatorWidth: 4,
    discriminatorWidth: 4,
    numClasses: classes.length,
  };
  const g = buildGenerator(config, 11);
  const weights = g.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], data: w.read().dataSync() as Float32Array }));
  const files = encodeModelFiles({ weights, modelTopology: g.toJSON(null, false) });
  const manifest = await buildManifest(
    {
      name: 'tiny',
      version: 'v1',
      createdAt: '2026-11-27T12:00:00.000Z',
      classes,
      architecture: config,
      weightsFormat: 'float32',
      dataset: { name: dataset, licence: 'CC0-1.0' },
      training: { steps: 0, batchSize: 1, backend: 'cpu', seconds: 0 },
    },
    files,
  );
  await mkdir(dir, { recursive: true });
  for (const [file, bytes] of files) await writeFile(path.join(dir, file), bytes);
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  g.dispose();
}

describe('gan evaluate', () => {
  let root: string;
  let classifierDir: string;
  let modelDir: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'gan-evaluate-'));
    const data = `folder:${await makeFolderDataset(path.join(root, 'data'))}`;
    classifierDir = path.join(root, 'classifier');
    const trained = await trainExtractor({
      data,
      imageSize: 8,
      epochs: 2,
      batchSize: 16,
      learningRate: 3e-3,
      maxShift: 0,
      seed: 't',
      backend: 'cpu',
      out: classifierDir,
      cacheDir: path.join(root, 'cache'),
    });
    expect(trained.info.classNames).toEqual(['blue', 'red']);
    expect(trained.info.heldOutCount).toBe(4); // the last 10 % of each class, rounded down
    modelDir = path.join(root, 'model');
    await exportTinyGenerator(modelDir, data, ['blue', 'red']);
  });

  it('is deterministic and reports FD, the real-vs-real floor and class accuracy', async () => {
    const options = { samples: 12, seed: 'e', backend: 'cpu', classifier: classifierDir, cacheDir: path.join(root, 'cache') };
    const tensors = tf.memory().numTensors;
    const first = await evaluateExport(modelDir, options);
    expect(tf.memory().numTensors).toBe(tensors);
    const second = await evaluateExport(modelDir, options);
    expect({ ...second, seconds: 0 }).toEqual({ ...first, seconds: 0 });
    expect(first).toMatchObject({
      extractor: 'folder-data-8',
      samples: 12,
      seed: 'e',
      referenceImages: 4,
      model: { name: 'tiny', version: 'v1' },
    });
    expect(first.note).toMatch(/not Inception FID/);
    expect(first.fd).toBeGreaterThan(0);
    expect(first.fdFloor).toBeGreaterThanOrEqual(0);
    // An untrained generator's noise is further from the real images than real images are.
    expect(first.fd).toBeGreaterThan(first.fdFloor);
    expect(first.classAccuracy).toBeGreaterThanOrEqual(0);
    expect(first.classAccuracy).toBeLessThanOrEqual(1);
    expect(Object.keys(first.classAccuracyByClass ?? {})).toEqual(['blue', 'red']);
    const other = await evaluateExport(modelDir, { ...options, seed: 'f' });
    expect(other.fd).not.toBe(first.fd);
  });

  it('an instance-discrimination extractor reports 1-NN class accuracy and skips class accuracy', async () => {
    const dir = path.join(root, 'instances');
    const { info } = await trainExtractor({
      data: `folder:${path.join(root, 'data')}`,
      imageSize: 8,
      labels: 'instances',
      epochs: 1,
      batchSize: 16,
      learningRate: 3e-3,
      maxShift: 1,
      seed: 't',
      backend: 'cpu',
      out: dir,
      cacheDir: path.join(root, 'cache'),
    });
    expect(info.labels).toBe('instances');
    expect(info.heldOutAccuracy).toBe(info.heldOutNearestNeighbourAccuracy);
    const evaluation = await evaluateExport(modelDir, {
      samples: 6,
      seed: 'e',
      backend: 'cpu',
      classifier: dir,
      cacheDir: path.join(root, 'cache'),
    });
    expect(evaluation.classAccuracy).toBeUndefined();
    expect(evaluation.classAccuracySkipped).toMatch(/not classes/);
    expect(evaluation.fd).toBeGreaterThan(0);
  });

  it('scores a folder of images made elsewhere, with class accuracy from sub-folder names', async () => {
    const fromModel = await evaluateExport(modelDir, {
      samples: 48,
      seed: 'e',
      backend: 'cpu',
      classifier: classifierDir,
      cacheDir: path.join(root, 'cache'),
    });
    const real = await evaluateImageFolder(path.join(root, 'data'), {
      seed: 'e',
      backend: 'cpu',
      classifier: classifierDir,
      cacheDir: path.join(root, 'cache'),
    });
    expect(real).toMatchObject({ images: path.join(root, 'data'), samples: 48, extractor: 'folder-data-8' });
    expect(real.model).toBeUndefined();
    expect(Object.keys(real.classAccuracyByClass ?? {})).toEqual(['blue', 'red']);
    // The real images themselves score far better than an untrained generator's noise.
    expect(real.fd).toBeLessThan(fromModel.fd);
  });

  it('prints JSON for the gate, and rejects a bad sample count as usage error', async () => {
    const out = path.join(root, 'evaluation.json');
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main([
        'node',
        'gan',
        'evaluate',
        '--model',
        modelDir,
        '--classifier',
        classifierDir,
        '--samples',
        '6',
        '--json',
        '--out',
        out,
        '--backend',
        'cpu',
      ]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const json = JSON.parse(printed);
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(json);
    expect(Object.keys(json).sort()).toEqual(
      [
        'backend',
        'classAccuracy',
        'classAccuracyByClass',
        'extractor',
        'extractorAccuracyMeasure',
        'extractorHeldOutAccuracy',
        'extractorVersion',
        'fd',
        'fdFloor',
        'fdRatio',
        'featureSize',
        'metric',
        'model',
        'note',
        'referenceImages',
        'samples',
        'seconds',
        'seed',
      ].sort(),
    );
    expect(typeof json.fd).toBe('number');
    expect(typeof json.classAccuracy).toBe('number'); // the gate's default rules read fd and classAccuracy
    expect(await main(['node', 'gan', 'evaluate', '--model', modelDir, '--samples', '1'])).toBe(2);
    expect(await main(['node', 'gan', 'evaluate', '--images', modelDir])).toBe(2); // needs --classifier
    expect(await main(['node', 'gan', 'evaluate'])).toBe(2); // needs --model or --images
  });
});
