/**
 * The serving generator of a published or exported model, built the same way by the worker (from R2),
 * `gan sample`, the export's sample and the evaluation (from a directory): every file verified against
 * the manifest first (manifest.ts), then decoded (weights.ts) into core's FastGenerator.
 */
import { FastGenerator } from './inference.ts';
import { loadUpscaler } from './load-upscaler.ts';
import { type Manifest, type ModelFileSource, readVerifiedFile } from './manifest.ts';
import { attachVersionSampler } from './sampler.ts';
import { attachUpscaler } from './upscaler.ts';
import { decodeWeightArrays, parseModelJson, shardPaths } from './weights.ts';

/**
 * The serving generator of a model (batch norm folded, sub-pixel convolutions). Only what it needs
 * is read: model.json and the shards it names (the card and pictures beside them are for people),
 * each verified first. Weight-format problems surface as core's WeightsFormatError. A version whose
 * manifest has `sampling` also has its scorer read, verified and attached (cell-sampler.ts), so its
 * cells render as that version defines them wherever it is loaded.
 */
export async function loadGenerator(model: string, manifest: Manifest, source: ModelFileSource): Promise<FastGenerator> {
  const modelJson = parseModelJson(new TextDecoder().decode(await readVerifiedFile(model, manifest, 'model.json', source)));
  const shards = new Map(
    await Promise.all(shardPaths(modelJson).map(async (path) => [path, await readVerifiedFile(model, manifest, path, source)] as const)),
  );
  const weights = await decodeWeightArrays(modelJson, async (path) => ownArrayBuffer(shards.get(path)!));
  const generator = FastGenerator.fromWeights(manifest.architecture, weights);
  try {
    await attachVersionSampler(model, manifest, source, generator);
    const upscaler = await loadUpscaler(model, manifest, source);
    if (upscaler) attachUpscaler(generator, upscaler, manifest.upscaler?.default ?? false);
  } catch (error) {
    generator.dispose();
    throw error;
  }
  return generator;
}

/** The bytes as an ArrayBuffer of their own (no copy when the view already spans its whole buffer). */
function ownArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}
