/**
 * Pixel noise a viewer cannot see: Gaussian noise of σ 8-bit levels on every channel value, the result
 * rounded to 8 bits as served images are. The style judge trains with it (a random σ per image, up to
 * a maximum) so that its features, and every distance measured in them, do not move with differences
 * nobody sees; `judgeNoiseRobustness` (judge.ts's figures on held-out renders with such noise) says how
 * far they still move.
 */
import type { Sfc32 } from '@gan/core/prng';

/** Adds N(0, σ²) levels to `images` ([-1, 1], in place) and rounds them to 8 bits; σ = 0 only rounds. */
export function addPixelNoise(images: Float32Array, sigmaLevels: number, rng: Sfc32): Float32Array {
  const noise = sigmaLevels > 0 ? rng.fillNormal(new Float32Array(images.length)) : undefined;
  for (let i = 0; i < images.length; i++) {
    const level = (images[i] + 1) * 127.5 + (noise ? sigmaLevels * noise[i] : 0);
    images[i] = Math.min(255, Math.max(0, Math.round(level))) / 127.5 - 1;
  }
  return images;
}

/** Each of the `count` equal-sized images in `images` gets its own σ, uniform in [0, maxLevels]. */
export function addRandomPixelNoise(images: Float32Array, count: number, maxLevels: number, rng: Sfc32): Float32Array {
  if (count <= 0 || images.length % count !== 0) throw new RangeError(`${images.length} values are not ${count} equal images`);
  const size = images.length / count;
  for (let i = 0; i < count; i++) addPixelNoise(images.subarray(i * size, (i + 1) * size), rng.next() * maxLevels, rng);
  return images;
}
