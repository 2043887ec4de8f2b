/**
 * Nearest-neighbour measures of two sets of vectors (features or pixels), on the active tfjs backend:
 *
 * - improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
 *   for Assessing Generative Models"): each set's manifold is the union of balls around its points,
 *   each ball as wide as the distance to that point's k-th nearest neighbour in its own set (k = 3 as
 *   in the paper). Precision: the share of generated points inside the real manifold (how many samples
 *   look real); recall: the share of real points inside the generated manifold (how much of the real
 *   variety the samples cover).
 * - the copy check: each sample's distance to its nearest training image, against the distances of
 *   held-out real images to theirs: a sample nearer than 95 % of held-out images are (the 5th
 *   percentile) is flagged; held-out images themselves are flagged 5 % of the time by construction.
 *
 * Squared distances come from ‖a‖² + ‖b‖² − 2 a·b with the products on the backend (float32), in
 * blocks so a 2000 × 2000 matrix of 3 072-pixel images stays small.
 */
import * as tf from '@tensorflow/tfjs-core';

export const PR_NEIGHBOURS = 3;
export const COPY_PERCENTILE = 0.05;

const BLOCK = 512;

/** Squared Euclidean distances [m, n] between the rows of a [m, dim] and b [n, dim], row by row to `use`. */
function forEachDistanceBlock(
  a: Float32Array,
  m: number,
  b: Float32Array,
  n: number,
  dim: number,
  use: (start: number, rows: number, d2: Float32Array) => void,
): void {
  const bt = tf.tensor2d(b, [n, dim]);
  const bNorms = tf.tidy(() => tf.sum(tf.square(bt), 1));
  try {
    for (let start = 0; start < m; start += BLOCK) {
      const rows = Math.min(BLOCK, m - start);
      const d2 = tf.tidy(() => {
        const at = tf.tensor2d(a.subarray(start * dim, (start + rows) * dim), [rows, dim]);
        const aNorms = tf.reshape(tf.sum(tf.square(at), 1), [rows, 1]);
        return tf.relu(tf.sub(tf.add(aNorms, tf.reshape(bNorms, [1, n])), tf.mul(2, tf.matMul(at, bt, false, true))));
      });
      const values = d2.dataSync() as Float32Array;
      d2.dispose();
      use(start, rows, values);
    }
  } finally {
    tf.dispose([bt, bNorms]);
  }
}

/** Each row's distance to its k-th nearest other row of the same set (the radius of its ball). */
export function kthNeighbourRadii(x: Float32Array, count: number, dim: number, k = PR_NEIGHBOURS): Float64Array {
  if (count <= k) throw new RangeError(`${count} vectors are too few for the ${k}-th nearest neighbour`);
  const radii = new Float64Array(count);
  forEachDistanceBlock(x, count, x, count, dim, (start, rows, d2) => {
    for (let r = 0; r < rows; r++) {
      const row = Array.from(d2.subarray(r * count, (r + 1) * count));
      row[start + r] = Number.POSITIVE_INFINITY; // not its own neighbour
      row.sort((p, q) => p - q);
      radii[start + r] = Math.sqrt(row[k - 1]);
    }
  });
  return radii;
}

/** Share of `query` rows inside at least one ball of the `manifold` set (centres and radii). */
export function shareInsideManifold(
  query: Float32Array,
  queryCount: number,
  manifold: Float32Array,
  manifoldCount: number,
  radii: Float64Array,
  dim: number,
): number {
  let inside = 0;
  forEachDistanceBlock(query, queryCount, manifold, manifoldCount, dim, (_, rows, d2) => {
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < manifoldCount; j++)
        if (Math.sqrt(d2[r * manifoldCount + j]) <= radii[j]) {
          inside++;
          break;
        }
  });
  return queryCount > 0 ? inside / queryCount : 0;
}

export interface PrecisionRecall {
  precision: number;
  recall: number;
}

/** Improved precision and recall of `fake` against `real` (k-NN manifolds, k = 3). */
export function precisionRecall(
  fake: Float32Array,
  fakeCount: number,
  real: Float32Array,
  realCount: number,
  dim: number,
  k = PR_NEIGHBOURS,
): PrecisionRecall {
  const realRadii = kthNeighbourRadii(real, realCount, dim, k);
  const fakeRadii = kthNeighbourRadii(fake, fakeCount, dim, k);
  return {
    precision: shareInsideManifold(fake, fakeCount, real, realCount, realRadii, dim),
    recall: shareInsideManifold(real, realCount, fake, fakeCount, fakeRadii, dim),
  };
}

/** Each query row's distance to its nearest reference row. */
export function nearestDistances(
  query: Float32Array,
  queryCount: number,
  reference: Float32Array,
  referenceCount: number,
  dim: number,
): Float64Array {
  const out = new Float64Array(queryCount);
  forEachDistanceBlock(query, queryCount, reference, referenceCount, dim, (start, rows, d2) => {
    for (let r = 0; r < rows; r++) {
      let best = Number.POSITIVE_INFINITY;
      for (let j = 0; j < referenceCount; j++) best = Math.min(best, d2[r * referenceCount + j]);
      out[start + r] = Math.sqrt(best);
    }
  });
  return out;
}

/** The q-quantile of values (linear interpolation between order statistics). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface CopyCheck {
  /** Share of samples nearer to their nearest training image than the threshold. */
  copies: number;
  /** The 5th percentile of held-out real images' distances to their nearest training image. */
  threshold: number;
  /** Share of held-out real images under that threshold (about 5 % by construction). */
  heldOutCopies: number;
  /** Median nearest-training-image distance of the samples, and of the held-out images. */
  sampleMedianDistance: number;
  heldOutMedianDistance: number;
  /** What the distances are measured in. */
  space: 'pixels';
}

/** The copy check of samples against the training images, calibrated on held-out real images (all [n, dim] rows). */
export function copyCheck(
  samples: Float32Array,
  sampleCount: number,
  train: Float32Array,
  trainCount: number,
  heldOut: Float32Array,
  heldOutCount: number,
  dim: number,
): CopyCheck {
  const sampleDistances = nearestDistances(samples, sampleCount, train, trainCount, dim);
  const heldOutDistances = nearestDistances(heldOut, heldOutCount, train, trainCount, dim);
  const threshold = quantile(heldOutDistances, COPY_PERCENTILE);
  const below = (d: Float64Array) => d.filter((v) => v < threshold).length / Math.max(d.length, 1);
  return {
    copies: below(sampleDistances),
    threshold,
    heldOutCopies: below(heldOutDistances),
    sampleMedianDistance: quantile(sampleDistances, 0.5),
    heldOutMedianDistance: quantile(heldOutDistances, 0.5),
    space: 'pixels',
  };
}
