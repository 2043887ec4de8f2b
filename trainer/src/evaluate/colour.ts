/**
 * `gan evaluate --extractor mobilenet`: an evaluation that tells colour images apart, in the features
 * of an ImageNet-lineage network (imagenet.ts) instead of the data set's own small classifier.
 *
 * - fd, fdFloor: Fréchet distance of N generated images to the held-out real split, and of N real
 *   training images to the same split (the real-vs-real floor: FD is biased upwards for finite N).
 * - kid, kidFloor: Kernel Inception Distance (kid.ts), the same two comparisons, mean ± std over
 *   subsets. Unbiased, so its floor is about 0 and it stays usable with a few hundred held-out images.
 * - classAccuracy ("style agreement" on a conditional model): the share of samples generated for
 *   class c that the data set's own classifier (models/classifiers/<dataset>-<size>, `gan
 *   train-classifier`) assigns to c, per class and overall; next to the classifier's own held-out
 *   accuracy per class, the ceiling that agreement can be read against.
 *
 * The images (32/64 px) are upscaled to 224 px and the network was fine-tuned by the package's authors,
 * so these are not FIDs and do not compare to published FIDs; they compare only with evaluations made
 * with the same extractor version, sample count and seed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type FastGenerator, cellSeed, generatorInput, latentFromSeed } from '@gan/core';
import { defaultCacheDir, loadDataset } from '../data/index.ts';
import { loadExportedGenerator } from '../export/load.ts';
import { type LabelledImages, extractFeatures } from './classifier.ts';
import {
  type Evaluation,
  EvaluationError,
  agreement,
  evaluationRecord,
  floorImages,
  generateSamples,
  judgedClasses,
  pick,
} from './evaluate.ts';
import { defaultJudgeDir } from './judge-run.ts';
import { realSplits } from './real-data.ts';
import { frechetDistance, gaussianStats } from './frechet.ts';
import { type ImageNetExtractor, loadMobileNetExtractor } from './imagenet.ts';
import { type KidResult, kernelInceptionDistance } from './kid.ts';
import { ClassifierNotFoundError, type LoadedClassifier, classifierId, defaultClassifiersDir, loadClassifier } from './store.ts';

export const EXTRACTORS = ['classifier', 'mobilenet', 'judge'] as const;
export type ExtractorChoice = (typeof EXTRACTORS)[number];

/**
 * The style judge's features for emoji models (a network no training uses; judge.ts); ImageNet
 * features for other colour images of 32 px and more, where the small classifiers are too coarse; the
 * data set's classifier otherwise (mnist's recorded numbers stay reproducible).
 */
export function defaultExtractor(channels: number, imageSize: number, dataset?: string): ExtractorChoice {
  const judge = dataset !== undefined && imageSize === 32 ? defaultJudgeDir(dataset) : undefined;
  if (judge !== undefined && existsSync(judge)) return 'judge';
  return channels === 3 && imageSize >= 32 ? 'mobilenet' : 'classifier';
}

export const IMAGENET_EVALUATION_NOTE =
  'Fréchet distance and KID in the global-pooled features of MobileNetV2 (ImageNet-trained, fine-tuned by the nsfwjs authors) ' +
  'on images upscaled bilinearly to 224 px: not comparable to published FIDs; compare only with evaluations that used the same ' +
  'extractor version, sample count and seed.';

export interface ImageNetEvaluation extends Omit<Evaluation, 'metric' | 'note' | 'extractorHeldOutAccuracy' | 'extractorAccuracyMeasure'> {
  metric: 'imagenet-feature-distances';
  note: string;
  /** Where the extractor's weights come from, e.g. nsfwjs@4.4.0 MobileNetV2. */
  extractorSource: string;
  /** Edge the images were upscaled to before feature extraction. */
  extractorInputSize: number;
  /** KID of the samples against the held-out split. */
  kid: KidResult;
  /** KID of N real training images against the held-out split. */
  kidFloor: KidResult;
  /** The classifier that judges style agreement, and its own held-out accuracy (overall and per class). */
  styleClassifier?: { id: string; version: string; heldOutAccuracy: number; heldOutAccuracyByClass: Record<string, number> };
  /** Images per second of feature extraction, on this run's backend. */
  featuresPerSecond: number;
  /** With --class: every sample was generated for this class, and the real images are this class's only. */
  class?: string;
}

/** The class-conditional judge of an ImageNet evaluation, or why there is none. */
export type StyleJudge = { classifier: LoadedClassifier } | { skipped: string };

export interface ImageNetImagesInput {
  extractor: ImageNetExtractor;
  /** Images to score, [count, S, S, C] in [-1, 1]. */
  images: Float32Array;
  count: number;
  imageSize: number;
  channels: number;
  /** Requested class of each image (index into classNames), for conditional samples. */
  classes?: Int32Array;
  classNames: string[];
  judge?: StyleJudge;
  train: LabelledImages;
  heldOut: LabelledImages;
  seed: string;
  backend: string;
  model?: { name: string; version: string };
  /** Where the images came from, when they are not a model's samples. */
  source?: string;
  started?: number;
  log?: (line: string) => void;
  /**
   * Directory where the real images' features are kept between evaluations (they are most of an
   * evaluation's work and the same for every model scored against one data set); none: always extracted.
   */
  realFeatureCache?: string;
}

/** The features of a real image set, from the cache when this extractor has seen exactly these pixels. */
function cachedFeatures(
  dir: string | undefined,
  extractor: ImageNetExtractor,
  images: Float32Array,
  n: number,
  extract: () => Float32Array,
): Float32Array {
  if (!dir) return extract();
  const key = createHash('sha256')
    .update(`${extractor.id}:${extractor.version}:${extractor.inputSize}:${n}:`)
    .update(new Uint8Array(images.buffer, images.byteOffset, images.byteLength))
    .digest('hex')
    .slice(0, 32);
  const file = path.join(dir, `${key}.f32`);
  const expected = n * extractor.featureSize * 4;
  if (existsSync(file)) {
    const bytes = readFileSync(file);
    if (bytes.byteLength === expected) return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  const features = extract();
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
  renameSync(tmp, file);
  return features;
}

/** A record's extractor fields: the network, its version, where its weights come from, and the edge it reads. */
function extractorFields(extractor: ImageNetExtractor) {
  return {
    extractor: extractor.id,
    extractorVersion: extractor.version,
    extractorSource: extractor.source,
    extractorInputSize: extractor.inputSize,
  };
}

/** Scores images (a generator's samples, or a folder made elsewhere) against the real splits. Leaves no tensors behind. */
export function evaluateImagesWithImageNet(input: ImageNetImagesInput): ImageNetEvaluation {
  const started = input.started ?? performance.now();
  const { extractor, train, heldOut, count, seed } = input;
  const log = input.log ?? (() => {});
  if (count < 2 || heldOut.count < 2) throw new EvaluationError('at least 2 images and 2 held-out real images are needed');
  if (input.imageSize !== heldOut.imageSize || input.channels !== heldOut.channels) {
    throw new EvaluationError(
      `the images are ${input.imageSize}x${input.imageSize}x${input.channels}, the real data ${heldOut.imageSize}x${heldOut.imageSize}x${heldOut.channels}`,
    );
  }
  let extracted = 0;
  let extractSeconds = 0;
  const features = (what: string, images: Float32Array, n: number) => {
    const t = performance.now();
    const f = extractor.extract(images, n, input.imageSize, input.channels);
    extractSeconds += (performance.now() - t) / 1000;
    extracted += n;
    log(`features of ${n} ${what}: ${extractSeconds.toFixed(0)} s so far, ${(extracted / extractSeconds).toFixed(1)} images/s`);
    return f;
  };
  const dim = extractor.featureSize;
  const fake = features('images to score', input.images, count);
  const realFeatures = (what: string, images: Float32Array, n: number) =>
    cachedFeatures(input.realFeatureCache, extractor, images, n, () => features(what, images, n));
  const real = realFeatures('held-out real images', heldOut.images, heldOut.count);
  const floorSet = floorImages(train, count, seed);
  const floor = realFeatures('real training images (floor)', floorSet.images, floorSet.count);

  const realStats = gaussianStats(real, heldOut.count, dim);
  const fd = frechetDistance(gaussianStats(fake, count, dim), realStats);
  const fdFloor = frechetDistance(gaussianStats(floor, floorSet.count, dim), realStats);
  log(`FD ${fd.toPrecision(4)}, floor ${fdFloor.toPrecision(4)}`);
  const kid = kernelInceptionDistance(fake, count, real, heldOut.count, dim, { seed });
  const kidFloor = kernelInceptionDistance(floor, floorSet.count, real, heldOut.count, dim, { seed });

  const evaluation: ImageNetEvaluation = {
    ...evaluationRecord({ metric: 'imagenet-feature-distances', note: IMAGENET_EVALUATION_NOTE }, input, extractorFields(extractor), {
      featureSize: dim,
      samples: count,
      referenceImages: heldOut.count,
      fd,
      fdFloor,
    }),
    kid,
    kidFloor,
    featuresPerSecond: Math.round((extracted / extractSeconds) * 10) / 10,
    seconds: 0,
  };

  if (input.classes && input.judge) {
    if ('skipped' in input.judge) evaluation.classAccuracySkipped = input.judge.skipped;
    else {
      const { model, info } = input.judge.classifier;
      const judged = judgedClasses(info, input.classNames, 'classifier');
      if ('skipped' in judged) {
        evaluation.classAccuracySkipped = judged.skipped;
      } else if (info.imageSize !== input.imageSize || info.channels !== input.channels) {
        evaluation.classAccuracySkipped = `the classifier ${info.id} reads ${info.imageSize}x${info.imageSize}x${info.channels} images`;
      } else {
        const predictions = extractFeatures(model, input.images, count, info.imageSize, info.channels).predictions;
        const { overall, byClass } = agreement(
          predictions,
          input.classes,
          Array.from(input.classes, (c) => judged.mapped[c]),
          input.classNames,
        );
        evaluation.classAccuracy = overall;
        evaluation.classAccuracyByClass = byClass;
        // Its own accuracy on real held-out images of each class: what agreement can be read against.
        const held = extractFeatures(model, heldOut.images, heldOut.count, info.imageSize, info.channels).predictions;
        const heldWanted = Array.from(heldOut.labels, (l) => info.classNames.indexOf(heldOut.classNames[l]));
        const own = agreement(held, heldOut.labels, heldWanted, heldOut.classNames);
        evaluation.styleClassifier = {
          id: info.id,
          version: info.version,
          heldOutAccuracy: own.overall,
          heldOutAccuracyByClass: own.byClass,
        };
      }
    }
  }
  evaluation.seconds = Math.round((performance.now() - started) / 100) / 10;
  return evaluation;
}

export interface ImageNetAccess {
  /** Prepared-image and package cache (default: the loader's). */
  cacheDir?: string;
  /** Directory of emoji-datasource-twitter, for twemoji. */
  twemojiDir?: string;
  /** Directory of the nsfwjs package (default: found or installed into the cache). */
  nsfwjsDir?: string;
  log?: (line: string) => void;
}

/** The style classifier for a conditional model: an explicit directory, else the data set's shipped one; or why there is none. */
async function styleJudge(dataset: string, imageSize: number, explicit: string | undefined): Promise<StyleJudge> {
  const judge = imageSize === 32 ? defaultJudgeDir(dataset) : undefined;
  const dir = explicit ?? (judge && existsSync(judge) ? judge : path.join(defaultClassifiersDir(), classifierId(dataset, imageSize)));
  try {
    return { classifier: await loadClassifier(dir) };
  } catch (err) {
    if (err instanceof ClassifierNotFoundError && !explicit) {
      return {
        skipped: `no classifier for ${dataset} at ${imageSize} px; train it with: gan train-classifier --data ${dataset} --image-size ${imageSize}`,
      };
    }
    throw err;
  }
}

export interface ImageNetExportOptions extends ImageNetAccess {
  samples: number;
  seed: string;
  backend: string;
  /** Style classifier directory (default: models/classifiers/<dataset>-<imageSize>, when it exists). */
  classifier?: string;
  /**
   * Score one class of a conditional model against the real images of that class only (e.g. the
   * twemoji style of a multi-style model against real twemoji): sample i is the latent of
   * cellSeed(seed, i) with this class.
   */
  className?: string;
}

/** N images in [-1, 1] of one class: sample i is the latent of cellSeed(seed, i). Leaves no tensors behind. */
export function generateClassSamples(
  generator: FastGenerator,
  seed: string,
  samples: number,
  classIndex: number,
  batchSize = 100,
): Float32Array {
  const { config } = generator;
  const size = config.imageSize * config.imageSize * config.channels;
  const images = new Float32Array(samples * size);
  for (let start = 0; start < samples; start += batchSize) {
    const n = Math.min(batchSize, samples - start);
    const latents = Array.from({ length: n }, (_, k) => latentFromSeed(cellSeed(seed, start + k), config.latentSize));
    const out = tf.tidy(() =>
      generator.forward(
        generatorInput(
          config,
          latents,
          latents.map(() => classIndex),
        ),
      ),
    );
    images.set(out.dataSync() as Float32Array, start * size);
    out.dispose();
  }
  return images;
}

/** The images of one class (by name) of a labelled set. */
export function classSubset<T extends LabelledImages>(data: T, className: string): T {
  const label = data.classNames.indexOf(className);
  if (label < 0)
    throw new EvaluationError(`the real data has no class ${JSON.stringify(className)} (classes: ${data.classNames.join(', ')})`);
  const indices = Array.from(data.labels).flatMap((l, i) => (l === label ? [i] : []));
  const size = data.imageSize * data.imageSize * data.channels;
  return { ...data, images: pick(data.images, indices, size), labels: Int32Array.from(indices, () => label), count: indices.length };
}

/** Evaluates an exported model directory with ImageNet features. */
export async function evaluateExportWithImageNet(modelDir: string, options: ImageNetExportOptions): Promise<ImageNetEvaluation> {
  const started = performance.now();
  const { manifest, generator } = await loadExportedGenerator(modelDir);
  const conditional = manifest.classes.length > 0;
  const judge = conditional ? await styleJudge(manifest.dataset.name, manifest.imageSize, options.classifier) : undefined;
  const extractor = await loadMobileNetExtractor({
    cacheDir: options.cacheDir ?? path.resolve('.cache'),
    packageDir: options.nsfwjsDir,
    log: options.log,
  });
  try {
    if (options.samples < 2) throw new EvaluationError('at least 2 samples are needed');
    const splits = await realSplits(
      manifest.dataset.name,
      { imageSize: manifest.imageSize, channels: manifest.channels as 1 | 3, background: 'white' },
      options,
    );
    let { train, heldOut } = splits;
    let generated: { images: Float32Array; classes: Int32Array };
    if (options.className !== undefined) {
      const classIndex = manifest.classes.indexOf(options.className);
      if (classIndex < 0)
        throw new EvaluationError(
          `${manifest.name} has no class ${JSON.stringify(options.className)} (classes: ${manifest.classes.join(', ') || 'none'})`,
        );
      [train, heldOut] = [classSubset(train, options.className), classSubset(heldOut, options.className)];
      options.log?.(`class ${options.className}: ${train.count} training and ${heldOut.count} held-out real images`);
      generated = {
        images: generateClassSamples(generator, options.seed, options.samples, classIndex),
        classes: new Int32Array(options.samples).fill(classIndex),
      };
    } else generated = generateSamples(generator, options.seed, options.samples);
    const evaluation = evaluateImagesWithImageNet({
      extractor,
      images: generated.images,
      count: options.samples,
      imageSize: manifest.imageSize,
      channels: manifest.channels,
      classes: conditional ? generated.classes : undefined,
      classNames: manifest.classes,
      judge,
      train,
      heldOut,
      seed: options.seed,
      backend: options.backend,
      model: { name: manifest.name, version: manifest.version },
      started,
      log: options.log,
      realFeatureCache: path.join(options.cacheDir ?? defaultCacheDir(), 'features'),
    });
    return options.className !== undefined ? { ...evaluation, class: options.className } : evaluation;
  } finally {
    extractor.dispose();
    generator.dispose();
    if (judge && 'classifier' in judge) judge.classifier.model.dispose();
  }
}

export interface ImageNetFolderOptions extends ImageNetAccess {
  seed: string;
  backend: string;
  /** The real data set to compare with (mnist, twemoji, emoji, folder:<path>). */
  data: string;
  imageSize: number;
  channels?: 1 | 3;
  /** Style classifier directory (default: the data set's shipped one, when the folder has class sub-folders). */
  classifier?: string;
}

/**
 * Evaluates a folder of PNG/JPEG images made elsewhere (e.g. the PyTorch reference's samples), resized
 * to the evaluation size by the data loader. Sub-folders named like classes count as generated for that class.
 */
export async function evaluateImageFolderWithImageNet(dir: string, options: ImageNetFolderOptions): Promise<ImageNetEvaluation> {
  const started = performance.now();
  const channels = options.channels ?? 3;
  const images = await loadDataset(`folder:${dir}`, {
    imageSize: options.imageSize,
    channels,
    background: 'white',
    labels: true,
    split: 'all',
    cacheDir: options.cacheDir,
    log: options.log,
  });
  const conditional = images.classNames.length > 0;
  const judge = conditional ? await styleJudge(options.data, options.imageSize, options.classifier) : undefined;
  const extractor = await loadMobileNetExtractor({
    cacheDir: options.cacheDir ?? path.resolve('.cache'),
    packageDir: options.nsfwjsDir,
    log: options.log,
  });
  try {
    const { train, heldOut } = await realSplits(options.data, { imageSize: options.imageSize, channels, background: 'white' }, options);
    return evaluateImagesWithImageNet({
      extractor,
      images: images.images,
      count: images.count,
      imageSize: options.imageSize,
      channels,
      classes: conditional ? images.labels : undefined,
      classNames: images.classNames,
      judge,
      train,
      heldOut,
      seed: options.seed,
      backend: options.backend,
      source: path.resolve(dir),
      started,
      log: options.log,
      realFeatureCache: path.join(options.cacheDir ?? defaultCacheDir(), 'features'),
    });
  } finally {
    extractor.dispose();
    if (judge && 'classifier' in judge) judge.classifier.model.dispose();
  }
}

/** A human-readable report of an ImageNet evaluation. */
export function formatImageNetEvaluation(e: ImageNetEvaluation): string {
  const f = (n: number) => (Number.isFinite(n) ? n.toPrecision(4) : String(n));
  const k = (r: KidResult) => `${f(r.mean)} ± ${f(r.std)}`;
  const pct = (a: number) => `${(a * 100).toFixed(1)} %`;
  const lines = [
    e.model
      ? `model: ${e.model.name} ${e.model.version}${e.class !== undefined ? `, class ${e.class} only (against real images of that class)` : ''}`
      : undefined,
    e.images ? `images: ${e.images}` : undefined,
    `extractor: ${e.extractor} version ${e.extractorVersion} (${e.extractorSource}, ${e.featureSize} features, inputs upscaled to ${e.extractorInputSize} px; ${e.featuresPerSecond} images/s)`,
    `samples: ${e.samples}, seed ${JSON.stringify(e.seed)}, against ${e.referenceImages} held-out real images, backend ${e.backend}`,
    `FD: ${f(e.fd)}   real-vs-real floor (train vs held-out, same N): ${f(e.fdFloor)}   ratio: ${f(e.fdRatio)}`,
    `KID: ${k(e.kid)}   floor: ${k(e.kidFloor)}   (mean ± std over ${e.kid.subsets} subsets of ${e.kid.subsetSize})`,
  ];
  if (e.classAccuracy !== undefined) {
    lines.push(
      `style agreement: ${pct(e.classAccuracy)} of samples classified as the requested class by ${e.styleClassifier?.id} (its own held-out accuracy ${pct(e.styleClassifier?.heldOutAccuracy ?? 0)})`,
    );
    lines.push(
      `  per class (samples / classifier on held-out real): ${Object.entries(e.classAccuracyByClass ?? {})
        .map(([name, a]) => `${name} ${pct(a)} / ${pct(e.styleClassifier?.heldOutAccuracyByClass[name] ?? 0)}`)
        .join(', ')}`,
    );
  } else if (e.classAccuracySkipped) lines.push(`style agreement: not measured (${e.classAccuracySkipped})`);
  lines.push(`note: ${e.note}`);
  return lines.filter((l) => l !== undefined).join('\n');
}
