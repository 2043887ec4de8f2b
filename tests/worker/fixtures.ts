/**
 * Tiny generators for tests, published to an R2 bucket exactly as the registry lays them out
 * (model.json + shards + manifest.json under models/<name>/<version>/, then current.json).
 * Weights are random but deterministic (Sfc32 from a seed), so every run builds the same bytes.
 * Runs in workerd (worker tests) and in Node (the page test): only core and web APIs.
 */
import {
  type Manifest,
  type ModelConfig,
  type NamedWeight,
  Sfc32,
  buildManifest,
  encodeModelFiles,
  generatorChannels,
  generatorInputSize,
  generatorLayerNames,
} from '@gan/core';
import { registryKeys } from '@gan/registry/layout';

/** The part of an R2 bucket fixtures need (Miniflare's binding, or getPlatformProxy's in Node). */
export interface WritableBucket {
  put(key: string, value: ArrayBuffer | Uint8Array | string): Promise<unknown>;
  delete(key: string): Promise<void>;
}

export const DIGITS_CONFIG: ModelConfig = {
  imageSize: 16,
  channels: 1,
  latentSize: 8,
  generatorWidth: 4,
  discriminatorWidth: 4,
  numClasses: 3,
};
export const DIGITS_CLASSES = ['zero', 'one', 'two'];

export const BLOBS_CONFIG: ModelConfig = {
  imageSize: 16,
  channels: 3,
  latentSize: 8,
  generatorWidth: 4,
  discriminatorWidth: 4,
  numClasses: 0,
};

/** Random generator weights with the shapes the layers model has, named as it names them. */
export function randomGeneratorWeights(config: ModelConfig, seed: string): NamedWeight[] {
  const rng = Sfc32.fromSeed(seed);
  const normal = (n: number, scale: number, mean = 0) => rng.fillNormal(new Float32Array(n), scale).map((v) => v + mean);
  const uniform = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
  const names = generatorLayerNames(config);
  const channels = generatorChannels(config);
  const weights: NamedWeight[] = [];
  const conv = (name: string, cout: number, cin: number) =>
    weights.push({ name: `${name}/kernel`, shape: [4, 4, cout, cin], data: normal(16 * cout * cin, 0.4) });
  const bn = (layer: string, c: number) => {
    const name = names.bn(layer);
    weights.push(
      { name: `${name}/gamma`, shape: [c], data: normal(c, 0.1, 1) },
      { name: `${name}/beta`, shape: [c], data: normal(c, 0.1) },
      { name: `${name}/moving_mean`, shape: [c], data: normal(c, 0.1) },
      { name: `${name}/moving_variance`, shape: [c], data: uniform(c, 0.5, 1.5) },
    );
  };
  // A class-conditional G's per-class gamma and beta ([K, C]) after each batch norm.
  const classAffine = (layer: string, c: number) => {
    if (config.generatorConditioning !== 'batch-norm') return;
    const name = names.classAffine(layer);
    const k = config.numClasses;
    weights.push(
      { name: `${name}/gamma`, shape: [k, c], data: normal(k * c, 0.3, 1) },
      { name: `${name}/beta`, shape: [k, c], data: normal(k * c, 0.3) },
    );
  };
  conv(names.project, channels[0], generatorInputSize(config));
  bn(names.project, channels[0]);
  classAffine(names.project, channels[0]);
  [...names.hidden, names.output].forEach((layer, i) => {
    conv(layer, channels[i + 1], channels[i]);
    if (layer !== names.output) {
      bn(layer, channels[i + 1]);
      classAffine(layer, channels[i + 1]);
    }
  });
  return weights;
}

export interface FixtureOptions {
  name: string;
  version: string;
  config: ModelConfig;
  classes?: string[];
  /** Seed of the random weights (different seeds: different images). Default `<name>@<version>`. */
  weightsSeed?: string;
  /** Shard size; small values split the weights into several shards. */
  shardBytes?: number;
  float16?: boolean;
  createdAt?: string;
  metrics?: Record<string, unknown>;
  /** Files listed in the manifest besides model.json and the shards (an export's card and sample). */
  extraFiles?: Record<string, Uint8Array>;
}

export interface PublishOptions extends FixtureOptions {
  /** Also point current.json at this version (default true). */
  makeCurrent?: boolean;
}

export interface Published {
  manifest: Manifest;
  files: Map<string, Uint8Array>;
  shardPaths: string[];
}

/**
 * A tiny model's files and manifest in the export format: the one fixture model of the tests, written
 * to a bucket by `publishFixture` and to an export directory by tests/helpers/fixtures.ts.
 */
export async function buildFixture(options: FixtureOptions): Promise<Published> {
  const { name, version, config } = options;
  const files = encodeModelFiles({
    weights: randomGeneratorWeights(config, options.weightsSeed ?? `${name}@${version}`),
    options: { shardBytes: options.shardBytes ?? 1024, float16: options.float16 },
  });
  const shards = [...files.keys()].filter((p) => p !== 'model.json');
  for (const [path, bytes] of Object.entries(options.extraFiles ?? {})) files.set(path, bytes);
  const manifest = await buildManifest(
    {
      name,
      version,
      createdAt: options.createdAt ?? '2026-11-27T12:00:00.000Z',
      classes: options.classes ?? [],
      architecture: config,
      weightsFormat: options.float16 ? 'float16' : 'float32',
      dataset: { name: 'random weights (test fixture)', licence: 'CC0-1.0' },
      training: { steps: 0, batchSize: 1, backend: 'none', seconds: 0 },
      metrics: options.metrics,
    },
    files,
  );
  return { manifest, files, shardPaths: shards };
}

/** Builds a tiny model's files and writes them (manifest after the files, current.json last). */
export async function publishFixture(bucket: WritableBucket, options: PublishOptions): Promise<Published> {
  const { name, version } = options;
  const published = await buildFixture({ metrics: { fixture: true }, ...options });
  for (const [path, bytes] of published.files) await bucket.put(registryKeys.file(name, version, path), bytes);
  await bucket.put(registryKeys.manifest(name, version), JSON.stringify(published.manifest));
  if (options.makeCurrent ?? true) await setCurrent(bucket, name, version);
  return published;
}

export async function setCurrent(bucket: WritableBucket, name: string, version: string): Promise<void> {
  await bucket.put(registryKeys.current(name), JSON.stringify({ version, publishedAt: '2026-11-27T12:00:00.000Z' }));
}

/** The two models most tests use: a conditional greyscale one and an unconditional RGB one. */
export async function publishStandardFixtures(bucket: WritableBucket) {
  const digits = await publishFixture(bucket, { name: 'digits', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
  const blobs = await publishFixture(bucket, { name: 'blobs', version: 'v1', config: BLOBS_CONFIG });
  return { digits, blobs };
}
