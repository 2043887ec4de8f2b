/**
 * Per-class matching of colour and gradient statistics, a term of G's loss (`--statistics-matching`).
 *
 * What tells the emoji styles apart is mostly palette and flat against shaded fills (the evaluation's
 * style statistics, evaluate/style-statistics.ts). D learns those slowly from ~240 images per style,
 * and G's samples of the flat styles come out shaded like their neighbours. This term asks G for the
 * statistics of the real images of the class it was given, on average over the batch: the feature
 * matching of Salimans et al. 2016 ("Improved Techniques for Training GANs"), per class and on fixed,
 * hand-made features instead of D's.
 *
 *   s(x)  = √ of two soft histograms of the drawing's pixels (those that differ from the white
 *           background): the joint RGB colour, 4×4×4 bins, and the largest difference to a
 *           4-neighbour, 8 bins (flat fills ≈ 0, shading small, outlines large)      [72]
 *   L     = Σ_y (n_y / N) · ‖ mean_{i: y_i = y} s(G(z_i, y_i)) − mean_{real x of class y} s(x) ‖²
 *
 * The histograms are soft (triangular colour bins, sigmoid steps between gradient bins, a sigmoid
 * drawing mask) so that gradients reach G. Values are clamped to the outer colour bins' centres, so a channel
 * within 1/8 of 0 or 1 sits wholly in the outer bin and gets no colour gradient there. Matching class
 * means rather than each sample's statistics lets samples differ from their class's mean, but not
 * freely: the expected squared distance of a batch mean includes the class's variance over its count
 * in the batch, so the term also pulls a class's samples a little towards one another. The real means
 * are computed from the training split when the run starts (and again on resume: they are a function
 * of the data, not part of the state). The drawing is what differs from white, so the images must be
 * composited on white.
 *
 * These are soft versions of a subset of the statistics the emoji style judge reads beside its CNN,
 * so a run with this term is also judged in ImageNet MobileNetV2 features and by eye (docs/training.md).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Colour bins per channel (4×4×4 joint histogram). */
const COLOUR_BINS = 4;
/** Edges of the gradient histogram's bins (as the evaluation's statistics; values in [0, 1]). */
export const GRADIENT_EDGES = [0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.65];
/** Length of s(x). */
export const MATCHED_STATISTICS = COLOUR_BINS ** 3 + GRADIENT_EDGES.length + 1;
/** Softness of the drawing mask and of the gradient bins' edges, in [0, 1] pixel units. */
const MASK_SOFTNESS = 0.01;
const EDGE_SOFTNESS = 0.01;
/** A pixel is drawing when 1 − min(r, g, b) exceeds this (the evaluation's rule). */
const DRAWING_THRESHOLD = 0.06;
/** Added under the square root, whose slope is unbounded at 0. */
const ROOT_EPSILON = 1e-3;

/** s(x) of images [N, S, S, 3] in [-1, 1] → [N, MATCHED_STATISTICS], differentiable. */
export function softStyleStatistics(images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, size, , channels] = images.shape;
    if (channels !== 3) throw new RangeError('statistics matching needs colour images');
    const pixels = size * size;
    const x = tf.clipByValue(tf.div(tf.add(images, 1), 2), 0, 1) as tf.Tensor4D;
    // Soft drawing mask [N, P, 1] and its sum.
    const mask = tf.reshape(tf.sigmoid(tf.div(tf.sub(tf.sub(1, tf.min(x, 3)), DRAWING_THRESHOLD), MASK_SOFTNESS)), [n, pixels, 1]);
    const drawn = tf.add(tf.sum(mask, 1), 1e-6); // [N, 1]
    const share = (perPixel: tf.Tensor3D) => tf.div(tf.sum(tf.mul(perPixel, mask), 1), drawn) as tf.Tensor2D;

    // Colour: triangular weights on bin centres (i + 0.5)/B; clamped so every pixel's weights sum to 1.
    const centres = tf.tensor1d(Array.from({ length: COLOUR_BINS }, (_, i) => (i + 0.5) / COLOUR_BINS));
    const clamped = tf.clipByValue(tf.reshape(x, [n, pixels, 3, 1]), 0.5 / COLOUR_BINS, 1 - 0.5 / COLOUR_BINS);
    const weights = tf.relu(tf.sub(1, tf.mul(tf.abs(tf.sub(clamped, centres)), COLOUR_BINS))); // [N, P, 3, B]
    const [r, g, b] = tf.split(weights, 3, 2).map((w) => tf.reshape(w, [n, pixels, COLOUR_BINS]));
    // Σ_p m_p · r_p ⊗ g_p ⊗ b_p as one batched product [N, B², P] × [N, P, B], without an [N, P, B³] tensor.
    const redGreen = tf.reshape(tf.mul(tf.reshape(r, [n, pixels, COLOUR_BINS, 1]), tf.reshape(g, [n, pixels, 1, COLOUR_BINS])), [
      n,
      pixels,
      COLOUR_BINS ** 2,
    ]);
    const joint = tf.reshape(tf.matMul(tf.mul(redGreen, mask), b, true, false), [n, COLOUR_BINS ** 3]);
    const colour = tf.div(joint, drawn) as tf.Tensor2D;

    // Gradient: the largest difference to a 4-neighbour over the channels (outside the image: none).
    const padded = tf.mirrorPad(
      x,
      [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
      'symmetric',
    );
    const at = (dy: number, dx: number) => tf.slice(padded, [0, 1 + dy, 1 + dx, 0], [n, size, size, 3]);
    const differences = [at(0, 1), at(1, 0), at(0, -1), at(-1, 0)].map((q) => tf.max(tf.abs(tf.sub(q, x)), 3));
    const largest = tf.reshape(tf.max(tf.stack(differences), 0), [n, pixels, 1]);
    const steps = tf.sigmoid(tf.div(tf.sub(largest, tf.tensor1d(GRADIENT_EDGES)), EDGE_SOFTNESS)); // [N, P, E]: above edge e
    const ones = tf.onesLike(tf.slice(steps, [0, 0, 0], [n, pixels, 1]));
    const zeros = tf.zerosLike(ones);
    const gradient = tf.sub(tf.concat([ones, steps], 2), tf.concat([steps, zeros], 2)) as tf.Tensor3D; // [N, P, E + 1]

    return tf.sqrt(tf.add(tf.concat([colour, share(gradient)], 1), ROOT_EPSILON)) as tf.Tensor2D;
  });
}

/**
 * L for statistics [N, F] of samples generated for `labels` (all class 0 on an unconditional model)
 * against the real class means [K, F].
 */
export function statisticsMatchingLoss(statistics: tf.Tensor2D, labels: ArrayLike<number>, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [n] = statistics.shape;
    const k = targets.shape[0];
    if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} samples`);
    // [N, K]; tf.oneHot needs a depth of 2 or more, and with one class every sample is a member.
    const members = k === 1 ? tf.ones([n, 1]) : tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), k), 'float32');
    const counts = tf.sum(members, 0); // [K]
    const means = tf.div(tf.matMul(members, statistics, true, false), tf.reshape(tf.maximum(counts, 1), [k, 1])); // [K, F]
    const distances = tf.sum(tf.square(tf.sub(means, targets)), 1); // [K]; 0 weight where a class is absent
    return tf.sum(tf.mul(tf.div(counts, n), distances)) as tf.Scalar;
  });
}

/** The real class means of s(x) and the term's weight: what G's step needs. */
export class StatisticsMatching {
  private constructor(
    readonly weight: number,
    /** [K, F] (K = 1 on an unconditional model). */
    readonly targets: tf.Tensor2D,
  ) {}

  /**
   * The class means of real images [count, S, S, 3] in [-1, 1] with their labels (all 0 when
   * `numClasses` is 0), computed in batches.
   */
  static fromImages(weight: number, images: Float32Array, labels: Int32Array, imageSize: number, numClasses: number): StatisticsMatching {
    const k = Math.max(numClasses, 1);
    const count = labels.length;
    const sums = new Float64Array(k * MATCHED_STATISTICS);
    const counts = new Float64Array(k);
    const pixels = imageSize * imageSize * 3;
    const batch = 32; // the soft histograms hold ~[batch, S², 16] floats at once
    for (let start = 0; start < count; start += batch) {
      const m = Math.min(batch, count - start);
      const s = tf.tidy(() =>
        softStyleStatistics(tf.tensor4d(images.subarray(start * pixels, (start + m) * pixels), [m, imageSize, imageSize, 3])),
      );
      const values = s.dataSync();
      s.dispose();
      for (let i = 0; i < m; i++) {
        const y = numClasses > 0 ? labels[start + i] : 0;
        counts[y]++;
        for (let f = 0; f < MATCHED_STATISTICS; f++) sums[y * MATCHED_STATISTICS + f] += values[i * MATCHED_STATISTICS + f];
      }
    }
    const empty = counts.indexOf(0);
    if (empty >= 0) throw new RangeError(`class ${empty} has no training images to match`);
    const means = Float32Array.from(sums, (v, i) => v / counts[Math.floor(i / MATCHED_STATISTICS)]);
    return new StatisticsMatching(weight, tf.tensor2d(means, [k, MATCHED_STATISTICS]));
  }

  /** weight · L of G's raw samples [N, S, S, 3] for their labels (undefined: unconditional). */
  loss(samples: tf.Tensor4D, labels: ArrayLike<number> | undefined): tf.Scalar {
    return tf.tidy(() => {
      const ys = labels ?? new Array<number>(samples.shape[0]).fill(0);
      return tf.mul(this.weight, statisticsMatchingLoss(softStyleStatistics(samples), ys, this.targets)) as tf.Scalar;
    });
  }

  dispose(): void {
    this.targets.dispose();
  }
}
