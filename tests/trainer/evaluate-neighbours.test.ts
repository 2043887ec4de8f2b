/**
 * The nearest-neighbour measures of `gan evaluate --extractor judge`: improved precision and recall
 * (Kynkäänniemi et al. 2019, k = 3) and the copy check, on point sets whose answers are known.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sfc32 } from '@gan/core/prng';
import { copyCheck, kthNeighbourRadii, nearestDistances, precisionRecall, quantile } from '@gan/trainer/evaluate/neighbours';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** `count` vectors N(mean, 1) of length `dim`. */
function gaussian(count: number, dim: number, mean: number, seed: string): Float32Array {
  const rng = Sfc32.fromSeed(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < out.length; i++) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    out[i] = mean + r * Math.cos(2 * Math.PI * rng.next());
  }
  return out;
}

describe('improved precision and recall', () => {
  it("gives each point the distance to its k-th nearest other point as its ball's radius", () => {
    // Points on a line at 0, 1, 3, 6, 10: third-nearest of 0 is 6; of 3 is 1 (0, 1, 6 → 3, 2, 3).
    const points = Float32Array.from([0, 1, 3, 6, 10]);
    const radii = kthNeighbourRadii(points, 5, 1, 3);
    expect(Array.from(radii)).toEqual([6, 5, 3, 5, 9]);
  });

  it('scores a distribution against a second draw of itself near the top, and a shifted one clearly lower', () => {
    const dim = 8;
    const real = gaussian(400, dim, 0, 'real');
    const same = precisionRecall(gaussian(400, dim, 0, 'again'), 400, real, 400, dim);
    expect(same.precision).toBeGreaterThan(0.8);
    expect(same.recall).toBeGreaterThan(0.8);
    // Shifted by 1.5 standard deviations in every coordinate: few samples land among the real ones.
    const shifted = precisionRecall(gaussian(400, dim, 1.5, 'shifted'), 400, real, 400, dim);
    expect(shifted.precision).toBeLessThan(same.precision - 0.4);
    expect(shifted.recall).toBeLessThan(same.recall - 0.4);
  });

  it('tells low precision (samples off the data) from low recall (samples on one part of it)', () => {
    const dim = 4;
    const real = gaussian(300, dim, 0, 'real');
    // Every sample a small perturbation of one of the first 20 real points: real-looking, little variety.
    const collapsed = new Float32Array(300 * dim);
    const rng = Sfc32.fromSeed('collapse');
    for (let i = 0; i < 300; i++)
      for (let d = 0; d < dim; d++) collapsed[i * dim + d] = real[(i % 20) * dim + d] + 0.01 * (rng.next() - 0.5);
    const pr = precisionRecall(collapsed, 300, real, 300, dim);
    expect(pr.precision).toBeGreaterThan(0.95);
    expect(pr.recall).toBeLessThan(0.4);
  });
});

describe('copy check', () => {
  const dim = 48;
  const train = gaussian(200, dim, 0, 'train');
  const heldOut = gaussian(100, dim, 0, 'held-out');

  it('flags samples that are exact copies of training images', () => {
    const copies = train.slice(0, 50 * dim);
    const check = copyCheck(copies, 50, train, 200, heldOut, 100, dim);
    expect(check.copies).toBe(1);
    expect(check.sampleMedianDistance).toBeCloseTo(0, 2);
  });

  it('flags about 5 % of held-out real images by construction, and few fresh draws', () => {
    const check = copyCheck(gaussian(200, dim, 0, 'fresh'), 200, train, 200, heldOut, 100, dim);
    expect(check.heldOutCopies).toBe(0.05);
    expect(check.copies).toBeLessThan(0.15);
    expect(check.threshold).toBeGreaterThan(0);
  });

  it('measures each row against its nearest reference row', () => {
    const d = nearestDistances(Float32Array.from([0, 0, 3, 4]), 2, Float32Array.from([0, 1, 3, 0]), 2, 2);
    expect(d[0]).toBeCloseTo(1, 5);
    expect(d[1]).toBeCloseTo(4, 5);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
  });
});
