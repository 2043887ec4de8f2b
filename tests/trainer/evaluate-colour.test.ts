/**
 * The colour evaluation: the ImageNet extractor that ships in the nsfwjs package (loaded from disk,
 * network off), KID's estimator against known answers, Fréchet distance on the large-dimension path,
 * and style agreement.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Sfc32 } from '@gan/core/prng';
import { defaultCacheDir } from '@gan/trainer/data/index';
import { type LabelledImages, buildClassifier } from '@gan/trainer/evaluate/classifier';
import { classSubset, defaultExtractor, evaluateImagesWithImageNet } from '@gan/trainer/evaluate/colour';
import { JACOBI_MAX_DIM, frechetDistance } from '@gan/trainer/evaluate/frechet';
import { type ImageNetExtractor, MOBILENET_ID, loadMobileNetExtractor } from '@gan/trainer/evaluate/imagenet';
import { kernelInceptionDistance, unbiasedPolynomialMmd2 } from '@gan/trainer/evaluate/kid';
import type { ClassifierInfo } from '@gan/trainer/evaluate/store';
import { withEvaluationSection } from '@gan/trainer/export/model-card';
import { main } from '@gan/trainer/cli';
import { colourExtractor as standInExtractor } from '../helpers/colour-extractor.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  vi.unstubAllGlobals();
});

/** `count` Gaussian vectors N(mean, 1) of length `dim`. */
function gaussian(count: number, dim: number, mean: number, seed: string): Float32Array {
  const rng = Sfc32.fromSeed(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const t = 2 * Math.PI * rng.next();
    out[i] = mean + r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(t);
  }
  return out;
}

/** MMD² by the definitions, in float64: unbiased (U) or with the diagonal kept (V, biased upwards). */
function referenceMmd2(x: Float32Array, m: number, y: Float32Array, n: number, dim: number, biased: boolean): number {
  const k = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let dot = 0;
    for (let c = 0; c < dim; c++) dot += a[i * dim + c] * b[j * dim + c];
    return (dot / dim + 1) ** 3;
  };
  const within = (a: Float32Array, size: number) => {
    let s = 0;
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) if (biased || i !== j) s += k(a, i, a, j);
    return s / (biased ? size * size : size * (size - 1));
  };
  let cross = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cross += k(x, i, y, j);
  return within(x, m) + within(y, n) - (2 * cross) / (m * n);
}

describe('KID', () => {
  it('gives the hand-computed unbiased MMD² of two tiny sets', () => {
    // d = 1, k(a, b) = (ab + 1)³. Within x: k(0, 1) = 1; within y: k(2, 3) = 343;
    // across: k(0, 2) = k(0, 3) = 1, k(1, 2) = 27, k(1, 3) = 64, mean 23.25. 1 + 343 − 2·23.25 = 297.5.
    expect(unbiasedPolynomialMmd2(Float32Array.of(0, 1), 2, Float32Array.of(2, 3), 2, 1)).toBeCloseTo(297.5, 9);
  });

  it('matches the definition on random features of unequal set sizes', () => {
    const x = gaussian(7, 5, 0, 'x');
    const y = gaussian(9, 5, 0.3, 'y');
    expect(unbiasedPolynomialMmd2(x, 7, y, 9, 5)).toBeCloseTo(referenceMmd2(x, 7, y, 9, 5, false), 5);
  });

  it('is about 0 for two samples of one distribution and clearly positive for shifted ones', () => {
    const dim = 16;
    const a = gaussian(400, dim, 0, 'a');
    const b = gaussian(400, dim, 0, 'b');
    const shifted = gaussian(400, dim, 0.5, 'c');
    const same = kernelInceptionDistance(a, 400, b, 400, dim, { seed: 's', subsets: 10, maxSubsetSize: 200 });
    const apart = kernelInceptionDistance(a, 400, shifted, 400, dim, { seed: 's', subsets: 10, maxSubsetSize: 200 });
    expect(same).toMatchObject({ subsets: 10, subsetSize: 200 });
    expect(Math.abs(same.mean)).toBeLessThan(0.05);
    // Expected MMD² of the shift: ‖Δμ‖² / d = 0.25 in the linear part of the kernel alone (×3 from the cube's expansion, and more).
    expect(apart.mean).toBeGreaterThan(0.5);
    expect(apart.mean).toBeGreaterThan(10 * Math.abs(same.mean) + 5 * apart.std);
    // Same seed, same subsets, same result.
    expect(kernelInceptionDistance(a, 400, shifted, 400, dim, { seed: 's', subsets: 10, maxSubsetSize: 200 })).toEqual(apart);
  });

  it('is unbiased: averaged over many small draws of one distribution it is 0, where the V-statistic is not', () => {
    const dim = 4;
    const size = 6;
    const draws = 300;
    let unbiased = 0;
    let biased = 0;
    for (let t = 0; t < draws; t++) {
      const x = gaussian(size, dim, 0, `u-x-${t}`);
      const y = gaussian(size, dim, 0, `u-y-${t}`);
      unbiased += unbiasedPolynomialMmd2(x, size, y, size, dim) / draws;
      biased += referenceMmd2(x, size, y, size, dim, true) / draws;
    }
    // The V-statistic's bias is 2·(E k(x,x) − E k(x,y)) / size, about 0.5 here; the U-statistic has none.
    expect(biased).toBeGreaterThan(0.3);
    expect(Math.abs(unbiased)).toBeLessThan(biased / 5);
  });

  it('uses one subset when the subsets would be the whole sets', () => {
    const x = gaussian(5, 3, 0, 'p');
    const y = gaussian(5, 3, 1, 'q');
    const kid = kernelInceptionDistance(x, 5, y, 5, 3, { seed: 's' });
    expect(kid).toMatchObject({ subsets: 1, subsetSize: 5, std: 0 });
    expect(kid.mean).toBeCloseTo(unbiasedPolynomialMmd2(x, 5, y, 5, 3), 12);
  });
});

describe('Fréchet distance over ImageNet-sized features', () => {
  it(`gives Σ(√aᵢ − √bᵢ)² + ‖Δμ‖² for covariances that share eigenvectors (${JACOBI_MAX_DIM + 44} dimensions, dense)`, () => {
    const n = JACOBI_MAX_DIM + 44;
    const rng = Sfc32.fromSeed('fd-large');
    // A random Householder reflection Q = I − 2vvᵀ makes Q diag(a) Qᵀ dense.
    const v = Float64Array.from({ length: n }, () => rng.next() - 0.5);
    const norm = Math.hypot(...v);
    v.forEach((x, i) => {
      v[i] = x / norm;
    });
    const rotated = (d: Float64Array) => {
      const out = new Float64Array(n * n);
      // (I − 2vvᵀ) D (I − 2vvᵀ) = D − 2 v (Dv)ᵀ − 2 (Dv) vᵀ + 4 (vᵀDv) vvᵀ
      const dv = d.map((x, i) => x * v[i]);
      const vdv = dv.reduce((s, x, i) => s + x * v[i], 0);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) out[i * n + j] = (i === j ? d[i] : 0) - 2 * v[i] * dv[j] - 2 * dv[i] * v[j] + 4 * vdv * v[i] * v[j];
      return out;
    };
    const da = Float64Array.from({ length: n }, () => 0.1 + rng.next() * 3);
    const db = Float64Array.from({ length: n }, () => 0.1 + rng.next() * 3);
    const mean = Float64Array.from({ length: n }, () => rng.next());
    const fd = frechetDistance(
      { dim: n, count: 1000, mean: new Float64Array(n), covariance: rotated(da) },
      { dim: n, count: 1000, mean, covariance: rotated(db) },
    );
    const expected = da.reduce((s, a, i) => s + (Math.sqrt(a) - Math.sqrt(db[i])) ** 2, 0) + mean.reduce((s, m) => s + m * m, 0);
    expect(fd).toBeCloseTo(expected, 6);
  });
});

describe('the ImageNet extractor', () => {
  it('loads MobileNetV2 from the nsfwjs package with the network off and gives 1280 pooled features per image', async () => {
    const extractor = await (async () => {
      // Installing into the cache (first run only) is npm's job; loading itself must not fetch anything.
      const { locateNsfwjs } = await import('@gan/trainer/evaluate/imagenet');
      await locateNsfwjs({ cacheDir: defaultCacheDir() });
      vi.stubGlobal('fetch', () => {
        throw new Error('no network while loading the extractor');
      });
      return loadMobileNetExtractor({ cacheDir: defaultCacheDir() });
    })();
    try {
      expect(extractor).toMatchObject({ id: MOBILENET_ID, inputSize: 224, featureSize: 1280 });
      expect(extractor.version).toMatch(/^[0-9a-f]{12}$/);
      expect(extractor.source).toMatch(/^nsfwjs@4\.\d+\.\d+ MobileNetV2$/);
      const tensors = tf.memory().numTensors;
      // A white and a red-and-blue 8×8 colour image, and a grey one (tiled to RGB).
      const colour = Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) =>
        i < 192 ? 1 : i % 3 === 0 ? 1 : i % 3 === 2 ? (i % 2) * 2 - 1 : -1,
      );
      const features = extractor.extract(colour, 2, 8, 3);
      const grey = extractor.extract(new Float32Array(8 * 8).fill(0.2), 1, 8, 1);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(features.length).toBe(2 * 1280);
      expect(grey.length).toBe(1280);
      expect(features.every(Number.isFinite)).toBe(true);
      // Pooled ReLU features: non-negative, and different images give different features.
      expect(Math.min(...features)).toBeGreaterThanOrEqual(0);
      const distance = features.subarray(0, 1280).reduce((s, v, i) => s + (v - features[1280 + i]) ** 2, 0);
      expect(distance).toBeGreaterThan(0);
    } finally {
      extractor.dispose();
    }
  });

  it('is the default for colour models of 32 px and more; grey and small models keep their classifier', () => {
    expect(defaultExtractor(3, 32)).toBe('mobilenet');
    expect(defaultExtractor(3, 64)).toBe('mobilenet');
    expect(defaultExtractor(1, 32)).toBe('classifier'); // mnist: its recorded numbers stay reproducible
    expect(defaultExtractor(3, 16)).toBe('classifier');
  });
});

describe('evaluateImagesWithImageNet', () => {
  const colourExtractor = standInExtractor();

  /** `count` 8×8 images of class 0 (reddish) or 1 (bluish), alternating, with seeded noise. */
  function images(count: number, seed: string): LabelledImages {
    const rng = Sfc32.fromSeed(seed);
    const data = new Float32Array(count * 8 * 8 * 3);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      labels[i] = i % 2;
      for (let p = 0; p < 64; p++) {
        data[(i * 64 + p) * 3 + (labels[i] === 0 ? 0 : 2)] = 0.8 + 0.2 * rng.next();
        data[(i * 64 + p) * 3 + 1] = rng.next() - 0.5;
        data[(i * 64 + p) * 3 + (labels[i] === 0 ? 2 : 0)] = -0.8;
      }
    }
    return { images: data, labels, count, imageSize: 8, channels: 3, classNames: ['red', 'blue'] };
  }

  it('reports FD and KID with their floors, and style agreement next to the classifier’s own held-out accuracy', () => {
    const train = images(40, 'train');
    const heldOut = images(10, 'held');
    const model = buildClassifier({ imageSize: 8, channels: 3, numClasses: 2 }, 1);
    const info = {
      id: 'test-8',
      version: '111111111111',
      classNames: ['red', 'blue'],
      labels: 'classes',
      imageSize: 8,
      channels: 3,
    } as ClassifierInfo;
    try {
      const samples = images(20, 'samples');
      const tensors = tf.memory().numTensors;
      const common = {
        extractor: colourExtractor,
        count: 20,
        imageSize: 8,
        channels: 3,
        classNames: ['red', 'blue'],
        train,
        heldOut,
        seed: 'e',
        backend: 'cpu',
        judge: { classifier: { model, info } },
      };
      const real = evaluateImagesWithImageNet({ ...common, images: samples.images, classes: samples.labels });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(real).toMatchObject({ metric: 'imagenet-feature-distances', extractor: 'test-mean-colour', samples: 20, referenceImages: 10 });
      expect(real.note).toMatch(/not comparable to published FIDs/);
      expect(real.kid.subsetSize).toBe(10);
      expect(real.kidFloor.subsetSize).toBe(10);
      expect(Object.keys(real.classAccuracyByClass ?? {})).toEqual(['red', 'blue']);
      expect(real.styleClassifier).toMatchObject({ id: 'test-8', version: '111111111111' });
      expect(Object.keys(real.styleClassifier!.heldOutAccuracyByClass)).toEqual(['red', 'blue']);
      // Swapping the requested classes flips agreement: an untrained classifier still answers consistently.
      const swapped = evaluateImagesWithImageNet({ ...common, images: samples.images, classes: samples.labels.map((l) => 1 - l) });
      expect(swapped.classAccuracy).toBeCloseTo(1 - real.classAccuracy!, 9);
      // Grey images are further from the real ones than real images of the same classes.
      const grey = evaluateImagesWithImageNet({ ...common, images: new Float32Array(samples.images.length), classes: samples.labels });
      expect(grey.fd).toBeGreaterThan(real.fd);
      expect(grey.kid.mean).toBeGreaterThan(real.kid.mean);
      expect(real.fdFloor).toBeGreaterThanOrEqual(0);
    } finally {
      model.dispose();
    }
  });

  it('goes into the model card with KID and its floor, and the note that it is not a published FID', () => {
    const train = images(20, 'train');
    const heldOut = images(6, 'held');
    const e = evaluateImagesWithImageNet({
      extractor: colourExtractor,
      images: train.images,
      count: 20,
      imageSize: 8,
      channels: 3,
      classNames: [],
      train,
      heldOut,
      seed: 'e',
      backend: 'cpu',
    });
    const card = withEvaluationSection('# model\n', JSON.parse(JSON.stringify(e)));
    expect(card).toContain(`| KID to held-out real images (50 subsets of 6) | ${e.kid.mean.toFixed(4)} ± ${e.kid.std.toFixed(4)} |`);
    expect(card).toContain('| KID real-vs-real floor |');
    expect(card).toContain(e.fd.toFixed(3));
    expect(card).toMatch(/not comparable to published FIDs/);
    expect(card).not.toMatch(/own classifier/);
  });

  it('keeps one class of the real data for per-class scoring, and names a missing class', () => {
    const data = images(9, 'subset');
    const blue = classSubset(data, 'blue');
    expect(blue.count).toBe(4);
    expect(Array.from(blue.labels)).toEqual([1, 1, 1, 1]);
    expect(Array.from(blue.images.subarray(0, 192))).toEqual(Array.from(data.images.subarray(192, 384)));
    expect(() => classSubset(data, 'green')).toThrow(/no class "green"/);
  });

  it('says why style agreement is missing', () => {
    const train = images(20, 'train');
    const heldOut = images(6, 'held');
    const e = evaluateImagesWithImageNet({
      extractor: colourExtractor,
      images: train.images,
      count: 20,
      imageSize: 8,
      channels: 3,
      classes: train.labels,
      classNames: ['red', 'blue'],
      judge: { skipped: 'no classifier' },
      train,
      heldOut,
      seed: 'e',
      backend: 'cpu',
    });
    expect(e.classAccuracy).toBeUndefined();
    expect(e.classAccuracySkipped).toBe('no classifier');
  });

  it('keeps the real images’ features between evaluations, and extracts them again for other pixels', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gan-features-'));
    const train = images(20, 'train');
    const heldOut = images(6, 'held');
    let extracted = 0;
    const counting: ImageNetExtractor = {
      ...colourExtractor,
      extract(...args) {
        extracted += args[1];
        return colourExtractor.extract(...args);
      },
    };
    const run = (held: LabelledImages) =>
      evaluateImagesWithImageNet({
        extractor: counting,
        images: train.images,
        count: 20,
        imageSize: 8,
        channels: 3,
        classNames: [],
        train,
        heldOut: held,
        seed: 'e',
        backend: 'cpu',
        realFeatureCache: dir,
      });
    const first = run(heldOut);
    expect(extracted).toBe(20 + 6 + 20);
    const second = run(heldOut);
    expect(extracted).toBe(20 + 6 + 20 + 20); // only the images to score
    expect(second.fd).toBe(first.fd);
    expect(second.fdFloor).toBe(first.fdFloor);
    run(images(6, 'other held-out'));
    expect(extracted).toBe(20 + 6 + 20 + 20 + 20 + 6);
  });
});

describe('gan evaluate --extractor mobilenet', () => {
  it('needs the real data set and size to score a folder', async () => {
    const folder = path.join(defaultCacheDir(), 'nonexistent-images');
    expect(await main(['node', 'gan', 'evaluate', '--images', folder, '--extractor', 'mobilenet'])).toBe(2);
    expect(await main(['node', 'gan', 'evaluate', '--images', folder, '--extractor', 'inception'])).not.toBe(0);
  });
});
