/**
 * The evaluation workflows behind the CLI: train and save a data set's feature extractor, and
 * evaluate an exported generator with it. Both read real images through the trainer's data loader,
 * whose held-out split (the last 10 % of each class) the generator and the extractor never train on.
 */
import path from 'node:path';
import { Sfc32 } from '@gan/core/prng';
import { type Dataset, loadDataset } from '../data/index.ts';
import { loadExportedGenerator } from '../export/load.ts';
import { accuracy, buildClassifier, extractFeatures, trainClassifier } from './classifier.ts';
import { type Evaluation, EvaluationError, evaluateGenerator } from './evaluate.ts';
import { type ClassifierInfo, classifierId, defaultClassifiersDir, loadClassifier, saveClassifier } from './store.ts';

export interface DataAccess {
  /** Prepared-image cache (default: the loader's). */
  cacheDir?: string;
  /** Directory of emoji-datasource-twitter, for twemoji. */
  twemojiDir?: string;
  log?: (line: string) => void;
}

export interface TrainExtractorOptions extends DataAccess {
  /** Data spec: mnist, twemoji, folder:<path>. */
  data: string;
  imageSize: number;
  channels?: 1 | 3;
  /** Colour under transparent pixels (default white, as gan train). */
  background?: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  maxShift: number;
  seed: string;
  backend: string;
  /** Output directory (default: models/classifiers/<dataset>-<imageSize>). */
  out?: string;
}

async function splits(
  data: string,
  imageSize: number,
  channels: 1 | 3 | undefined,
  background: string | undefined,
  access: DataAccess,
): Promise<{ train: Dataset; heldOut: Dataset }> {
  const common = { imageSize, channels, background, labels: true, cacheDir: access.cacheDir, twemojiDir: access.twemojiDir, log: access.log };
  const train = await loadDataset(data, { ...common, split: 'train' });
  const heldOut = await loadDataset(data, { ...common, split: 'heldout' });
  if (train.classNames.length < 2) throw new EvaluationError(`${data} has no class labels: the feature extractor is trained on labels`);
  if (heldOut.count < 2) throw new EvaluationError(`${data} has too few held-out images (${heldOut.count}) to evaluate against`);
  return { train, heldOut };
}

/** Trains the extractor on the training split, measures it on the held-out split, saves it. */
export async function trainExtractor(options: TrainExtractorOptions): Promise<{ dir: string; info: ClassifierInfo }> {
  const log = options.log ?? (() => {});
  const { train, heldOut } = await splits(options.data, options.imageSize, options.channels, options.background, options);
  log(`${options.data}: ${train.count} training and ${heldOut.count} held-out images, ${train.classNames.length} classes, ${train.imageSize}x${train.imageSize}x${train.channels}`);
  const weightSeed = Sfc32.fromSeed(`weights:${options.seed}`).nextInt(1 << 20);
  const model = buildClassifier({ imageSize: train.imageSize, channels: train.channels, numClasses: train.classNames.length }, weightSeed);
  const started = performance.now();
  try {
    trainClassifier(model, train, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      maxShift: options.maxShift,
      seed: options.seed,
      onEpoch: (epoch, loss) => {
        const { predictions } = extractFeatures(model, heldOut.images, heldOut.count, heldOut.imageSize, heldOut.channels);
        const acc = accuracy(predictions, heldOut.labels);
        log(`epoch ${epoch}/${options.epochs}: loss ${loss.toFixed(4)}, held-out accuracy ${(acc * 100).toFixed(2)} %, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      },
    });
    const seconds = Math.round((performance.now() - started) / 1000);
    const { predictions } = extractFeatures(model, heldOut.images, heldOut.count, heldOut.imageSize, heldOut.channels);
    const id = classifierId(train.name, train.imageSize);
    const dir = options.out ?? path.join(defaultClassifiersDir(), id);
    const info = await saveClassifier(dir, model, {
      id,
      dataset: train.name,
      imageSize: train.imageSize,
      channels: train.channels,
      classNames: train.classNames,
      background: options.background ?? 'white',
      heldOutAccuracy: accuracy(predictions, heldOut.labels),
      trainCount: train.count,
      heldOutCount: heldOut.count,
      training: {
        epochs: options.epochs,
        batchSize: options.batchSize,
        learningRate: options.learningRate,
        maxShift: options.maxShift,
        seed: options.seed,
        backend: options.backend,
        seconds,
      },
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
    const classifier = await loadClassifier(dir);
    try {
      const { train, heldOut } = await splits(classifier.info.dataset, classifier.info.imageSize, classifier.info.channels as 1 | 3, classifier.info.background, options);
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
