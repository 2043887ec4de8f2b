/**
 * `gan evaluate`: how close an exported generator's images are to the real data, measured in the
 * feature space of the project's own classifier (see classifier.ts), plus, for conditional models,
 * whether it draws the class it was asked for.
 *
 * - fd: Fréchet distance between features of N generated images and of the held-out real split.
 * - fdFloor: the same distance between N images of the real training split and the held-out split —
 *   what a perfect generator would score with this many samples (FD is biased upwards for finite N,
 *   so the floor uses the same N). fd / fdFloor says how far above "indistinguishable" a model is.
 * - classAccuracy: share of images generated for class c that the classifier assigns to c, overall
 *   and per class (classes cycled 0, 1, …, K−1, 0, … over the N samples).
 *
 * Everything is determined by the generator, the extractor version, N and the seed: image i uses the
 * latent of `cellSeed(seed, i)` (core's prng), the real subset for the floor is a permutation drawn
 * from the seed. These numbers are NOT Inception FID and compare only with evaluations made with the
 * same extractor version, sample count and seed.
 */
import { type FastGenerator, type GridCell, type ModelConfig, cellSeed, forEachPass, pointOfCell, Sfc32 } from '@gan/core';
import { type LabelledImages, accuracy, extractFeatures, permutation } from './classifier.ts';
import { frechetDistance, gaussianStats } from './frechet.ts';
import type { ClassifierInfo, LoadedClassifier } from './store.ts';

export const EVALUATION_NOTE =
  "Fréchet distance in the feature space of this project's own classifier (penultimate layer), not Inception FID: " +
  'compare only with evaluations that used the same extractor version, sample count and seed.';

export const DEFAULT_SAMPLES = 1000;
export const DEFAULT_EVAL_SEED = 'evaluate';

export interface Evaluation {
  metric: 'classifier-feature-frechet-distance';
  note: string;
  model?: { name: string; version: string };
  /** The folder of images scored, when they are not a model's samples. */
  images?: string;
  /** Extractor id (`<dataset>-<imageSize>`) and version (sha256 prefix of its weights). */
  extractor: string;
  extractorVersion: string;
  extractorHeldOutAccuracy: number;
  /** How that accuracy was measured: the classifier's top-1 class, or the nearest training image's class. */
  extractorAccuracyMeasure: 'top-1 class' | '1-NN class';
  featureSize: number;
  samples: number;
  seed: string;
  backend: string;
  /** Held-out real images the distances are measured against. */
  referenceImages: number;
  fd: number;
  /** FD of N real training images against the held-out split. */
  fdFloor: number;
  /** fd / fdFloor. */
  fdRatio: number;
  /** Overall share of conditional samples classified as the requested class; absent for unconditional models. */
  classAccuracy?: number;
  classAccuracyByClass?: Record<string, number>;
  /** Why class accuracy is absent, when the model is conditional but its classes are not the extractor's. */
  classAccuracySkipped?: string;
  seconds: number;
}

export class EvaluationError extends Error {
  override name = 'EvaluationError';
}

/** Where the scored images came from: a model's samples, or a folder made elsewhere. */
export interface ScoredImages {
  model?: { name: string; version: string };
  source?: string;
  seed: string;
  backend: string;
}

/** How far the scored images are from the held-out split, and what that distance was measured with. */
export interface Distances {
  featureSize: number;
  samples: number;
  referenceImages: number;
  fd: number;
  fdFloor: number;
}

/**
 * The fields every evaluation record has, in the order every record is written (the JSON in a
 * manifest and a card): the metric and its note, what was scored, the extractor's own fields, then the
 * distances and their ratio.
 */
export function evaluationRecord<Metric extends string, Extractor extends object>(
  head: { metric: Metric; note: string },
  scored: ScoredImages,
  extractor: Extractor,
  distances: Distances,
) {
  return {
    metric: head.metric,
    note: head.note,
    ...(scored.model ? { model: scored.model } : {}),
    ...(scored.source ? { images: scored.source } : {}),
    ...extractor,
    featureSize: distances.featureSize,
    samples: distances.samples,
    seed: scored.seed,
    backend: scored.backend,
    referenceImages: distances.referenceImages,
    fd: distances.fd,
    fdFloor: distances.fdFloor,
    fdRatio: distances.fdFloor > 0 ? distances.fd / distances.fdFloor : Number.POSITIVE_INFINITY,
  };
}

/** Rows `indices` of an image set. */
export function pick(images: Float32Array, indices: ArrayLike<number>, size: number): Float32Array {
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) out.set(images.subarray(indices[i] * size, (indices[i] + 1) * size), i * size);
  return out;
}

/** The real-vs-real floor's images: N training images, a subset drawn from the seed (all of them if there are fewer). */
export function floorImages(train: LabelledImages, count: number, seed: string): { images: Float32Array; count: number } {
  const floorCount = Math.min(count, train.count);
  const order = permutation(train.count, Sfc32.fromSeed(`floor:${seed}`)).subarray(0, floorCount);
  return { images: pick(train.images, order, train.imageSize * train.imageSize * train.channels), count: floorCount };
}

/**
 * Requested class c → the judging classifier's class of the same name; or why it cannot judge these
 * classes. `role` names the classifier in the reason (the extractor, or the style classifier).
 */
export function judgedClasses(info: ClassifierInfo, classNames: string[], role: string): { mapped: number[] } | { skipped: string } {
  const mapped = classNames.map((name) => info.classNames.indexOf(name));
  const missing = classNames.filter((_, c) => mapped[c] < 0);
  if (info.labels !== 'classes') return { skipped: `the ${role} ${info.id} tells training images apart, not classes` };
  if (classNames.length === 0 || missing.length > 0) {
    return {
      skipped: `the ${role} ${info.id} has no class named ${missing.map((m) => JSON.stringify(m)).join(', ') || '(class names missing)'}`,
    };
  }
  return { mapped };
}

/** Share of `predictions` equal to the wanted class, overall and per requested class name. */
export function agreement(predictions: ArrayLike<number>, requested: ArrayLike<number>, wanted: ArrayLike<number>, names: string[]) {
  const byClass = Object.fromEntries(
    names.map((name, c) => {
      const idx = Array.from(requested).flatMap((r, i) => (r === c ? [i] : []));
      return [
        name,
        accuracy(
          idx.map((i) => predictions[i]),
          idx.map((i) => wanted[i]),
        ),
      ];
    }),
  );
  return { overall: accuracy(predictions, wanted), byClass };
}

/** Sample i: the latent of cellSeed(seed, i) and, on conditional models, class i mod K. */
export function sampleCells(config: ModelConfig, seed: string, start: number, count: number): GridCell[] {
  return Array.from({ length: count }, (_, k) => ({
    seed: cellSeed(seed, start + k),
    classIndex: config.numClasses > 0 ? (start + k) % config.numClasses : undefined,
  }));
}

/** Generates N images in [-1, 1] (NHWC) and their requested classes, through core's render pipeline. */
export function generateSamples(
  generator: FastGenerator,
  seed: string,
  samples: number,
  batchSize = 100,
): { images: Float32Array; classes: Int32Array } {
  const { config } = generator;
  const size = config.imageSize * config.imageSize * config.channels;
  const images = new Float32Array(samples * size);
  const cells = sampleCells(config, seed, 0, samples);
  forEachPass(
    generator,
    cells.map((c) => pointOfCell(config, c)),
    config.imageSize,
    (pass, start) => images.set(pass.dataSync() as Float32Array, start * size),
    batchSize,
  );
  return { images, classes: Int32Array.from(cells, (c) => c.classIndex ?? 0) };
}

export interface EvaluateInput {
  generator: FastGenerator;
  /** The generator's class names (manifest.classes); empty for unconditional models. */
  classNames: string[];
  classifier: LoadedClassifier;
  /** The real data's splits, as the extractor was trained (train) and tested (held-out) on. */
  train: LabelledImages;
  heldOut: LabelledImages;
  samples: number;
  seed: string;
  backend: string;
  model?: { name: string; version: string };
}

/** Scores a generator against real data with a trained extractor. Leaves no tensors behind. */
export function evaluateGenerator(input: EvaluateInput): Evaluation {
  const started = performance.now();
  const { generator, classifier, samples, seed } = input;
  const { config } = generator;
  const info = classifier.info;
  if (config.imageSize !== info.imageSize || config.channels !== info.channels) {
    throw new EvaluationError(
      `the model makes ${config.imageSize}x${config.imageSize}x${config.channels} images, the extractor ${info.id} reads ${info.imageSize}x${info.imageSize}x${info.channels}`,
    );
  }
  if (samples < 2) throw new EvaluationError('at least 2 samples are needed');
  const generated = generateSamples(generator, seed, samples);
  return evaluateImages({
    ...input,
    images: generated.images,
    count: samples,
    classes: config.numClasses > 0 ? generated.classes : undefined,
    started,
  });
}

export interface EvaluateImagesInput extends Omit<EvaluateInput, 'generator' | 'samples'> {
  /** Images to score, [count, S, S, C] in [-1, 1], at the extractor's size. */
  images: Float32Array;
  count: number;
  /** Requested class of each image (index into classNames), for conditional samples. */
  classes?: Int32Array;
  /** Where the images came from, when they are not a model's samples (e.g. a folder of PNGs). */
  source?: string;
  started?: number;
}

/** A record's extractor fields: the classifier, its version, and its own held-out accuracy and how that was measured. */
function classifierFields(info: ClassifierInfo) {
  return {
    extractor: info.id,
    extractorVersion: info.version,
    extractorHeldOutAccuracy: info.heldOutAccuracy,
    extractorAccuracyMeasure: info.labels === 'classes' ? ('top-1 class' as const) : ('1-NN class' as const),
  };
}

/**
 * Scores a set of images (a generator's samples, or images made elsewhere, e.g. by the PyTorch
 * reference) against the real data. Leaves no tensors behind.
 */
export function evaluateImages(input: EvaluateImagesInput): Evaluation {
  const started = input.started ?? performance.now();
  const { classifier, train, heldOut, count, seed } = input;
  const info = classifier.info;
  if (count < 2) throw new EvaluationError('at least 2 images are needed');
  const features = (images: Float32Array, n: number) => extractFeatures(classifier.model, images, n, info.imageSize, info.channels);

  const fake = features(input.images, count);
  const real = features(heldOut.images, heldOut.count);
  const realStats = gaussianStats(real.features, heldOut.count, real.featureSize);
  const fd = frechetDistance(gaussianStats(fake.features, count, fake.featureSize), realStats);

  const floor = floorImages(train, count, seed);
  const floorFeatures = features(floor.images, floor.count);
  const fdFloor = frechetDistance(gaussianStats(floorFeatures.features, floor.count, floorFeatures.featureSize), realStats);

  const evaluation: Evaluation = {
    ...evaluationRecord({ metric: 'classifier-feature-frechet-distance', note: EVALUATION_NOTE }, input, classifierFields(info), {
      featureSize: info.featureSize,
      samples: count,
      referenceImages: heldOut.count,
      fd,
      fdFloor,
    }),
    seconds: 0,
  };

  if (input.classes) {
    const judged = judgedClasses(info, input.classNames, 'extractor');
    if ('skipped' in judged) evaluation.classAccuracySkipped = judged.skipped;
    else {
      const { overall, byClass } = agreement(
        fake.predictions,
        input.classes,
        Array.from(input.classes, (c) => judged.mapped[c]),
        input.classNames,
      );
      evaluation.classAccuracy = overall;
      evaluation.classAccuracyByClass = byClass;
    }
  }
  evaluation.seconds = Math.round((performance.now() - started) / 100) / 10;
  return evaluation;
}

/** A human-readable report of an evaluation. */
export function formatEvaluation(e: Evaluation): string {
  const f = (n: number) => (Number.isFinite(n) ? n.toPrecision(4) : String(n));
  const lines = [
    e.model ? `model: ${e.model.name} ${e.model.version}` : undefined,
    e.images ? `images: ${e.images}` : undefined,
    `extractor: ${e.extractor} version ${e.extractorVersion} (held-out ${e.extractorAccuracyMeasure} accuracy ${(e.extractorHeldOutAccuracy * 100).toFixed(2)} %, ${e.featureSize} features; see models/classifiers)`,
    `samples: ${e.samples}, seed ${JSON.stringify(e.seed)}, against ${e.referenceImages} held-out real images, backend ${e.backend}`,
    `FD: ${f(e.fd)}   real-vs-real floor (train vs held-out, same N): ${f(e.fdFloor)}   ratio: ${f(e.fdRatio)}`,
  ];
  if (e.classAccuracy !== undefined) {
    lines.push(`class accuracy: ${(e.classAccuracy * 100).toFixed(2)} % of samples classified as the requested class`);
    lines.push(
      `  per class: ${Object.entries(e.classAccuracyByClass ?? {})
        .map(([name, a]) => `${name} ${(a * 100).toFixed(1)} %`)
        .join(', ')}`,
    );
  } else if (e.classAccuracySkipped) lines.push(`class accuracy: not measured (${e.classAccuracySkipped})`);
  lines.push(`note: ${e.note}`);
  return lines.filter((l) => l !== undefined).join('\n');
}
