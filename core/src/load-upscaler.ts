/**
 * A model version's upscaler from its files, as the generator is loaded (load-generator.ts): the
 * weights file the manifest's `upscaler` entry names and the shards it lists, each verified against
 * the manifest's sizes and sha256 before anything is decoded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Manifest, type ModelFileSource, readVerifiedFile } from './manifest.ts';
import { Upscaler } from './upscaler.ts';
import { decodeWeights, parseModelJson, shardPaths } from './weights.ts';

/** The version's upscaler, or undefined when its manifest names none. */
export async function loadUpscaler(model: string, manifest: Manifest, source: ModelFileSource): Promise<Upscaler | undefined> {
  const entry = manifest.upscaler;
  if (!entry) return undefined;
  const weightsJson = parseModelJson(new TextDecoder().decode(await readVerifiedFile(model, manifest, entry.weights, source)));
  const shards = new Map(
    await Promise.all(shardPaths(weightsJson).map(async (path) => [path, await readVerifiedFile(model, manifest, path, source)] as const)),
  );
  const weights = await decodeWeights(weightsJson, async (path) => {
    const bytes = shards.get(path)!;
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  });
  try {
    return Upscaler.fromWeights(entry.architecture, weights);
  } finally {
    tf.dispose(Object.values(weights));
  }
}
