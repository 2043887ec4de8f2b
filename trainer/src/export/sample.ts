/** Seeds → PNG with an exported generator, by the worker's rules (latent from seed, class from seed). */
import * as tf from '@tensorflow/tfjs-core';
import { type FastGenerator, type Manifest, type ResizeFilter, encodePng, generatorInput, latentFromSeed, toPixels } from '@gan/core';
import { classForSeed } from '@gan/core';

export class ClassNameError extends Error {
  override name = 'ClassNameError';
}

/** A class given as an index or a name → its index (undefined: none given). */
export function resolveClass(manifest: Manifest, given: string | undefined): number | undefined {
  if (given === undefined) return undefined;
  const classes = manifest.classes;
  if (classes.length === 0) throw new ClassNameError(`model ${manifest.name} is unconditional: it takes no class`);
  if (/^\d+$/.test(given) && Number(given) < classes.length) return Number(given);
  const index = classes.indexOf(given);
  if (index < 0) throw new ClassNameError(`class must be an index from 0 to ${classes.length - 1} or one of: ${classes.slice(0, 20).join(', ')}`);
  return index;
}

export interface SampleRequest {
  seed: string;
  classIndex?: number;
  size?: number;
  filter?: ResizeFilter;
  truncation?: number;
}

/** PNG bytes of one image: identical to the worker's `image.png?seed=…` for the same model. */
export function samplePng(manifest: Manifest, generator: FastGenerator, request: SampleRequest): Uint8Array {
  const config = manifest.architecture;
  const classIndex = config.numClasses > 0 ? (request.classIndex ?? classForSeed(request.seed, config.numClasses)) : undefined;
  const input = generatorInput(config, [latentFromSeed(request.seed, config.latentSize, request.truncation ?? 1)], [classIndex ?? 0]);
  const images = generator.forward(input);
  input.dispose();
  try {
    const pixels = toPixels(images, request.size ?? config.imageSize, request.filter ?? 'bilinear');
    return encodePng(pixels.size, pixels.size, pixels.channels, pixels.data);
  } finally {
    tf.dispose(images);
  }
}
