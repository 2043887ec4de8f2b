/**
 * DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", 2020).
 *
 * With a few thousand training images, D memorises the real set and its feedback to G collapses.
 * DiffAugment applies the same random, differentiable transforms to every image D sees — real and
 * generated, in D's step and in G's — so D cannot tell real from fake by the augmentation, and G's
 * gradient flows back through the transform. The transforms follow the paper's reference code
 * (images in [-1, 1], NHWC here):
 *
 *   color:       brightness + U(-0.5, 0.5); saturation × U(0, 2) around the pixel's channel mean;
 *                contrast × U(0.5, 1.5) around the image mean
 *   translation: shift by an integer in [-S/8, S/8] in each direction, zeros shifted in
 *   cutout:      zero one square of half the image's edge at a random centre
 *
 * The random draws are made in JavaScript from the run's sfc32 stream (`drawAugmentation`), so a
 * resumed run draws the same transforms, and the tensor part (`applyAugmentation`) is a pure function
 * of the images and the draws.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Sfc32 } from '@gan/core';

export const AugmentationSchema = z.enum(['color', 'translation', 'cutout']);
export type Augmentation = z.infer<typeof AugmentationSchema>;
/** The paper's policy for limited data. */
export const DIFF_AUGMENT_POLICY: Augmentation[] = ['color', 'translation', 'cutout'];

export class AugmentPolicyError extends Error {
  override name = 'AugmentPolicyError';
}

/** `color,translation,cutout` → the list; `none` or '' → []. */
export function parseAugmentPolicy(text: string): Augmentation[] {
  if (text === '' || text === 'none') return [];
  const parts = text.split(',').map((p) => p.trim());
  const policy: Augmentation[] = [];
  for (const p of parts) {
    const parsed = AugmentationSchema.safeParse(p);
    if (!parsed.success) throw new AugmentPolicyError(`unknown augmentation "${p}": use color, translation and/or cutout, or none`);
    if (!policy.includes(parsed.data)) policy.push(parsed.data);
  }
  return policy;
}

/** One batch's random transform parameters. */
export interface AugmentationDraw {
  policy: Augmentation[];
  count: number;
  size: number;
  /** Per image: brightness offset, saturation and contrast factors (color). */
  brightness?: Float32Array;
  saturation?: Float32Array;
  contrast?: Float32Array;
  /** Per image: row and column shift in pixels (translation). */
  shiftY?: Int32Array;
  shiftX?: Int32Array;
  /** [count · size · size] 0/1 mask (cutout). */
  cutoutMask?: Float32Array;
}

export function translationRange(size: number): number {
  return Math.floor(size * 0.125 + 0.5);
}

/** Draws the parameters for `count` images of `size`² pixels, in a fixed order from `rng`. */
export function drawAugmentation(policy: Augmentation[], count: number, size: number, rng: Sfc32): AugmentationDraw {
  const draw: AugmentationDraw = { policy, count, size };
  const uniform = () => rng.next();
  if (policy.includes('color')) {
    draw.brightness = Float32Array.from({ length: count }, () => uniform() - 0.5);
    draw.saturation = Float32Array.from({ length: count }, () => uniform() * 2);
    draw.contrast = Float32Array.from({ length: count }, () => uniform() + 0.5);
  }
  if (policy.includes('translation')) {
    const s = translationRange(size);
    draw.shiftY = Int32Array.from({ length: count }, () => rng.nextInt(2 * s + 1) - s);
    draw.shiftX = Int32Array.from({ length: count }, () => rng.nextInt(2 * s + 1) - s);
  }
  if (policy.includes('cutout')) {
    const cut = Math.floor(size * 0.5 + 0.5);
    const positions = size + (1 - (cut % 2));
    const mask = new Float32Array(count * size * size).fill(1);
    for (let i = 0; i < count; i++) {
      const cy = rng.nextInt(positions) - Math.floor(cut / 2);
      const cx = rng.nextInt(positions) - Math.floor(cut / 2);
      for (let y = Math.max(0, cy); y < Math.min(size, cy + cut); y++) {
        mask.fill(0, (i * size + y) * size + Math.max(0, cx), (i * size + y) * size + Math.min(size, cx + cut));
      }
    }
    draw.cutoutMask = mask;
  }
  return draw;
}

/** The transforms of `draw` applied to [N, S, S, C] images; differentiable with respect to them. */
export function applyAugmentation(images: tf.Tensor4D, draw: AugmentationDraw): tf.Tensor4D {
  const [n, h, w, c] = images.shape;
  if (n !== draw.count || h !== draw.size || w !== draw.size) {
    throw new RangeError(`augmentation drawn for ${draw.count} images of ${draw.size}px, given [${images.shape}]`);
  }
  return tf.tidy(() => {
    let x: tf.Tensor4D = images;
    if (draw.brightness && draw.saturation && draw.contrast) {
      x = tf.add(x, tf.tensor4d(draw.brightness, [n, 1, 1, 1]));
      const channelMean = tf.mean(x, 3, true);
      x = tf.add(tf.mul(tf.sub(x, channelMean), tf.tensor4d(draw.saturation, [n, 1, 1, 1])), channelMean);
      const imageMean = tf.mean(x, [1, 2, 3], true);
      x = tf.add(tf.mul(tf.sub(x, imageMean), tf.tensor4d(draw.contrast, [n, 1, 1, 1])), imageMean);
    }
    if (draw.shiftY && draw.shiftX) {
      // Pad by the largest shift, then cut each image's window: slice's gradient is a pad, so this
      // stays differentiable on every backend (a batched gather's gradient is not on WASM).
      const s = translationRange(h);
      const padded = tf.pad(x, [
        [0, 0],
        [s, s],
        [s, s],
        [0, 0],
      ]);
      const windows = Array.from({ length: n }, (_, i) => tf.slice(padded, [i, s - draw.shiftY![i], s - draw.shiftX![i], 0], [1, h, w, c]));
      x = tf.concat(windows, 0);
    }
    if (draw.cutoutMask) x = tf.mul(x, tf.tensor4d(draw.cutoutMask, [n, h, w, 1]));
    return x;
  });
}
