/**
 * The emoji style judge (`gan train-classifier --judge`, models/classifiers/emoji-style-32): tells the
 * eight styles of the emoji model apart, and its penultimate layer is the feature space `gan evaluate
 * --extractor judge` measures distances in. It never enters training or sampling: a network that
 * something was trained against is no longer a measure of it.
 *
 * Two inputs, joined before the head:
 *
 *   image [N, 32, 32, 3] in [-1, 1]
 *     → Conv3x3(24) ReLU → MaxPool2 → Conv3x3(48) ReLU → MaxPool2 → Conv3x3(96) ReLU → MaxPool2
 *     → Flatten [N, 1536] → Dense(96) ReLU                                  ("cnn")
 *   statistics [N, 111]: palette, fill and outline statistics (style-statistics.ts)
 *     → Dense(128) ReLU → Dense(64) ReLU                                     ("stats")
 *   concat [N, 160] → Dense(64) ReLU = features → Dense(8) = logits
 *
 * (The statistics alone, through the same two layers, get 87.8 % of the held-out renders right; a
 * first judge with a single 48-unit layer on them learned slowly: 79.9 % after 7 of 16 epochs.)
 *
 * Trained on every Unicode group (about 10 000 renders) with the fixed held-out split of
 * style-data.ts, under random shifts of up to 2 pixels (white fill) and mirror images, with the loss
 * weighted so that every style counts alike (streamline has 700 icons, twemoji 1 900). The number of
 * epochs is fixed beforehand: the held-out split is measured, never used to choose.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Sfc32 } from '@gan/core/prng';
import { type LabelledImages, FEATURE_LAYER, LOGITS_LAYER, extractFeatures, trainByEpochs } from './classifier.ts';
import { STATISTICS_VERSIONS, type StatisticsVersion, statisticsOf } from './style-statistics.ts';
import { snapToPalette } from './palette-snap.ts';
import { addRandomPixelNoise } from './pixel-noise.ts';

export const STYLE_JUDGE_ID = 'emoji-style-32';
export const STATISTICS_INPUT = 'statistics';

export interface StyleJudgeShape {
  /** The statistics the judge reads beside the pixels. */
  statistics: StatisticsVersion;
  /** Filters of the three convolution stages. */
  filters: [number, number, number];
}

export const DEFAULT_JUDGE_SHAPE: StyleJudgeShape = { statistics: 'colour-gradient-v1', filters: [24, 48, 96] };

export function buildStyleJudge(
  imageSize: number,
  numClasses: number,
  seed = 0,
  shape: StyleJudgeShape = DEFAULT_JUDGE_SHAPE,
): tfl.LayersModel {
  const init = (i: number) => tfl.initializers.heNormal({ seed: seed * 31 + i });
  const image = tfl.input({ shape: [imageSize, imageSize, 3], name: 'image' });
  const statistics = tfl.input({ shape: [STATISTICS_VERSIONS[shape.statistics]], name: STATISTICS_INPUT });
  let x = image as tfl.SymbolicTensor;
  shape.filters.forEach((filters, i) => {
    x = tfl.layers
      .conv2d({ name: `conv${i + 1}`, filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(i) })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
  });
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  const cnn = tfl.layers.dense({ name: 'cnn', units: 96, activation: 'relu', kernelInitializer: init(10) }).apply(x) as tfl.SymbolicTensor;
  let stats = tfl.layers
    .dense({ name: 'stats1', units: 128, activation: 'relu', kernelInitializer: init(11) })
    .apply(statistics) as tfl.SymbolicTensor;
  stats = tfl.layers
    .dense({ name: 'stats', units: 64, activation: 'relu', kernelInitializer: init(14) })
    .apply(stats) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate({ name: 'joined' }).apply([cnn, stats]) as tfl.SymbolicTensor;
  const features = tfl.layers
    .dense({ name: FEATURE_LAYER, units: 64, activation: 'relu', kernelInitializer: init(12) })
    .apply(joined) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({ name: LOGITS_LAYER, units: numClasses, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 31 + 13 }) })
    .apply(features) as tfl.SymbolicTensor;
  return tfl.model({ name: 'style_judge', inputs: [image, statistics], outputs: [features, logits] });
}

/** Whether a loaded classifier takes the statistics input beside the image (a style judge). */
export function takesStatistics(model: tfl.LayersModel): boolean {
  return model.inputs.length === 2;
}

/** A batch of rows `indices`, shifted by (dy, dx) with white fill and mirrored where asked. */
function augmentedBatch(
  data: LabelledImages,
  indices: ArrayLike<number>,
  moves: { dy: number; dx: number; mirror: boolean }[],
): { images: Float32Array; labels: Int32Array } {
  const s = data.imageSize;
  const size = s * s * 3;
  const out = new Float32Array(indices.length * size).fill(1);
  const labels = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    labels[b] = data.labels[indices[b]];
    const src = data.images.subarray(indices[b] * size, (indices[b] + 1) * size);
    const { dy, dx, mirror } = moves[b];
    for (let y = 0; y < s; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= s) continue;
      for (let x = 0; x < s; x++) {
        const mx = x - dx;
        if (mx < 0 || mx >= s) continue;
        const sx = mirror ? s - 1 - mx : mx;
        for (let c = 0; c < 3; c++) out[b * size + (y * s + x) * 3 + c] = src[(sy * s + sx) * 3 + c];
      }
    }
  }
  return { images: out, labels };
}

export interface TrainStyleJudgeOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  maxShift: number;
  /** Largest σ, in 8-bit levels, of the pixel noise each training image gets (pixel-noise.ts); 0 = none. */
  pixelNoise?: number;
  /** Share of training images snapped to a random palette of 8–32 colours first (palette-snap.ts); 0 = none. */
  paletteSnap?: number;
  seed: string;
  statistics: StatisticsVersion;
  onEpoch?: (epoch: number, meanLoss: number) => void;
}

/** Trains the judge with Adam and a cosine rate; batch order and augmentation (shifts, mirrors, palette snaps, pixel noise) come from the seed. */
export function trainStyleJudge(model: tfl.LayersModel, train: LabelledImages, options: TrainStyleJudgeOptions): void {
  const numClasses = train.classNames.length;
  const counts = new Array(numClasses).fill(0);
  for (const l of train.labels) counts[l]++;
  const classWeight = counts.map((c) => (c > 0 ? train.count / (numClasses * c) : 0));
  const rng = Sfc32.fromSeed(`style-judge:${options.seed}`);
  const s = train.imageSize;
  trainByEpochs(train.count, options, rng, (optimizer, indices) => {
    const moves = Array.from(indices, () => ({
      dy: rng.nextInt(2 * options.maxShift + 1) - options.maxShift,
      dx: rng.nextInt(2 * options.maxShift + 1) - options.maxShift,
      mirror: rng.nextInt(2) === 1,
    }));
    const batch = augmentedBatch(train, indices, moves);
    // Neither a palette snap nor noise nobody sees may move the judge (nothing is drawn when off, so older judges retrain the same).
    if ((options.paletteSnap ?? 0) > 0) {
      const size = s * s * 3;
      for (let i = 0; i < indices.length; i++)
        if (rng.next() < options.paletteSnap!) snapToPalette(batch.images.subarray(i * size, (i + 1) * size), 8 + rng.nextInt(25));
    }
    if ((options.pixelNoise ?? 0) > 0) addRandomPixelNoise(batch.images, indices.length, options.pixelNoise!, rng);
    const statistics = statisticsOf(options.statistics, batch.images, indices.length, s);
    const loss = optimizer.minimize(() => {
      const x = tf.tensor4d(batch.images, [indices.length, s, s, 3]);
      const st = tf.tensor2d(statistics, [indices.length, STATISTICS_VERSIONS[options.statistics]]);
      const [, logits] = model.apply([x, st], { training: true }) as tf.Tensor[];
      const weights = tf.tensor1d(Array.from(batch.labels, (l) => classWeight[l]));
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(batch.labels, 'int32'), numClasses), logits as tf.Tensor2D, weights);
    }, true)!;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  });
}

/** Per-class accuracy and the confusion matrix (rows: true style, columns: predicted). */
export function confusion(predictions: ArrayLike<number>, labels: ArrayLike<number>, classNames: string[]) {
  const k = classNames.length;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < labels.length; i++) matrix[labels[i]][predictions[i]]++;
  const byClass = Object.fromEntries(
    classNames.map((name, c) => {
      const row = matrix[c].reduce((a, v) => a + v, 0);
      return [name, row > 0 ? matrix[c][c] / row : 0];
    }),
  );
  let right = 0;
  for (let c = 0; c < k; c++) right += matrix[c][c];
  return { accuracy: labels.length > 0 ? right / labels.length : 0, byClass, matrix };
}

/** The judge's accuracy and confusion on a labelled set. */
export function judgeAccuracy(model: tfl.LayersModel, data: LabelledImages) {
  const { predictions } = extractFeatures(model, data.images, data.count, data.imageSize, data.channels);
  return { ...confusion(predictions, data.labels, data.classNames), count: data.count };
}
