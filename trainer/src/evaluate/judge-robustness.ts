/**
 * How far the judge's figures move with differences nobody sees: held-out real renders with Gaussian
 * pixel noise of a few 8-bit levels (pixel-noise.ts), scored as if they were a model's samples. A judge
 * worth trusting gives them nearly the figures of the clean renders; one whose features follow pixel
 * noise would call them far from real, and would measure a generator's noise instead of its drawings.
 */
import { Sfc32 } from '@gan/core/prng';
import type { LabelledImages } from './classifier.ts';
import { evaluateWithJudge } from './judge.ts';
import { addPixelNoise } from './pixel-noise.ts';
import type { LoadedClassifier } from './store.ts';

export interface NoiseRobustness {
  /** σ of the noise, in 8-bit levels (0: the renders as they are). */
  levels: number;
  /** Fréchet distance to the model's renders, as a multiple of its floor. */
  fdRatio: number;
  /** Share the judge puts in their own style. */
  agreement: number;
  /** Within-style improved precision and recall (k = 3). */
  precision: number;
  recall: number;
}

/** The judge's figures for `heldOut` with each noise level in `levels` (the same noise draw for every level, scaled). */
export function judgeNoiseRobustness(
  judge: LoadedClassifier,
  real: { train: LabelledImages; heldOut: LabelledImages },
  levels: number[],
  seed = 'judge-noise',
): NoiseRobustness[] {
  return levels.map((sigma) => {
    const images = addPixelNoise(real.heldOut.images.slice(), sigma, Sfc32.fromSeed(seed));
    const e = evaluateWithJudge({
      judge,
      images,
      count: real.heldOut.count,
      classes: Int32Array.from(real.heldOut.labels),
      classNames: real.heldOut.classNames,
      train: real.train,
      heldOut: real.heldOut,
      seed,
      backend: 'n/a',
    });
    return {
      levels: sigma,
      fdRatio: e.fdRatio,
      agreement: e.classAccuracy ?? 0,
      precision: e.precisionRecall?.withinStyle?.precision ?? 0,
      recall: e.precisionRecall?.withinStyle?.recall ?? 0,
    };
  });
}
