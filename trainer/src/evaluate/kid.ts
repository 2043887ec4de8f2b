/**
 * Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the squared maximum mean
 * discrepancy between two sets of feature vectors under the cubic polynomial kernel
 *
 *   k(x, y) = (x·y / d + 1)³        (d = feature length)
 *
 * estimated without bias (the U-statistic: the diagonal k(xᵢ, xᵢ) terms are left out):
 *
 *   MMD²ᵤ = 1/(m(m−1)) Σ_{i≠j} k(xᵢ, xⱼ) + 1/(n(n−1)) Σ_{i≠j} k(yᵢ, yⱼ) − 2/(mn) Σ_{i,j} k(xᵢ, yⱼ)
 *
 * Unlike FD it has no bias that depends on the sample count, so two sets from one distribution score
 * about 0 (slightly negative values happen), and small reference sets (a few hundred held-out emoji)
 * are usable. As in the paper's code, it is averaged over random subsets of equal size m (at most 1000,
 * at most either set's size), and the standard deviation over subsets says how much to trust it.
 *
 * Kernel matrices are products of feature matrices: tf.matMul does those (on the active backend), the
 * cube and the sums are float64 in TypeScript so a KID near 0 is not lost in rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Sfc32 } from '@gan/core/prng';

export interface KidResult {
  /** Mean of the unbiased MMD² over the subsets. */
  mean: number;
  /** Standard deviation over the subsets (0 with one subset). */
  std: number;
  subsets: number;
  subsetSize: number;
}

export const DEFAULT_KID_SUBSETS = 50;
export const DEFAULT_KID_SUBSET_SIZE = 1000;

/** Row-major [rowsA, rowsB] dot products aᵢ·bⱼ, from the backend (float32). */
function dotProducts(a: Float32Array, rowsA: number, b: Float32Array, rowsB: number, dim: number): Float32Array {
  return tf.tidy(() => tf.matMul(tf.tensor2d(a, [rowsA, dim]), tf.tensor2d(b, [rowsB, dim]), false, true).dataSync() as Float32Array);
}

/** Σ k over the products (skipping the diagonal of a square [size, size] matrix when asked), in float64. */
function kernelSum(dots: Float32Array, dim: number, diagonalOf?: number): number {
  let sum = 0;
  for (let i = 0; i < dots.length; i++) sum += (dots[i] / dim + 1) ** 3;
  if (diagonalOf !== undefined) for (let i = 0; i < diagonalOf; i++) sum -= (dots[i * diagonalOf + i] / dim + 1) ** 3;
  return sum;
}

/** The unbiased MMD² of two sets of row vectors (see the file comment); each set needs at least 2 rows. */
export function unbiasedPolynomialMmd2(x: Float32Array, m: number, y: Float32Array, n: number, dim: number): number {
  if (m < 2 || n < 2) throw new RangeError('the unbiased MMD² needs at least 2 vectors in each set');
  if (x.length !== m * dim || y.length !== n * dim) throw new RangeError(`expected ${m}×${dim} and ${n}×${dim} values`);
  const xx = kernelSum(dotProducts(x, m, x, m, dim), dim, m);
  const yy = kernelSum(dotProducts(y, n, y, n, dim), dim, n);
  const xy = kernelSum(dotProducts(x, m, y, n, dim), dim);
  return xx / (m * (m - 1)) + yy / (n * (n - 1)) - (2 * xy) / (m * n);
}

/** Rows `indices` of a row-major matrix. */
function rows(features: Float32Array, indices: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let i = 0; i < indices.length; i++) out.set(features.subarray(indices[i] * dim, (indices[i] + 1) * dim), i * dim);
  return out;
}

/** `size` distinct indices of 0..n−1 (a partial Fisher–Yates shuffle). */
function sampleWithoutReplacement(n: number, size: number, rng: Sfc32): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + rng.nextInt(n - i);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p.subarray(0, size);
}

export interface KidOptions {
  /** Seed of the subsets (the same seed and features give the same result). */
  seed: string;
  subsets?: number;
  /** Largest subset size; the size used is min(this, count of x, count of y). */
  maxSubsetSize?: number;
}

/** KID between feature sets x [m, dim] and y [n, dim]: mean and std of the unbiased MMD² over random subsets. */
export function kernelInceptionDistance(
  x: Float32Array,
  m: number,
  y: Float32Array,
  n: number,
  dim: number,
  options: KidOptions,
): KidResult {
  const subsetSize = Math.min(options.maxSubsetSize ?? DEFAULT_KID_SUBSET_SIZE, m, n);
  if (subsetSize < 2) throw new RangeError('KID needs at least 2 vectors in each set');
  // Subsets as large as both sets are the sets themselves: one is enough.
  const subsets = subsetSize === m && subsetSize === n ? 1 : (options.subsets ?? DEFAULT_KID_SUBSETS);
  const rng = Sfc32.fromSeed(`kid:${options.seed}`);
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const xs = subsetSize === m ? x : rows(x, sampleWithoutReplacement(m, subsetSize, rng), dim);
    const ys = subsetSize === n ? y : rows(y, sampleWithoutReplacement(n, subsetSize, rng), dim);
    values.push(unbiasedPolynomialMmd2(xs, subsetSize, ys, subsetSize, dim));
  }
  const mean = values.reduce((a, b) => a + b, 0) / subsets;
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / subsets);
  return { mean, std, subsets, subsetSize };
}
