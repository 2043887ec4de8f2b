/**
 * An ImageNet-lineage feature extractor for colour images, for `gan evaluate --extractor mobilenet`.
 *
 * The project's own small classifiers (classifier.ts) are good for digits but too coarse for colour
 * emoji: a model that serves colour blobs scores at their real-vs-real floor. Published GAN metrics use
 * Inception features; nothing can be downloaded at run time here, so the weights come from an npm
 * package that ships them: `nsfwjs` (MIT) carries tfjs weights of MobileNetV2 (224 px) and InceptionV3
 * (299 px), both ImageNet networks that its authors fine-tuned on a 5-class image-content task. We use
 * MobileNetV2 and take its global-average-pooled 1280 features (the layer below the fine-tuned head,
 * the most ImageNet-like part of the network):
 *
 *   images [N, S, S, C] in [-1, 1] → [0, 1] (the package's own input scaling), grey tiled to RGB
 *   → bilinear upscale to 224×224 → MobileNetV2 backbone → out_relu [N, 7, 7, 1280]
 *   → AveragePooling 7×7 → Flatten = features [N, 1280]
 *
 * Why MobileNetV2 and not InceptionV3: ~0.3 GFLOP per image against ~5.7 at 299 px. On a 2-core CPU
 * an evaluation reads ~6 000 images (2 000 samples, 2 000 for the floor, the held-out split), which
 * takes minutes with MobileNetV2 and would take over an hour with InceptionV3.
 *
 * These features are not Inception's and the inputs are upscaled 32/64 px images, so the distances are
 * not comparable to published FIDs; they compare only with evaluations made with this extractor version.
 *
 * The package is ~25 MB packed (41 MB unpacked, most of it InceptionV3), more than the default install
 * should carry for one command, so like the twemoji data it is installed into the cache on first use
 * (or found where GAN_NSFWJS_DIR or node resolution says). Loading reads the files from disk into
 * tfjs's in-memory IO handler: no fetch, no network.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export const NSFWJS_PACKAGE = 'nsfwjs';
export const NSFWJS_VERSION = '4.4.0';
/** Where the MobileNetV2 files sit in the package: a UMD module exporting model.json's content, and one exporting each weight shard as base64. */
const MODEL_DIR = 'dist/models/mobilenet_v2';
/** The global-pooled backbone features (flatten of average_pooling2d_1 over out_relu). */
const FEATURE_LAYER_NAME = 'flatten_1';
export const MOBILENET_INPUT_SIZE = 224;
export const MOBILENET_ID = 'nsfwjs-mobilenet_v2-pool-224';

export class ExtractorUnavailableError extends Error {
  override name = 'ExtractorUnavailableError';
}

export interface LocateOptions {
  /** Cache directory: the package is installed under <cacheDir>/packages when it is nowhere else. */
  cacheDir: string;
  /** A directory holding the package (tests, offline machines); skips resolution and install. */
  packageDir?: string;
  log?: (line: string) => void;
}

const hasModel = (dir: string) => existsSync(path.join(dir, MODEL_DIR, 'model.min.js'));

/** Finds nsfwjs: explicit dir, GAN_NSFWJS_DIR, node resolution, the cache; else installs it into the cache. */
export async function locateNsfwjs(options: LocateOptions): Promise<string> {
  const explicit = options.packageDir ?? process.env.GAN_NSFWJS_DIR;
  if (explicit) {
    if (!hasModel(explicit)) throw new ExtractorUnavailableError(`${explicit} has no ${MODEL_DIR}/model.min.js`);
    return explicit;
  }
  try {
    const dir = path.dirname(createRequire(import.meta.url).resolve(`${NSFWJS_PACKAGE}/package.json`));
    if (hasModel(dir)) return dir;
  } catch {
    // not installed alongside the trainer
  }
  const prefix = path.join(options.cacheDir, 'packages');
  const dir = path.join(prefix, 'node_modules', NSFWJS_PACKAGE);
  if (hasModel(dir)) return dir;
  await mkdir(prefix, { recursive: true });
  options.log?.(
    `installing ${NSFWJS_PACKAGE}@${NSFWJS_VERSION} (about 25 MB; its MobileNetV2 weights are the feature extractor) into ${prefix}`,
  );
  try {
    // --legacy-peer-deps: the package's peer @tensorflow/tfjs is not needed, only its weight files are read.
    await promisify(execFile)(
      'npm',
      [
        'install',
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--legacy-peer-deps',
        '--prefix',
        prefix,
        `${NSFWJS_PACKAGE}@${NSFWJS_VERSION}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    throw new ExtractorUnavailableError(`could not install ${NSFWJS_PACKAGE}: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
  }
  if (!hasModel(dir)) throw new ExtractorUnavailableError(`${NSFWJS_PACKAGE} installed without ${MODEL_DIR}`);
  return dir;
}

/** MobileNetV2 as the package ships it: the Keras model.json content and the weight bytes of every shard. */
export interface PackagedMobileNet {
  modelJson: { modelTopology: object; weightsManifest: tf.io.WeightsManifestConfig };
  /** Every shard's bytes, in manifest order. */
  weights: Buffer;
  /** The package's version (package.json). */
  packageVersion: string;
}

/**
 * Reads MobileNetV2's files from the package in `dir`: UMD modules (dist/models/package.json says
 * commonjs) exporting model.json's content and each weight shard as base64, read by require from disk.
 */
export async function readPackagedMobileNet(dir: string): Promise<PackagedMobileNet> {
  const packageVersion = (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  // createRequire needs an absolute path; a relative cache directory (`--cache-dir .cache`) is resolved here.
  const require = createRequire(path.resolve(dir, 'package.json'));
  try {
    const modelJson = require(`./${MODEL_DIR}/model.min.js`) as PackagedMobileNet['modelJson'];
    const shards = modelJson.weightsManifest.flatMap((group) =>
      group.paths.map((shard) => Buffer.from(require(`./${MODEL_DIR}/${shard}.min.js`) as string, 'base64')),
    );
    return { modelJson, weights: Buffer.concat(shards), packageVersion };
  } catch (err) {
    throw new ExtractorUnavailableError(`cannot read MobileNetV2 from ${dir}: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
  }
}

/** The bytes of a Buffer as an ArrayBuffer of their own, as tfjs's weight decoders take them. */
export const ownArrayBuffer = (bytes: Buffer) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

/** A feature extractor that reads images of any size and channel count, in [-1, 1]. */
export interface ImageNetExtractor {
  id: string;
  /** sha256 prefix of the weight bytes: two evaluations compare only when their versions agree. */
  version: string;
  /** Where the weights came from, e.g. nsfwjs@4.4.0 MobileNetV2. */
  source: string;
  inputSize: number;
  featureSize: number;
  /** Features of `count` images [count, size, size, channels] in [-1, 1], in batches. */
  extract(images: Float32Array, count: number, imageSize: number, channels: number, batchSize?: number): Float32Array;
  dispose(): void;
}

/** Loads MobileNetV2 from the package's files (see the file comment) and cuts it at the pooled features. */
export async function loadMobileNetExtractor(options: LocateOptions): Promise<ImageNetExtractor> {
  const { modelJson, weights, packageVersion: version } = await readPackagedMobileNet(await locateNsfwjs(options));
  const weightVersion = createHash('sha256').update(weights).digest('hex').slice(0, 12);
  const full = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
      weightData: ownArrayBuffer(weights),
    }),
  );
  const model = tfl.model({ inputs: full.inputs, outputs: full.getLayer(FEATURE_LAYER_NAME).output as tfl.SymbolicTensor });
  const featureSize = (model.outputs[0].shape as number[])[1];
  const inputSize = MOBILENET_INPUT_SIZE;
  return {
    id: MOBILENET_ID,
    version: weightVersion,
    source: `${NSFWJS_PACKAGE}@${version} MobileNetV2`,
    inputSize,
    featureSize,
    // Batches of 8 measured fastest on the WASM backend (2 cores): larger batches of 224 px activations fall out of cache.
    extract(images, count, imageSize, channels, batchSize = 8) {
      const size = imageSize * imageSize * channels;
      if (images.length < count * size)
        throw new RangeError(`expected ${count}×${imageSize}×${imageSize}×${channels} values, got ${images.length}`);
      const out = new Float32Array(count * featureSize);
      for (let start = 0; start < count; start += batchSize) {
        const n = Math.min(batchSize, count - start);
        const features = tf.tidy(() => {
          let x: tf.Tensor4D = tf.tensor4d(images.subarray(start * size, (start + n) * size), [n, imageSize, imageSize, channels]);
          if (channels === 1) x = tf.tile(x, [1, 1, 1, 3]);
          // [-1, 1] → [0, 1]; bilinear with aligned corners, as the package scales its own inputs.
          x = tf.image.resizeBilinear(tf.div(tf.add(x, 1), 2) as tf.Tensor4D, [inputSize, inputSize], true);
          return model.predict(x) as tf.Tensor;
        });
        out.set(features.dataSync() as Float32Array, start * featureSize);
        features.dispose();
      }
      return out;
    },
    dispose() {
      full.dispose();
    },
  };
}
