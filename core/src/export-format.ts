/**
 * What an exported generator is, byte for byte: a tfjs layers-format `model.json`, its weight shards
 * (`group1-shardKofN.bin`, optionally float16-quantised), and `manifest.json` with the sha256 of every
 * file. The trainer's `gan export` writes it; the worker reads it. Pure functions, no file system.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.ts';
import { type FileEntry, type Manifest, ManifestSchema, sha256Hex } from './manifest.ts';

export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface EncodeOptions {
  /** Largest shard in bytes (tfjs's converter uses 4 MiB). */
  shardBytes?: number;
  /** Store weights as IEEE half floats (half the bytes); they are widened back to float32 on load. */
  float16?: boolean;
}

export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;
/** Smallest shard size accepted. */
export const MIN_SHARD_BYTES = 1024;

/** Nearest IEEE 754 half float (round half to even), as its 16 bits. */
export function float32ToFloat16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  return sign | half;
}

/** Encodes weights into shards and the `weightsManifest` that describes them. */
export function encodeWeightShards(weights: NamedWeight[], options: EncodeOptions = {}) {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(shardBytes >= MIN_SHARD_BYTES)) throw new RangeError(`shardBytes must be at least ${MIN_SHARD_BYTES}`);
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const w of weights) {
    if (options.float16) {
      const half = new Uint16Array(w.data.length);
      for (let i = 0; i < w.data.length; i++) half[i] = float32ToFloat16Bits(w.data[i]);
      parts.push(new Uint8Array(half.buffer));
      specs.push({ name: w.name, shape: w.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
    } else {
      parts.push(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength).slice());
      specs.push({ name: w.name, shape: w.shape, dtype: 'float32' });
    }
  }
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.byteLength;
  }
  const count = Math.max(1, Math.ceil(total / shardBytes));
  const shards = Array.from({ length: count }, (_, i) => ({
    path: `group1-shard${i + 1}of${count}.bin`,
    bytes: all.slice(i * shardBytes, Math.min(total, (i + 1) * shardBytes)),
  }));
  return { weightsManifest: [{ paths: shards.map((s) => s.path), weights: specs }], shards };
}

export interface ModelFilesInput {
  weights: NamedWeight[];
  /** The layers model's topology (`model.toJSON(null, false)`), so tf.loadLayersModel can load it too. */
  modelTopology?: unknown;
  options?: EncodeOptions;
}

/** `model.json` and its shards, as file name → bytes. */
export function encodeModelFiles({ weights, modelTopology, options }: ModelFilesInput): Map<string, Uint8Array> {
  const { weightsManifest, shards } = encodeWeightShards(weights, options);
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'gan-edge',
    convertedBy: null,
    modelTopology: modelTopology ?? null,
    weightsManifest,
  };
  const files = new Map<string, Uint8Array>();
  files.set('model.json', new TextEncoder().encode(JSON.stringify(modelJson)));
  for (const s of shards) files.set(s.path, s.bytes);
  return files;
}

/** The file list of a manifest: size and sha256 of each file, sorted by name. */
export async function describeFiles(files: Map<string, Uint8Array>): Promise<FileEntry[]> {
  const entries = await Promise.all(
    [...files].map(async ([path, bytes]) => ({ path, bytes: bytes.byteLength, sha256: await sha256Hex(bytes as Uint8Array<ArrayBuffer>) })),
  );
  return entries.sort((a, b) => a.path.localeCompare(b.path));
}

export type ManifestInput = Omit<
  Manifest,
  'formatVersion' | 'imageSize' | 'channels' | 'latentSize' | 'files' | 'architecture' | 'metrics'
> & {
  architecture: ModelConfig;
  metrics?: Record<string, unknown>;
};

/** Builds and validates a manifest for `files` (which must not include manifest.json itself). */
export async function buildManifest(input: ManifestInput, files: Map<string, Uint8Array>): Promise<Manifest> {
  return ManifestSchema.parse({
    formatVersion: 1,
    ...input,
    imageSize: input.architecture.imageSize,
    channels: input.architecture.channels,
    latentSize: input.architecture.latentSize,
    metrics: input.metrics ?? {},
    files: await describeFiles(files),
  });
}

/** A new version name: UTC time and the first 8 hex digits of the weights' sha256. Sorts by time. */
export function versionName(date: Date, weightsSha256: string): string {
  const stamp = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z'); // 20261127T121500Z
  return `${stamp.toLowerCase()}-${weightsSha256.slice(0, 8)}`;
}
