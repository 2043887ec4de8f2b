/**
 * The feature extractor of `gan evaluate`: a small CNN trained on a data set's own labels. Inception
 * weights cannot be fetched here, so we follow the common practice for MNIST-like data without
 * Inception (e.g. the LeNet-feature "FID" of many GAN papers): train a classifier on the real
 * training split and use its penultimate layer as the embedding. Its held-out accuracy says how much
 * the features know about the data.
 *
 * Channels-last, input in [-1, 1] like the generator's output. For a 32x32xC image:
 *   [N, 32, 32, C] → Conv3x3(16) ReLU → MaxPool2 [N, 16, 16, 16]
 *   → Conv3x3(32) ReLU → MaxPool2 [N, 8, 8, 32]
 *   → Conv3x3(64) ReLU → MaxPool2 [N, 4, 4, 64]   (64x64 inputs get one more conv + pool stage)
 *   → Flatten [N, 1024] → Dense(64) ReLU = features [N, 64] → Dense(K) = logits [N, K]
 * No dropout or batch norm: training stays deterministic and the features do not depend on a mode.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Sfc32 } from '@gan/core/prng';
import { statisticsOf, statisticsVersionOfSize } from './style-statistics.ts';

/** Images in [-1, 1], NHWC row-major, with integer labels in [0, classNames.length). */
export interface LabelledImages {
  images: Float32Array;
  labels: Int32Array;
  count: number;
  imageSize: number;
  channels: number;
  classNames: string[];
}

export interface ClassifierShape {
  imageSize: number;
  channels: number;
  numClasses: number;
  /** Length of the penultimate (feature) layer. */
  featureSize?: number;
}

export const DEFAULT_FEATURE_SIZE = 64;
export const FEATURE_LAYER = 'features';
export const LOGITS_LAYER = 'logits';

/** Builds the classifier (see the file comment for shapes). Weights are seeded: same seed, same network. */
export function buildClassifier(shape: ClassifierShape, seed = 0): tfl.LayersModel {
  const featureSize = shape.featureSize ?? DEFAULT_FEATURE_SIZE;
  const filters = shape.imageSize >= 64 ? [16, 32, 64, 64] : [16, 32, 64];
  const init = (i: number) => tfl.initializers.heNormal({ seed: seed * 31 + i });
  const input = tfl.input({ shape: [shape.imageSize, shape.imageSize, shape.channels], name: 'image' });
  let x = input as tfl.SymbolicTensor;
  filters.forEach((f, i) => {
    x = tfl.layers
      .conv2d({ name: `conv${i + 1}`, filters: f, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(i) })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
  });
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  const features = tfl.layers
    .dense({ name: FEATURE_LAYER, units: featureSize, activation: 'relu', kernelInitializer: init(10) })
    .apply(x) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({ name: LOGITS_LAYER, units: shape.numClasses, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 31 + 11 }) })
    .apply(features) as tfl.SymbolicTensor;
  return tfl.model({ name: 'feature_classifier', inputs: input, outputs: [features, logits] });
}

/** Mean softmax cross-entropy of the logits for integer labels. */
export function classificationLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), logits) as tf.Scalar;
}

/**
 * One optimisation step on a batch; returns the loss value. Pure apart from the weights and the
 * optimiser state it updates; leaves no tensors behind.
 */
export function classifierTrainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  numClasses: number,
): number {
  const loss = optimizer.minimize(() => {
    const [, logits] = model.apply(images, { training: true }) as tf.Tensor[];
    return classificationLoss(logits as tf.Tensor2D, labels, numClasses);
  }, true);
  const value = loss!.dataSync()[0];
  loss!.dispose();
  return value;
}

/** Copies rows `indices` of a data set into a batch tensor (optionally shifted: see `augmentShift`). */
export function gatherBatch(
  data: LabelledImages,
  indices: ArrayLike<number>,
  shift?: (i: number) => [number, number],
): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const { imageSize: s, channels: c } = data;
  const size = s * s * c;
  const out = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const idx = indices[b];
    labels[b] = data.labels[idx];
    const src = data.images.subarray(idx * size, (idx + 1) * size);
    const dst = out.subarray(b * size, (b + 1) * size);
    const [dy, dx] = shift ? shift(b) : [0, 0];
    if (dy === 0 && dx === 0) {
      dst.set(src);
      continue;
    }
    // Translate by (dy, dx), filling uncovered pixels with the background value of −1.
    dst.fill(-1);
    for (let y = 0; y < s; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= s) continue;
      for (let x = 0; x < s; x++) {
        const sx = x - dx;
        if (sx < 0 || sx >= s) continue;
        for (let k = 0; k < c; k++) dst[(y * s + x) * c + k] = src[(sy * s + sx) * c + k];
      }
    }
  }
  return { images: tf.tensor4d(out, [indices.length, s, s, c]), labels: tf.tensor1d(labels, 'int32') };
}

export interface TrainClassifierOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: string;
  /** Random translations of up to this many pixels (0 = none): cheap augmentation for small data sets. */
  maxShift: number;
  /** Called after every epoch. */
  onEpoch?: (epoch: number, meanLoss: number) => void;
  /** Called after every step. */
  onStep?: (step: number, loss: number) => void;
}

/** Trains a classifier on `train` with Adam; the batch order and augmentation come from `seed`. */
export function trainClassifier(model: tfl.LayersModel, train: LabelledImages, options: TrainClassifierOptions): void {
  const rng = Sfc32.fromSeed(`classifier:${options.seed}`);
  const numClasses = train.classNames.length;
  trainByEpochs(train.count, options, rng, (optimizer, indices) => {
    const shifts = Array.from({ length: indices.length }, (): [number, number] =>
      options.maxShift > 0
        ? [rng.nextInt(2 * options.maxShift + 1) - options.maxShift, rng.nextInt(2 * options.maxShift + 1) - options.maxShift]
        : [0, 0],
    );
    const batch = gatherBatch(train, indices, (b) => shifts[b]);
    const loss = classifierTrainStep(model, optimizer, batch.images, batch.labels, numClasses);
    tf.dispose([batch.images, batch.labels]);
    return loss;
  });
}

/**
 * The epoch loop of both classifiers (this one and the style judge): each epoch a fresh permutation
 * of the `count` training images from `rng`, batches in its order, Adam at a cosine-decayed rate.
 * `trainBatch` trains on one batch's indices (drawing its augmentation from the same `rng`, after
 * the permutation) and returns the batch's loss.
 */
export function trainByEpochs(
  count: number,
  options: Pick<TrainClassifierOptions, 'epochs' | 'batchSize' | 'learningRate' | 'onEpoch' | 'onStep'>,
  rng: Sfc32,
  trainBatch: (optimizer: tf.Optimizer, indices: Int32Array) => number,
): void {
  const optimizer = tf.train.adam(options.learningRate);
  const totalSteps = options.epochs * Math.ceil(count / options.batchSize);
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = permutation(count, rng);
    let total = 0;
    let batches = 0;
    for (let start = 0; start < count; start += options.batchSize) {
      const indices = order.subarray(start, Math.min(count, start + options.batchSize));
      // Cosine decay to 5 % of the rate: the last epochs settle instead of hopping between minima,
      // so the saved classifier's accuracy does not depend on where the last epoch happened to stop.
      (optimizer as unknown as { learningRate: number }).learningRate = cosineRate(options.learningRate, step, totalSteps);
      const loss = trainBatch(optimizer, indices);
      total += loss;
      batches++;
      step++; // not inside onStep?.(…): optional chaining would skip the increment without a callback
      options.onStep?.(step, loss);
    }
    options.onEpoch?.(epoch + 1, total / batches);
  }
  optimizer.dispose();
}

/** Learning rate at `step` of `total`: cosine from `base` down to 5 % of it. */
export function cosineRate(base: number, step: number, total: number): number {
  const progress = total > 1 ? Math.min(step / (total - 1), 1) : 1;
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** A Fisher–Yates permutation of 0..n-1 drawn from `rng`. */
export function permutation(n: number, rng: Sfc32): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Penultimate-layer features and predicted classes of images in [-1, 1] (NHWC), in batches. */
export function extractFeatures(
  model: tfl.LayersModel,
  images: Float32Array,
  count: number,
  imageSize: number,
  channels: number,
  batchSize = 250,
): { features: Float32Array; predictions: Int32Array; featureSize: number } {
  const featureSize = (model.getLayer(FEATURE_LAYER).outputShape as number[])[1];
  const features = new Float32Array(count * featureSize);
  const predictions = new Int32Array(count);
  const size = imageSize * imageSize * channels;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const [f, p] = tf.tidy(() => {
      const batch = images.subarray(start * size, (start + n) * size);
      const x = tf.tensor4d(batch, [n, imageSize, imageSize, channels]);
      // A style judge (style-judge.ts) reads colour and gradient statistics beside the pixels.
      const statistics = model.inputs.length === 2 ? (model.inputs[1].shape[1] as number) : 0;
      const inputs =
        statistics > 0 ? [x, tf.tensor2d(statisticsOf(statisticsVersionOfSize(statistics), batch, n, imageSize), [n, statistics])] : x;
      const [feat, logits] = model.predict(inputs) as tf.Tensor[];
      return [feat, tf.argMax(logits, 1)];
    });
    features.set(f.dataSync() as Float32Array, start * featureSize);
    predictions.set(p.dataSync() as Int32Array, start);
    tf.dispose([f, p]);
  }
  return { features, predictions, featureSize };
}

/**
 * Share of `query` images whose nearest `reference` image (Euclidean distance between features) has
 * the same label: how much class information the features carry for images the extractor never saw,
 * whatever labels it was trained on.
 */
export function nearestNeighbourAccuracy(
  query: Float32Array,
  queryLabels: ArrayLike<number>,
  reference: Float32Array,
  referenceLabels: ArrayLike<number>,
  featureSize: number,
): number {
  const nq = queryLabels.length;
  const nr = referenceLabels.length;
  let right = 0;
  for (let i = 0; i < nq; i++) {
    let best = Number.POSITIVE_INFINITY;
    let label = -1;
    for (let j = 0; j < nr; j++) {
      let d = 0;
      for (let k = 0; k < featureSize; k++) {
        const diff = query[i * featureSize + k] - reference[j * featureSize + k];
        d += diff * diff;
      }
      if (d < best) {
        best = d;
        label = referenceLabels[j];
      }
    }
    if (label === queryLabels[i]) right++;
  }
  return nq ? right / nq : 0;
}

/** Share of `predictions` equal to `labels`. */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) right++;
  return labels.length ? right / labels.length : 0;
}
