/**
 * A trained feature extractor on disk, `models/classifiers/<dataset>-<imageSize>/`:
 *
 *   model.json       tfjs layers format (topology + weightsManifest)
 *   weights.bin      float32 weights, one shard
 *   classifier.json  what it was trained on, its held-out accuracy, and its version
 *
 * The version is the first 12 hex digits of the sha256 of weights.bin: an evaluation names the exact
 * extractor it used, and two evaluations compare only when their versions agree.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { sha256Hex } from '@gan/core/manifest';
import { FEATURE_LAYER } from './classifier.ts';
import { writeFileAtomically } from '../atomic-write.ts';

export const ClassifierInfoSchema = z.object({
  formatVersion: z.literal(1),
  /** `<dataset>-<imageSize>`, e.g. mnist-32: also the directory name. */
  id: z.string(),
  /** sha256 prefix of weights.bin. */
  version: z.string().regex(/^[0-9a-f]{12}$/),
  dataset: z.string(),
  imageSize: z.number().int(),
  channels: z.number().int(),
  classNames: z.array(z.string()),
  /** Colour transparent pixels were composited on (the data loader's option; matters for twemoji). */
  background: z.string().default('white'),
  featureSize: z.number().int(),
  /**
   * What the classifier was trained to tell apart: the data set's `classes`, or `instances` (every
   * training image its own class, under random shifts; see run.ts for when and why).
   */
  labels: z.enum(['classes', 'instances']).default('classes'),
  /**
   * Accuracy on the held-out split, which training never saw: top-1 class accuracy for a `classes`
   * extractor; for an `instances` extractor, the 1-nearest-neighbour class accuracy below.
   */
  heldOutAccuracy: z.number(),
  /** Share of held-out images whose nearest training image in feature space has their class. */
  heldOutNearestNeighbourAccuracy: z.number().optional(),
  trainCount: z.number().int(),
  heldOutCount: z.number().int(),
  /** A style judge's second input: the colour and gradient statistics it reads (style-statistics.ts). */
  statistics: z.string().optional(),
  /** How the held-out split was chosen, when not the data loader's (style-data.ts). */
  split: z.string().optional(),
  /** Held-out accuracy per class, and the confusion matrix (rows: true class, columns: predicted). */
  heldOutAccuracyByClass: z.record(z.string(), z.number()).optional(),
  confusion: z.array(z.array(z.number().int())).optional(),
  /** The same on the held-out images of the generator's own groups only (what it will judge). */
  modelGroups: z
    .object({
      groups: z.array(z.string()),
      heldOutCount: z.number().int(),
      heldOutAccuracy: z.number(),
      heldOutAccuracyByClass: z.record(z.string(), z.number()),
      confusion: z.array(z.array(z.number().int())),
    })
    .optional(),
  /**
   * A judge's figures on the held-out renders of the model's groups with pixel noise of a few 8-bit
   * levels (judge-robustness.ts): how far differences nobody sees move them.
   */
  noiseRobustness: z
    .array(z.object({ levels: z.number(), fdRatio: z.number(), agreement: z.number(), precision: z.number(), recall: z.number() }))
    .optional(),
  training: z.object({
    epochs: z.number().int(),
    batchSize: z.number().int(),
    learningRate: z.number(),
    maxShift: z.number().int(),
    /** Largest σ of the pixel-noise augmentation, in 8-bit levels (absent: none; pixel-noise.ts). */
    pixelNoise: z.number().optional(),
    /** Share of training images snapped to a random palette of 8–32 colours (absent: none; palette-snap.ts). */
    paletteSnap: z.number().optional(),
    seed: z.string(),
    backend: z.string(),
    seconds: z.number(),
  }),
  createdAt: z.string(),
});
export type ClassifierInfo = z.infer<typeof ClassifierInfoSchema>;

/** How a classifier was trained, as its info records it: the run's settings and the seconds it took. */
export function trainingRecord(settings: Omit<ClassifierInfo['training'], 'seconds'>, seconds: number): ClassifierInfo['training'] {
  const { epochs, batchSize, learningRate, maxShift, pixelNoise, paletteSnap, seed, backend } = settings;
  return {
    epochs,
    batchSize,
    learningRate,
    maxShift,
    ...(pixelNoise ? { pixelNoise } : {}),
    ...(paletteSnap ? { paletteSnap } : {}),
    seed,
    backend,
    seconds,
  };
}

export class ClassifierNotFoundError extends Error {
  override name = 'ClassifierNotFoundError';
}

export const WEIGHTS_FILE = 'weights.bin';

/** `<dataset>-<imageSize>`; a folder data set is named by its folder, as the data cache names it. */
export function classifierId(dataset: string, imageSize: number): string {
  const name = dataset.startsWith('folder:') ? `folder-${path.basename(path.resolve(dataset.slice('folder:'.length)))}` : dataset;
  return `${name.replace(/[^A-Za-z0-9_-]/g, '_')}-${imageSize}`;
}

/** Where the shipped extractors live: models/classifiers at the repository root. */
export function defaultClassifiersDir(): string {
  return path.resolve(new URL('../../../models/classifiers', import.meta.url).pathname);
}

function concat(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const out = new Uint8Array(data.reduce((s, b) => s + b.byteLength, 0));
  let offset = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out;
}

/** Writes model.json, weights.bin and classifier.json (each atomically); returns the version. */
export async function saveClassifier(
  dir: string,
  model: tfl.LayersModel,
  info: Omit<z.input<typeof ClassifierInfoSchema>, 'formatVersion' | 'version' | 'featureSize'>,
): Promise<ClassifierInfo> {
  await mkdir(dir, { recursive: true });
  let weights: Uint8Array | undefined;
  let modelJson: unknown;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      weights = concat(artifacts.weightData ?? new ArrayBuffer(0));
      modelJson = {
        format: 'layers-model',
        generatedBy: 'gan-edge',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  const version = (await sha256Hex(weights! as Uint8Array<ArrayBuffer>)).slice(0, 12);
  const featureSize = (model.getLayer(FEATURE_LAYER).outputShape as number[])[1];
  const full = ClassifierInfoSchema.parse({ formatVersion: 1, version, featureSize, ...info });
  await writeFileAtomically(path.join(dir, WEIGHTS_FILE), weights!);
  await writeFileAtomically(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeFileAtomically(path.join(dir, 'classifier.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

/** Rewrites a saved classifier's classifier.json with figures measured after it was saved (its weights unchanged). */
export async function updateClassifierInfo(dir: string, info: ClassifierInfo): Promise<ClassifierInfo> {
  const full = ClassifierInfoSchema.parse(info);
  await writeFileAtomically(path.join(dir, 'classifier.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

export interface LoadedClassifier {
  model: tfl.LayersModel;
  info: ClassifierInfo;
}

/** Loads a saved extractor, checking that its weights are the version classifier.json names. */
export async function loadClassifier(dir: string): Promise<LoadedClassifier> {
  let info: ClassifierInfo;
  let modelJson: { modelTopology: object; weightsManifest: tf.io.WeightsManifestConfig };
  let weights: Uint8Array;
  try {
    info = ClassifierInfoSchema.parse(JSON.parse(await readFile(path.join(dir, 'classifier.json'), 'utf8')));
    modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    weights = new Uint8Array(await readFile(path.join(dir, WEIGHTS_FILE)));
  } catch (err) {
    throw new ClassifierNotFoundError(`no usable feature extractor in ${dir} (${err instanceof Error ? err.message.split('\n')[0] : err})`);
  }
  const version = (await sha256Hex(weights as Uint8Array<ArrayBuffer>)).slice(0, 12);
  if (version !== info.version)
    throw new ClassifierNotFoundError(`${dir}/${WEIGHTS_FILE} is version ${version}, classifier.json says ${info.version}`);
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    }),
  );
  return { model, info };
}
