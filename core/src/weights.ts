import * as tf from '@tensorflow/tfjs-core';

/** The part of a tfjs `model.json` that says where the weights are. */
export interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export class WeightsFormatError extends Error {
  override name = 'WeightsFormatError';
}

/** Parses and sanity-checks a `model.json` text. */
export function parseModelJson(text: string): ModelJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WeightsFormatError('model.json is not valid JSON');
  }
  const manifest = (json as ModelJson | null)?.weightsManifest;
  if (!Array.isArray(manifest) || manifest.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))) {
    throw new WeightsFormatError('model.json has no valid weightsManifest');
  }
  return json as ModelJson;
}

/** Every shard path model.json refers to, in order. */
export function shardPaths(modelJson: ModelJson): string[] {
  return modelJson.weightsManifest.flatMap((group) => group.paths);
}

/**
 * Decodes the weights of a tfjs layers-format model from its shards (float32, or float16-quantised)
 * into tensors keyed by weight name, e.g. `up1/kernel`. `readShard` returns a shard's bytes by path.
 */
export async function decodeWeights(modelJson: ModelJson, readShard: (path: string) => Promise<ArrayBuffer>): Promise<tf.NamedTensorMap> {
  const result: tf.NamedTensorMap = {};
  for (const group of modelJson.weightsManifest) {
    const buffers = await Promise.all(group.paths.map(readShard));
    const joined = concatBuffers(buffers);
    const expected = group.weights.reduce((sum, w) => sum + weightByteLength(w), 0);
    if (joined.byteLength !== expected) {
      throw new WeightsFormatError(`weight shards hold ${joined.byteLength} bytes, model.json expects ${expected}`);
    }
    Object.assign(result, tf.io.decodeWeights(joined, group.weights));
  }
  return result;
}

function weightByteLength(w: tf.io.WeightsManifestEntry): number {
  const count = w.shape.reduce((a, b) => a * b, 1);
  const dtype: string = w.quantization?.dtype ?? w.dtype;
  const bytes = dtype === 'float16' || dtype === 'uint16' ? 2 : dtype === 'uint8' ? 1 : 4;
  return count * bytes;
}

function concatBuffers(buffers: ArrayBuffer[]): ArrayBuffer {
  if (buffers.length === 1) return buffers[0];
  const total = buffers.reduce((sum, b) => sum + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}
