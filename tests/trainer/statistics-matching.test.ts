/**
 * Per-class statistics matching (trainer/src/train/statistics-matching.ts): the soft histograms on
 * hand-made images, the loss against hand-computed values, the class means of real images, and G's
 * step that adds the term.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '@gan/core/config';
import { Sfc32 } from '@gan/core/prng';
import {
  GRADIENT_EDGES,
  MATCHED_STATISTICS,
  StatisticsMatching,
  softStyleStatistics,
  statisticsMatchingLoss,
} from '@gan/trainer/train/statistics-matching';
import { drawAugmentation } from '@gan/trainer/train/augment';
import { generatorStep } from '@gan/trainer/train/step';
import { freshModels } from './tiny-run.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const S = 8;
/** An S×S image in [-1, 1], white, with `square` (rows and columns [2, 6)) painted `colour` (in [0, 1]). */
function squareImage(colour: [number, number, number]): Float32Array {
  const image = new Float32Array(S * S * 3).fill(1);
  for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) for (let c = 0; c < 3; c++) image[(y * S + x) * 3 + c] = colour[c] * 2 - 1;
  return image;
}
const shares = (row: ArrayLike<number>) => Array.from(row, (v) => v * v - 1e-3);

/** The soft steps the module uses (drawing mask and gradient edges, both 0.01 wide). */
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const SOFT = 0.01;

describe('the soft statistics', () => {
  it('put a flat fill’s colour in its bin and its pixels in the gradient bins the soft edges give a difference of 0', () => {
    const image = new Float32Array(S * S * 3);
    for (let p = 0; p < S * S; p++) image.set([1, -1, -1], p * 3); // pure red everywhere: no background
    const row = tf.tidy(() => softStyleStatistics(tf.tensor4d(image, [1, S, S, 3])).dataSync());
    expect(row.length).toBe(MATCHED_STATISTICS);
    const p = shares(row);
    // Red (1, 0, 0) sits on the outer bin centres after clamping: all its weight in bin (3, 0, 0).
    expect(p[3 * 16 + 0 * 4 + 0]).toBeCloseTo(1, 4);
    expect(p.slice(0, 64).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const above = GRADIENT_EDGES.map((e) => sigmoid((0 - e) / SOFT)); // share of a 0 difference "above" each edge
    const expected = [1 - above[0], ...above.slice(1).map((a, i) => above[i] - a), above.at(-1)!];
    p.slice(64).forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i], 4);
    });
  });

  it('weigh the white background by the soft mask, and put a square’s rim in the largest gradient bin', () => {
    const p = shares(tf.tidy(() => softStyleStatistics(tf.tensor4d(squareImage([1, 0, 0]), [1, S, S, 3])).dataSync()));
    // 16 red pixels weigh 1; 48 white ones σ((1 − 1 − 0.06) / 0.01) each.
    const white = sigmoid(-0.06 / SOFT);
    const drawn = 16 + 48 * white;
    expect(p[3 * 16 + 0 * 4 + 0]).toBeCloseTo(16 / drawn, 4);
    expect(p[63]).toBeCloseTo((48 * white) / drawn, 4);
    // The rim's 12 red pixels and the 16 white pixels beside the square differ by 1 from a neighbour.
    expect(p.at(-1)!).toBeCloseTo((12 + 16 * white) / drawn, 4);
  });

  it('split a colour between bin centres by its distance to them', () => {
    // 0.25 sits halfway between the centres 0.125 and 0.375 of R's bins 0 and 1; G = B = 0.875 (bin 3).
    const image = new Float32Array(S * S * 3);
    for (let p = 0; p < S * S; p++) image.set([-0.5, 0.75, 0.75], p * 3);
    const p = shares(tf.tidy(() => softStyleStatistics(tf.tensor4d(image, [1, S, S, 3])).dataSync()));
    expect(p[0 * 16 + 3 * 4 + 3]).toBeCloseTo(0.5, 4);
    expect(p[1 * 16 + 3 * 4 + 3]).toBeCloseTo(0.5, 4);
    // And the channels keep their places in the joint bin (r·16 + g·4 + b): (1, 0, 0.5) → (3, 0, 1) and (3, 0, 2).
    for (let q = 0; q < S * S; q++) image.set([1, -1, 0], q * 3);
    const q = shares(tf.tidy(() => softStyleStatistics(tf.tensor4d(image, [1, S, S, 3])).dataSync()));
    expect(q[3 * 16 + 0 * 4 + 1]).toBeCloseTo(0.5, 4);
    expect(q[3 * 16 + 0 * 4 + 2]).toBeCloseTo(0.5, 4);
  });

  it('let gradients reach the pixels', () => {
    const g = tf.tidy(() => {
      const x = tf.tensor4d(squareImage([0.3, 0.6, 0.2]), [1, S, S, 3]);
      return tf.sum(tf.abs(tf.grad((image: tf.Tensor) => tf.sum(softStyleStatistics(image as tf.Tensor4D)))(x))).dataSync()[0];
    });
    expect(g).toBeGreaterThan(0);
    expect(Number.isFinite(g)).toBe(true);
  });
});

describe('the loss', () => {
  it('is Σ_y (n_y / N)·‖batch mean of class y − target_y‖², classes absent from the batch weighing nothing', () => {
    const value = tf.tidy(
      () =>
        statisticsMatchingLoss(
          tf.tensor2d([
            [1, 0],
            [3, 2],
            [0, 5],
          ]),
          [0, 0, 2],
          tf.tensor2d([
            [1, 1],
            [9, 9],
            [1, 1],
          ]),
        ).dataSync()[0],
    );
    // class 0: mean (2, 1), ‖(1, 0)‖² = 1, weight 2/3; class 2: (0, 5), ‖(−1, 4)‖² = 17, weight 1/3; class 1 absent.
    expect(value).toBeCloseTo((2 / 3) * 1 + (1 / 3) * 17, 5);
  });

  it('is 0 for the real images’ own class means', () => {
    const images = new Float32Array([...squareImage([1, 0, 0]), ...squareImage([0, 0.5, 1]), ...squareImage([0.2, 0.2, 0.2])]);
    const labels = Int32Array.from([0, 1, 1]);
    const matching = StatisticsMatching.fromImages(2, images, labels, S, 2);
    const value = tf.tidy(() => {
      const s = softStyleStatistics(tf.tensor4d(images, [3, S, S, 3]));
      const direct = tf.stack([tf.squeeze(tf.slice(s, [0, 0], [1, -1])), tf.mean(tf.slice(s, [1, 0], [2, -1]), 0)]);
      expect(Array.from(matching.targets.dataSync())).toEqual(Array.from(direct.dataSync()).map((v) => Math.fround(v)));
      return matching.loss(tf.tensor4d(images, [3, S, S, 3]), labels).dataSync()[0];
    });
    expect(value).toBeCloseTo(0, 6);
    matching.dispose();
  });

  it('on an unconditional model, matches every sample to the mean of all real images', () => {
    const images = new Float32Array([...squareImage([1, 0, 0]), ...squareImage([0, 0.5, 1])]);
    const matching = StatisticsMatching.fromImages(1, images, Int32Array.from([0, 0]), S, 0);
    expect(matching.targets.shape).toEqual([1, MATCHED_STATISTICS]);
    const [unconditional, asClassZero] = tf.tidy(() => {
      const x = tf.tensor4d(squareImage([0.2, 0.9, 0.4]), [1, S, S, 3]);
      return [matching.loss(x, undefined).dataSync()[0], matching.loss(x, [0]).dataSync()[0]];
    });
    expect(unconditional).toBeGreaterThan(0);
    expect(unconditional).toBe(asClassZero);
    matching.dispose();
  });

  it('refuses a class without training images', () => {
    expect(() => StatisticsMatching.fromImages(1, squareImage([1, 0, 0]), Int32Array.from([0]), S, 2)).toThrow(
      /class 1 has no training images/,
    );
  });
});

describe('the generator step with statistics matching', () => {
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 2 };
  const N = 4;
  const setup = () => freshModels(config);

  it('adds weight·L of G’s raw (unaugmented) samples to G’s loss, moves G differently, leaves D alone, and leaks nothing', async () => {
    const rng = Sfc32.fromSeed('statistics-step');
    const noise = rng.fillNormal(new Float32Array(N * config.latentSize));
    const labels = Int32Array.from([0, 1, 1, 0]);
    const realImages = rng.fillNormal(new Float32Array(6 * 16 * 16 * 3)).map(Math.tanh);
    const matching = StatisticsMatching.fromImages(3, realImages, Int32Array.from([0, 0, 0, 1, 1, 1]), 16, 2);
    // The term on this batch before any update, from a third copy (training mode moves G's BN statistics).
    const probe = setup();
    const expected = tf.tidy(() => {
      const input = tf.concat(
        [tf.tensor2d(noise, [N, config.latentSize]), tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 2), 'float32')],
        1,
      );
      return matching.loss(probe.models.generator.apply(input, { training: true }) as tf.Tensor4D, labels).dataSync()[0];
    });
    expect(expected).toBeGreaterThan(0);
    const plain = setup();
    const matched = setup();
    const dBefore = matched.models.discriminator.getWeights().map((w) => Array.from(w.dataSync()));
    // With DiffAugment on: the term reads G's raw samples, not the augmented ones D sees.
    const augmentation = drawAugmentation(['color', 'translation'], N, 16, Sfc32.fromSeed('statistics-augment'));
    const a = await generatorStep(plain.models, plain.optimizer, { noise, labels, augmentation }, 'bce', 0);
    const b = await generatorStep(matched.models, matched.optimizer, { noise, labels, augmentation }, 'bce', 0, undefined, matching);
    expect(b.g_loss - a.g_loss).toBeCloseTo(expected, 4);
    const weights = (s: ReturnType<typeof setup>) => s.models.generator.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(weights(matched)).not.toEqual(weights(plain));
    expect(matched.models.discriminator.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(dBefore);

    await generatorStep(matched.models, matched.optimizer, { noise, labels }, 'bce', 0, undefined, matching);
    const before = tf.memory().numTensors;
    await generatorStep(matched.models, matched.optimizer, { noise, labels }, 'bce', 0, undefined, matching);
    expect(tf.memory().numTensors).toBe(before);
    matching.dispose();
    for (const s of [probe, plain, matched]) s.dispose();
  });
});
