/**
 * LeCam regularisation of D (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
 * Limited Data"): D's logits on real images are pulled towards a moving average of its logits on
 * fakes, and its logits on fakes towards the average on reals,
 *
 *   R = mean((D(x) − α_fake)²) + mean((D(G(z)) − α_real)²),   D's loss += λ·R,
 *
 * which keeps D from driving the two apart without bound when it can memorise a small training set.
 * This is the paper's equation (its Eq. 3). The authors' code (google/lecam-gan) squares only the
 * part on the wrong side of each anchor, relu(D(x) − α_fake)² and relu(α_real − D(G(z)))², so theirs
 * also leaves alone real logits below α_fake and fake logits above α_real: a different term.
 * The anchors α are moving averages (decay 0.99, the paper's) of the batch-mean logits; they are part
 * of a run's state, saved in every checkpoint, so a resumed run computes the same bits as one that
 * never stopped.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedArray } from './checkpoint.ts';

/** The paper's decay of the anchors' moving averages. */
export const LECAM_DECAY = 0.99;
/** Checkpoint tensor of the anchors: [α_real, α_fake]. */
export const LECAM_TENSOR = 'lecam/anchors';

/** The anchors the regulariser pulls towards: float32 values, as a checkpoint stores them. */
export interface LeCamAnchors {
  real: number;
  fake: number;
}

/** What the D step needs to add the term: its weight λ and the anchors of the steps before. */
export interface LeCamTerm {
  weight: number;
  anchors: LeCamAnchors;
}

/** λ·R for one batch's logits; called inside the D step's tape and tidy (gradients flow through D's logits only). */
export function lecamPenalty(term: LeCamTerm, realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  const real = tf.mean(tf.square(tf.sub(realLogits, term.anchors.fake)));
  const fake = tf.mean(tf.square(tf.sub(fakeLogits, term.anchors.real)));
  return tf.mul(term.weight, tf.add(real, fake)) as tf.Scalar;
}

/** The anchors' moving averages over a run's D steps. */
export class LeCamState {
  private anchors: LeCamAnchors | undefined;

  constructor(readonly weight: number) {}

  /** The term for the next D step; none before the first step has given the averages a value. */
  term(): LeCamTerm | undefined {
    return this.anchors && { weight: this.weight, anchors: { ...this.anchors } };
  }

  /** Takes in one D step's batch-mean logits; the first step's means start the averages. */
  update(meanRealLogit: number, meanFakeLogit: number): void {
    const average = (previous: number | undefined, value: number) =>
      Math.fround(previous === undefined ? value : LECAM_DECAY * previous + (1 - LECAM_DECAY) * value);
    this.anchors = { real: average(this.anchors?.real, meanRealLogit), fake: average(this.anchors?.fake, meanFakeLogit) };
  }

  /** The anchors as a checkpoint tensor; none before the first step. */
  saved(): NamedArray[] {
    return this.anchors ? [{ name: LECAM_TENSOR, shape: [2], data: Float32Array.of(this.anchors.real, this.anchors.fake) }] : [];
  }

  /** Puts back a checkpoint's anchors (a checkpoint of step 0 has none). */
  restore(tensors: Map<string, NamedArray>): void {
    const saved = tensors.get(LECAM_TENSOR);
    this.anchors = saved ? { real: saved.data[0], fake: saved.data[1] } : undefined;
  }
}
