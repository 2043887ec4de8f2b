/**
 * The evaluation workflows behind the CLI: train and save a data set's feature extractor, and
 * evaluate an exported generator with it. Both read real images through the trainer's data loader,
 * whose held-out split (the last 10 % of each class) the generator and the extractor never train on.
 */
import path from 'node:path';
import { Sfc32 } from '@gan/core/prng';
import { loadExportedGenerator } from '../export/load.ts';
import {
  type LabelledImages,
  accuracy,
  buildClassifier,
  extractFeatures,
  nearestNeighbourAccuracy,
  trainClassifier,
} from './classifier.ts';
import { type Evaluation, evaluateGenerator, evaluateImages } from './evaluate.ts';
import { loadDataset } from '../data/index.ts';
import { type DataAccess, realSplits } from './real-data.ts';
import {
  type ClassifierInfo,
  ClassifierNotFoundError,
  type LoadedClassifier,
  classifierId,
  defaultClassifiersDir,
  loadClassifier,
  saveClassifier,
  trainingRecord,
} from './store.ts';

export type { DataAccess } from './real-data.ts';

export interface TrainExtractorOptions extends DataAccess {
  /** Data spec: mnist, twemoji, folder:<path>. */
  data: string;
  imageSize: number;
  channels?: 1 | 3;
  /** Colour under transparent pixels (default white, as gan train). */
  background?: string;
  /** Train on the data set's classes (default) or on instances (see trainExtractor). */
  labels?: 'classes' | 'instances';
  epochs: number;
  batchSize: number;
  learningRate: number;
  maxShift: number;
  seed: string;
  backend: string;
  /** Output directory (default: models/classifiers/<dataset>-<imageSize>). */
  out?: string;
}

/**
 * Trains the extractor on the training split, measures it on the held-out split, saves it.
 *
 * `labels: 'classes'` (default) trains on the data set's classes: right for MNIST, whose ten digits
 * are what its images are about. Twemoji's categories (Smileys, Objects, Flags, …) are too weak a
 * signal: its held-out split is the tail of each category in emoji order, so held-out accuracy stays
 * near 28 %, and the features came out blind to blur (a 3x3 box blur of real emoji scored *below*
 * the real-vs-real floor), which is the first thing a GAN metric must see. `labels: 'instances'`
 * makes every training image its own class, under random shifts — instance discrimination, the
 * pretext task of self-supervised features (Dosovitskiy et al. 2014, Wu et al. 2018). To tell 1 700
 * emoji apart the features must keep shape, colour and fine detail, which is what FD should compare.
 * Its held-out quality is reported as 1-nearest-neighbour category accuracy (features of unseen
 * images against the training images'), measured the same way for both kinds.
 */
export async function trainExtractor(options: TrainExtractorOptions): Promise<{ dir: string; info: ClassifierInfo }> {
  const log = options.log ?? (() => {});
  const labels = options.labels ?? 'classes';
  const { train, heldOut } = await realSplits(
    options.data,
    { imageSize: options.imageSize, channels: options.channels, background: options.background, requireLabels: true },
    options,
  );
  log(
    `${options.data}: ${train.count} training and ${heldOut.count} held-out images, ${train.classNames.length} classes, ${train.imageSize}x${train.imageSize}x${train.channels}; labels: ${labels}`,
  );
  const trainingSet: LabelledImages =
    labels === 'instances'
      ? {
          ...train,
          labels: Int32Array.from({ length: train.count }, (_, i) => i),
          classNames: Array.from({ length: train.count }, (_, i) => `#${i}`),
        }
      : train;
  const weightSeed = Sfc32.fromSeed(`weights:${options.seed}`).nextInt(1 << 20);
  const model = buildClassifier(
    { imageSize: train.imageSize, channels: train.channels, numClasses: trainingSet.classNames.length },
    weightSeed,
  );
  const started = performance.now();
  /** Held-out argmax accuracy ('classes' only) and 1-NN class accuracy against the training images. */
  const measure = () => {
    const held = extractFeatures(model, heldOut.images, heldOut.count, heldOut.imageSize, heldOut.channels);
    const ref = extractFeatures(model, train.images, train.count, train.imageSize, train.channels);
    const nearest = nearestNeighbourAccuracy(held.features, heldOut.labels, ref.features, train.labels, held.featureSize);
    return { top1: labels === 'classes' ? accuracy(held.predictions, heldOut.labels) : undefined, nearest };
  };
  try {
    trainClassifier(model, trainingSet, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      maxShift: options.maxShift,
      seed: options.seed,
      onEpoch: (epoch, loss) => {
        const last = epoch === options.epochs;
        // Measuring every epoch costs a pass over the training images; every 5th and the last suffice.
        const m = last || epoch % 5 === 0 || labels === 'classes' ? measure() : undefined;
        const acc = m
          ? `, held-out ${m.top1 !== undefined ? `accuracy ${(m.top1 * 100).toFixed(2)} %, ` : ''}1-NN class accuracy ${(m.nearest * 100).toFixed(2)} %`
          : '';
        log(`epoch ${epoch}/${options.epochs}: loss ${loss.toFixed(4)}${acc}, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      },
    });
    const seconds = Math.round((performance.now() - started) / 1000);
    const final = measure();
    const id = classifierId(train.name, train.imageSize);
    const dir = options.out ?? path.join(defaultClassifiersDir(), id);
    const info = await saveClassifier(dir, model, {
      id,
      dataset: train.name,
      imageSize: train.imageSize,
      channels: train.channels,
      classNames: train.classNames,
      background: options.background ?? 'white',
      labels,
      heldOutAccuracy: final.top1 ?? final.nearest,
      heldOutNearestNeighbourAccuracy: final.nearest,
      trainCount: train.count,
      heldOutCount: heldOut.count,
      training: trainingRecord(options, seconds),
      createdAt: new Date().toISOString(),
    });
    return { dir, info };
  } finally {
    model.dispose();
  }
}

export interface EvaluateExportOptions extends DataAccess {
  samples: number;
  seed: string;
  backend: string;
  /** Extractor directory (default: models/classifiers/<manifest dataset>-<imageSize>). */
  classifier?: string;
}

/** Evaluates an exported model directory (what `gan export` writes and the worker serves). */
export async function evaluateExport(modelDir: string, options: EvaluateExportOptions): Promise<Evaluation> {
  const { manifest, generator } = await loadExportedGenerator(modelDir);
  try {
    const dir = options.classifier ?? path.join(defaultClassifiersDir(), classifierId(manifest.dataset.name, manifest.imageSize));
    let classifier: LoadedClassifier;
    try {
      classifier = await loadClassifier(dir);
    } catch (err) {
      if (err instanceof ClassifierNotFoundError && !options.classifier) {
        throw new ClassifierNotFoundError(
          `${err.message}; train it with: gan train-classifier --data ${manifest.dataset.name} --image-size ${manifest.imageSize}`,
        );
      }
      throw err;
    }
    try {
      const { info } = classifier;
      const { train, heldOut } = await realSplits(
        info.dataset,
        { imageSize: info.imageSize, channels: info.channels as 1 | 3, background: info.background, requireLabels: true },
        options,
      );
      return evaluateGenerator({
        generator,
        classNames: manifest.classes,
        classifier,
        train,
        heldOut,
        samples: options.samples,
        seed: options.seed,
        backend: options.backend,
        model: { name: manifest.name, version: manifest.version },
      });
    } finally {
      classifier.model.dispose();
    }
  } finally {
    generator.dispose();
  }
}

export interface EvaluateFolderOptions extends DataAccess {
  seed: string;
  backend: string;
  /** Extractor directory. */
  classifier: string;
}

/**
 * Evaluates a folder of PNG/JPEG images made elsewhere (e.g. samples of the PyTorch reference),
 * resized to the extractor's size by the data loader. Images in sub-folders named like the
 * extractor's classes count as generated for that class, so class accuracy is measured too.
 */
export async function evaluateImageFolder(dir: string, options: EvaluateFolderOptions): Promise<Evaluation> {
  const classifier = await loadClassifier(options.classifier);
  try {
    const { info } = classifier;
    const images = await loadDataset(`folder:${dir}`, {
      imageSize: info.imageSize,
      channels: info.channels as 1 | 3,
      background: info.background,
      labels: true,
      split: 'all',
      cacheDir: options.cacheDir,
      log: options.log,
    });
    const { train, heldOut } = await realSplits(
      info.dataset,
      { imageSize: info.imageSize, channels: info.channels as 1 | 3, background: info.background, requireLabels: true },
      options,
    );
    return evaluateImages({
      images: images.images,
      count: images.count,
      classes: images.classNames.length > 0 ? images.labels : undefined,
      classNames: images.classNames,
      classifier,
      train,
      heldOut,
      seed: options.seed,
      backend: options.backend,
      source: path.resolve(dir),
    });
  } finally {
    classifier.model.dispose();
  }
}
