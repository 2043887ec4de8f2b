/**
 * The emoji style judge and `gan evaluate --extractor judge`: the shipped judge's accuracy on a fixed
 * sample of real held-out renders, its fixed split, the statistics it reads beside the pixels, and an
 * evaluation's record end to end (on a small untrained judge: what is checked is the bookkeeping).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { decode } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvaluationRecordSchema } from '@gan/core/manifest';
import type { LabelledImages } from '@gan/trainer/evaluate/classifier';
import { evaluateWithJudge, formatJudgeEvaluation } from '@gan/trainer/evaluate/judge';
import { evaluateImagesWithImageNet } from '@gan/trainer/evaluate/colour';
import type { ImageNetExtractor } from '@gan/trainer/evaluate/imagenet';
import { boxDownscale } from '@gan/trainer/evaluate/judge-run';
import { flatFill, flatFillShares } from '@gan/trainer/evaluate/flat-fill';
import { snapToPalette } from '@gan/trainer/evaluate/palette-snap';
import { addPixelNoise, addRandomPixelNoise } from '@gan/trainer/evaluate/pixel-noise';
import { heldOutByName, markHeldOut } from '@gan/trainer/evaluate/style-data';
import { Sfc32 } from '@gan/core/prng';
import { buildStyleJudge, judgeAccuracy } from '@gan/trainer/evaluate/style-judge';
import { STATISTICS_SIZE, styleStatistics } from '@gan/trainer/evaluate/style-statistics';
import { type ClassifierInfo, defaultClassifiersDir, loadClassifier } from '@gan/trainer/evaluate/store';
import { DEFAULT_GATE_RULES, runQualityGate } from '@gan/trainer/evaluate/quality-gate';
import { withEvaluationSection } from '@gan/trainer/export/model-card';
import { ganInProcess as gan } from './gan-in-process.ts';
import { colourExtractor } from '../helpers/colour-extractor.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const FIXTURE = path.resolve(import.meta.dirname, 'style-judge-fixture');

/** The fixture: ten held-out renders per style, one style per row (tests/helpers/make-style-judge-fixture.ts). */
async function fixture(): Promise<LabelledImages> {
  const meta = JSON.parse(await readFile(path.join(FIXTURE, 'held-out-32.json'), 'utf8')) as { classNames: string[]; perStyle: number };
  const png = decode(await readFile(path.join(FIXTURE, 'held-out-32.png')));
  const s = 32;
  const count = meta.classNames.length * meta.perStyle;
  const images = new Float32Array(count * s * s * 3);
  const labels = new Int32Array(count);
  for (let style = 0; style < meta.classNames.length; style++)
    for (let col = 0; col < meta.perStyle; col++) {
      const i = style * meta.perStyle + col;
      labels[i] = style;
      for (let y = 0; y < s; y++)
        for (let x = 0; x < s; x++)
          for (let c = 0; c < 3; c++)
            images[((i * s + y) * s + x) * 3 + c] = png.data[((style * s + y) * png.width + col * s + x) * png.channels + c] / 127.5 - 1;
    }
  return { images, labels, count, imageSize: s, channels: 3, classNames: meta.classNames };
}

describe('the shipped style judge', () => {
  it('gets at least 90 % of a fixed sample of real held-out renders right, and every style at least 70 %', async () => {
    const judge = await loadClassifier(path.join(defaultClassifiersDir(), 'emoji-style-32'));
    try {
      const data = await fixture();
      expect(judge.info.classNames).toEqual(data.classNames);
      const measured = judgeAccuracy(judge.model, data);
      expect(measured.accuracy).toBeGreaterThanOrEqual(0.9);
      for (const [style, share] of Object.entries(measured.byClass)) expect(share, style).toBeGreaterThanOrEqual(0.7);
    } finally {
      judge.model.dispose();
    }
  });

  it('keeps its calls under pixel noise nobody sees: the same sample with N(0, 4²) levels on every value is still at least 85 % right', async () => {
    const judge = await loadClassifier(path.join(defaultClassifiersDir(), 'emoji-style-32'));
    try {
      const data = await fixture();
      const noisy = { ...data, images: addPixelNoise(data.images.slice(), 4, Sfc32.fromSeed('fixture-noise')) };
      expect(judgeAccuracy(judge.model, noisy).accuracy).toBeGreaterThanOrEqual(0.85);
    } finally {
      judge.model.dispose();
    }
  });

  it('records its held-out accuracy, per style and as a confusion matrix, and reads the statistics it was trained with', async () => {
    const info = JSON.parse(
      await readFile(path.join(defaultClassifiersDir(), 'emoji-style-32', 'classifier.json'), 'utf8'),
    ) as ClassifierInfo;
    expect(info.heldOutAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(info.statistics).toBe('colour-gradient-v2');
    expect(Object.keys(info.heldOutAccuracyByClass ?? {})).toEqual(info.classNames);
    const total = (info.confusion ?? []).flat().reduce((a, b) => a + b, 0);
    expect(total).toBe(info.heldOutCount);
    // Trained with pixel noise, and its card says how far such noise still moves its distances.
    expect(info.training.pixelNoise).toBeGreaterThan(0);
    const atTwoLevels = info.noiseRobustness?.find((r) => r.levels === 2);
    expect(atTwoLevels?.fdRatio).toBeLessThan(1.5);
  });
});

describe('pixel noise', () => {
  it('σ 0 only rounds to 8 bits; σ > 0 moves values by about σ levels, the same for the same seed', () => {
    const images = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 0.9);
    const rounded = addPixelNoise(images.slice(), 0, Sfc32.fromSeed('a'));
    for (let i = 0; i < images.length; i++) {
      const level = (rounded[i] + 1) * 127.5;
      expect(Math.abs(level - Math.round(level))).toBeLessThan(1e-4);
      expect(Math.abs(rounded[i] - images[i])).toBeLessThanOrEqual(0.5 / 127.5 + 1e-6);
    }
    const noisy = addPixelNoise(images.slice(), 4, Sfc32.fromSeed('a'));
    const rms = Math.sqrt(noisy.reduce((sum, v, i) => sum + ((v - rounded[i]) * 127.5) ** 2, 0) / images.length);
    expect(rms).toBeGreaterThan(3.5);
    expect(rms).toBeLessThan(4.5);
    expect(Array.from(addPixelNoise(images.slice(), 4, Sfc32.fromSeed('a')))).toEqual(Array.from(noisy));
  });

  it('gives each image its own σ up to the maximum', () => {
    const images = new Float32Array(50 * 64);
    addRandomPixelNoise(images, 50, 6, Sfc32.fromSeed('b'));
    const sigmas = Array.from({ length: 50 }, (_, i) => {
      const part = images.subarray(i * 64, (i + 1) * 64);
      return Math.sqrt(part.reduce((sum, v) => sum + ((v + 1) * 127.5 - 127.5) ** 2, 0) / 64);
    });
    expect(Math.max(...sigmas)).toBeLessThan(6 * 1.6);
    expect(Math.max(...sigmas) - Math.min(...sigmas)).toBeGreaterThan(2);
  });
});

describe('palette snaps', () => {
  it('leave at most k colours in the drawing and the white page as it was, the same every time', () => {
    const s = 16;
    const image = Float32Array.from({ length: s * s * 3 }, (_, i) => (Math.floor(i / 3) % 5 === 0 ? 1 : Math.sin(i * 0.7) * 0.8));
    const snapped = snapToPalette(image.slice(), 6);
    const colours = new Set<string>();
    for (let p = 0; p < s * s; p++) {
      const pixel = Array.from(snapped.subarray(p * 3, p * 3 + 3));
      if (p % 5 === 0) expect(pixel).toEqual([1, 1, 1]);
      else colours.add(pixel.join());
    }
    expect(colours.size).toBeLessThanOrEqual(6);
    expect(colours.size).toBeGreaterThan(1);
    expect(Array.from(snapToPalette(image.slice(), 6))).toEqual(Array.from(snapped));
  });
});

describe('gan train-classifier --pixel-noise and --palette-snap', () => {
  it('are refused without --judge, naming the flag', async () => {
    const r = await gan('train-classifier', '--data', 'mnist', '--pixel-noise', '3');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --pixel-noise: is an augmentation of the style judge: add --judge/);
    const p = await gan('train-classifier', '--data', 'mnist', '--palette-snap', '0.5');
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/error: --palette-snap: is an augmentation of the style judge: add --judge/);
  });
});

describe("the judge's held-out split", () => {
  it('holds out an icon outside the model groups by a hash of its name, the same in every style and forever', () => {
    // Fixed values: a change here changes which renders the judge may train on.
    expect(['kiwi-fruit', 'cook', 'prayer-beads'].map(heldOutByName)).toEqual([true, true, true]);
    expect(['red-apple', 'rocket', 'soccer-ball'].map(heldOutByName)).toEqual([false, false, false]);
    expect(heldOutByName('baby-1')).toBe(heldOutByName('baby-2'));
  });

  it("holds out the model groups' icons as the data loader does: the last tenth of each style in name order", () => {
    const icons = [
      ...Array.from({ length: 20 }, (_, i) => ({ name: `face-${String(i).padStart(2, '0')}`, group: 'smileys-emotion' as const })),
      { name: 'kiwi-fruit', group: 'food-drink' as const },
      { name: 'red-apple', group: 'food-drink' as const },
    ];
    const heldOut = markHeldOut(icons, ['smileys-emotion', 'animals-nature']);
    expect(
      heldOut
        .slice(0, 20)
        .map((h, i) => (h ? i : -1))
        .filter((i) => i >= 0),
    ).toEqual([18, 19]);
    expect(heldOut.slice(20)).toEqual([true, false]);
  });
});

/** One 32-px image on white with a square drawn by `paint(x, y)` → RGB in [0, 1]. */
function drawing(paint: (x: number, y: number) => [number, number, number]): Float32Array {
  const out = new Float32Array(32 * 32 * 3).fill(1);
  for (let y = 8; y < 24; y++)
    for (let x = 8; x < 24; x++) {
      const rgb = paint(x, y);
      for (let c = 0; c < 3; c++) out[(y * 32 + x) * 3 + c] = rgb[c] * 2 - 1;
    }
  return out;
}

describe('style statistics', () => {
  const GRADIENT = 92; // first bin of the neighbour-difference histogram
  it('puts a flat fill in the lowest gradient bin and a shaded one above it', () => {
    const flat = styleStatistics(
      drawing(() => [0.9, 0.6, 0.1]),
      1,
      32,
    );
    const shaded = styleStatistics(
      drawing((x, y) => [0.3 + 0.04 * (x - 8), 0.2 + 0.03 * (y - 8), 0.1]),
      1,
      32,
    );
    expect(flat.length).toBe(STATISTICS_SIZE);
    // 16×16 drawing: the 14×14 inside has no difference, the rim touches the white background.
    expect(flat[GRADIENT] ** 2).toBeCloseTo(196 / 256, 5);
    expect(shaded[GRADIENT] ** 2).toBe(0);
    expect(flat[110]).toBeCloseTo(256 / 1024, 6); // the drawing's share of the image
  });

  it('sees a dark outline on the rim', () => {
    const outlined = styleStatistics(
      drawing((x, y) => (x === 8 || y === 8 || x === 23 || y === 23 ? [0.05, 0.05, 0.05] : [0.9, 0.8, 0.2])),
      1,
      32,
    );
    expect(outlined[102]).toBe(1); // every rim pixel dark
    expect(outlined[100] ** 2).toBeCloseTo(60 / 256, 5); // dark share
  });
});

describe('an evaluation with the judge', () => {
  /** `count` random images per class in [-1, 1], class c brighter than class c − 1. */
  function images(perClass: number, classes: number, seed: number): LabelledImages {
    const s = 32;
    const count = perClass * classes;
    const data = new Float32Array(count * s * s * 3);
    let state = seed;
    const next = () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(i / (s * s * 3) / perClass) * 0.5 - 0.8 + 0.3 * next();
    return {
      images: data,
      labels: Int32Array.from({ length: count }, (_, i) => Math.floor(i / perClass)),
      count,
      imageSize: s,
      channels: 3,
      classNames: ['a', 'b'].slice(0, classes),
    };
  }

  it('records distances with floors, precision and recall with ceilings, copies and agreement, in a manifest-valid record', () => {
    const info = {
      id: 'test-judge',
      version: '000000000000',
      imageSize: 32,
      channels: 3,
      classNames: ['a', 'b'],
      labels: 'classes',
      heldOutAccuracy: 0.5,
    };
    const train = images(12, 2, 1);
    const heldOut = images(6, 2, 2);
    /** 16 samples (12 of class a, 4 of b) judged by an untrained judge against `train` and `heldOut`. */
    const judged = (images: Float32Array, served: { size?: number; truncation?: number; imagenet?: ImageNetExtractor } = {}) => {
      const model = buildStyleJudge(32, 2, 3);
      try {
        return evaluateWithJudge({
          judge: { model, info: info as unknown as ClassifierInfo },
          images,
          count: 16,
          classes: Int32Array.from({ length: 16 }, (_, i) => (i < 12 ? 0 : 1)),
          classNames: ['a', 'b'],
          train,
          heldOut,
          seed: 'test',
          backend: 'cpu',
          ...served,
        });
      } finally {
        model.dispose();
      }
    };
    // The samples are training images: every one a copy.
    const meanColour = colourExtractor(32);
    const sampleImages = train.images.slice(0, 16 * 32 * 32 * 3);
    const e = judged(sampleImages, { size: 64, truncation: 0.7, imagenet: meanColour });
    // Beside the judge: the same images' distance in the ImageNet network, as gan evaluate --extractor mobilenet gives it.
    const alone = evaluateImagesWithImageNet({
      extractor: meanColour,
      images: sampleImages,
      count: 16,
      imageSize: 32,
      channels: 3,
      classNames: ['a', 'b'],
      train,
      heldOut,
      seed: 'test',
      backend: 'cpu',
    });
    expect(e.imagenet).toEqual({
      extractor: 'test-mean-colour',
      extractorVersion: '000000000000',
      imageSize: 32,
      referenceImages: 12,
      fd: alone.fd,
      fdFloor: alone.fdFloor,
      fdRatio: alone.fdRatio,
    });
    expect(formatJudgeEvaluation(e)).toContain(
      `beside it, in ImageNet features (test-mean-colour, the same 32-px images against 12 held-out renders): FD ${alone.fd.toPrecision(4)}`,
    );
    expect(e.metric).toBe('style-judge-distances');
    expect(e.referenceImages).toBe(36);
    expect(e.copies.copies).toBe(1);
    expect(e.copies.heldOutCopies).toBeLessThanOrEqual(0.1);
    expect(e.fdFloor).toBeGreaterThanOrEqual(0);
    expect(Object.keys(e.fdByClass ?? {})).toEqual(['a', 'b']);
    const pr = e.precisionRecall!;
    expect(pr.k).toBe(3);
    expect(pr.withinStyle!.precision).toBe(1); // every sample is a real training image
    for (const v of [
      pr.withinStyle!.recall,
      pr.pooled.precision,
      pr.pooled.recall,
      pr.ceiling.pooled.precision,
      pr.ceiling.withinStyle!.recall,
    ]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(e.styleClassifier?.id).toBe('test-judge');
    const record = JSON.parse(JSON.stringify(e));
    expect(EvaluationRecordSchema.safeParse(record).success).toBe(true);
    const card = withEvaluationSection('# model\n', record);
    expect(card).toContain('--extractor judge --size 64 --truncation 0.7');
    expect(formatJudgeEvaluation(e)).toContain('served at 64 px with truncation 0.7');
    expect(card).toContain('precision / recall within style');
    expect(card).toContain(`| beside it, in ImageNet features (test-mean-colour): FD / floor | ${alone.fd.toFixed(2)} /`);
    expect(card).toContain('(held-out real: ');
    expect(card).toMatch(/\| flat fill: drawn pixels the colour of their neighbours \| 0\.\d % \(real renders: 0\.\d %\) \|/);
    expect(formatJudgeEvaluation(e)).toContain('copies: 100.0 %');
    // Class a's samples are one flat colour, b's (and every real image) noise: flat fill tells them apart, per style.
    const flat = judged(Float32Array.from(train.images.subarray(0, 16 * 32 * 32 * 3), (v, i) => (i < 12 * 32 * 32 * 3 ? -0.2 : v)));
    const { samples, real, byClass } = flat.flatFill!;
    expect(byClass!.a.samples).toBe(1);
    for (const v of [byClass!.b.samples, byClass!.a.real, byClass!.b.real, real]) expect(v).toBeLessThan(0.01);
    expect(samples).toBeCloseTo((12 + 4 * byClass!.b.samples) / 16, 6);
    expect(formatJudgeEvaluation(flat)).toMatch(
      /flat fill \(share of drawn pixels the colour of their neighbours; samples \/ real\): 75\.\d % \/ 0\.0 %; per style: a 100\.0 % \/ 0\.0 %, b 0\.\d % \/ 0\.0 %/,
    );
  });

  it('measures flat fill: the share of drawn pixels whose right and lower neighbours have their colour', () => {
    const s = 4;
    const red = [1, -1, -1];
    const blue = [-1, -1, 1];
    const white = [1, 1, 1];
    const image = (colour: (y: number, x: number) => number[]) =>
      Array.from({ length: s * s }, (_, p) => colour(Math.floor(p / s), p % s)).flat();
    const data = Float32Array.from([
      ...image(() => white), // nothing drawn
      ...image(() => red), // all 9 measured pixels flat
      ...image((y, x) => ((x + y) % 2 ? red : blue)), // checkerboard: none
      ...image((_, x) => (x < 2 ? red : blue)), // columns 0 and 2 flat, column 1 on the edge: 6 of 9
      ...image((y, x) => (y === 0 && x === 0 ? white : red.map((v) => v + (x === 1 ? 0.03 : 0)))), // 0.015 steps count as flat; the white corner is not drawn
    ]);
    const shares = flatFillShares(data, 5, s, 3);
    expect(Array.from(shares)).toEqual([0, 1, 0, 6 / 9, 1].map((v) => Math.fround(v)));
    expect(flatFill(shares, [0, 0, 1, 1, 1], 1)).toEqual({ share: (0 + Math.fround(6 / 9) + 1) / 3, images: 3 });
  });

  it('averages served images back down to the judge size', () => {
    // One 4×4 image, one channel: each 2×2 block's mean.
    const bytes = Uint8Array.from([0, 255, 10, 10, 255, 0, 10, 10, 0, 0, 255, 255, 0, 0, 255, 255]);
    const out = boxDownscale(bytes, 1, 4, 1, 2);
    expect(Array.from(out, (v) => Math.round((v + 1) * 127.5))).toEqual([128, 10, 0, 255]);
  });
});

describe('the quality gate and the judge', () => {
  it('refuses to compare style agreement judged by two different judges, or images served at two sizes or truncations', () => {
    const base = { extractor: 'x', extractorVersion: '1', samples: 320, seed: 'evaluate', fd: 1, classAccuracy: 0.75 };
    const older = { ...base, styleClassifier: { id: 'emoji-32', version: 'aaaaaaaaaaaa' } };
    const newer = { ...base, classAccuracy: 0.5, styleClassifier: { id: 'emoji-style-32', version: 'bbbbbbbbbbbb' } };
    const judges = runQualityGate(newer, older, DEFAULT_GATE_RULES);
    expect(judges.pass).toBe(false);
    expect(judges.summary).toMatch(/not comparable: styleClassifier.version/);
    expect(runQualityGate({ ...base, size: 64 }, { ...base, size: 32 }, DEFAULT_GATE_RULES).summary).toMatch(/not comparable: size/);
    expect(runQualityGate({ ...base, truncation: 0.7 }, { ...base, truncation: 1 }, DEFAULT_GATE_RULES).summary).toMatch(
      /not comparable: truncation/,
    );
    expect(runQualityGate(base, base, DEFAULT_GATE_RULES).pass).toBe(true);
  });
});
