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
  for (const group of modelJson.weightsManifest)
    Object.assign(result, tf.io.decodeWeights(await groupBytes(group, readShard), group.weights));
  return result;
}

/** A weight as plain values: what a shard decodes to before any tensor exists. */
export interface WeightArray {
  shape: number[];
  data: Float32Array;
}
export type WeightArrays = Record<string, WeightArray>;

/**
 * The same weights as decodeWeights, as plain Float32Arrays: the serving generator folds them in
 * JavaScript (inference.ts), so tensors made here would only be copied into the backend's memory and
 * read straight back. float32 and float16-quantised weights (what `gan export` writes) only; the
 * values are bit for bit tf.io.decodeWeights' (tests/core/weights.test.ts).
 */
export async function decodeWeightArrays(modelJson: ModelJson, readShard: (path: string) => Promise<ArrayBuffer>): Promise<WeightArrays> {
  const result: WeightArrays = {};
  for (const group of modelJson.weightsManifest) {
    const joined = await groupBytes(group, readShard);
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const stored = w.quantization?.dtype ?? w.dtype;
      let data: Float32Array;
      if (w.dtype === 'float32' && stored === 'float32') {
        data = new Float32Array(joined.slice(offset, offset + count * 4));
      } else if (w.dtype === 'float32' && stored === 'float16') {
        data = halvesToFloats(new Uint16Array(joined, offset, count));
      } else {
        throw new WeightsFormatError(`weight ${w.name} is stored as ${stored} for ${w.dtype}: only float32 and float16 are read`);
      }
      result[w.name] = { shape: [...w.shape], data };
      offset += weightByteLength(w);
    }
  }
  return result;
}

/** IEEE half → float bits for all 65 536 halves, built on first use (256 KB). */
let halfTable: Float32Array | undefined;

function halvesToFloats(halves: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      halfTable[h] =
        exponent === 0
          ? sign * mantissa * 2 ** -24 // zero and subnormals
          : exponent === 31
            ? mantissa === 0
              ? sign * Number.POSITIVE_INFINITY
              : Number.NaN
            : sign * (1024 + mantissa) * 2 ** (exponent - 25);
    }
  }
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = halfTable[halves[i]];
  return out;
}

/** A weight group's shards joined, checked to hold exactly the bytes its weights need. */
async function groupBytes(
  group: ModelJson['weightsManifest'][number],
  readShard: (path: string) => Promise<ArrayBuffer>,
): Promise<ArrayBuffer> {
  const joined = concatBuffers(await Promise.all(group.paths.map(readShard)));
  const expected = group.weights.reduce((sum, w) => sum + weightByteLength(w), 0);
  if (joined.byteLength !== expected) {
    throw new WeightsFormatError(`weight shards hold ${joined.byteLength} bytes, model.json expects ${expected}`);
  }
  return joined;
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
