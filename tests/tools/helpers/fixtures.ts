/** Tiny exported models for registry tests: the real export format, made without training. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildManifest, encodeModelFiles, type ModelConfig, type NamedWeight } from '@gan/core';

export const TINY_CONFIG: ModelConfig = { imageSize: 8, channels: 1, latentSize: 4, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 };

export interface TinyExportOptions {
  name?: string;
  version: string;
  /** Changes the weights' bytes (two exports with different seeds differ). */
  seed?: number;
  createdAt?: string;
  metrics?: Record<string, unknown>;
  /** Forces several shards. */
  shardBytes?: number;
}

/** Writes an export directory (model.json, shards, README.md, sample.png, manifest.json) and returns its path. */
export async function writeTinyExport(root: string, options: TinyExportOptions): Promise<string> {
  const name = options.name ?? 'tiny';
  const seed = options.seed ?? 1;
  const weights: NamedWeight[] = [0, 1, 2].map((i) => ({
    name: `layer${i}/kernel`,
    shape: [16, 32],
    data: Float32Array.from({ length: 512 }, (_, j) => Math.sin(seed * 1000 + i * 512 + j)),
  }));
  const files = encodeModelFiles({ weights, options: { shardBytes: options.shardBytes ?? 2048 } });
  files.set('README.md', new TextEncoder().encode(`# ${name} ${options.version}\n`));
  files.set('sample.png', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, seed & 0xff]));
  const manifest = await buildManifest(
    {
      name,
      version: options.version,
      createdAt: options.createdAt ?? new Date().toISOString(),
      classes: [],
      architecture: TINY_CONFIG,
      weightsFormat: 'float32',
      dataset: { name: 'synthetic', licence: 'CC0' },
      training: { steps: 1, batchSize: 1, backend: 'cpu', seconds: 0 },
      metrics: options.metrics,
    },
    files,
  );
  const dir = path.join(root, `${name}-${options.version}`);
  await mkdir(dir, { recursive: true });
  for (const [file, bytes] of files) await writeFile(path.join(dir, file), bytes);
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

/** A wrangler.toml binding MODELS_BUCKET like the project's, for a local R2 in a temporary directory. */
export async function writeTestWranglerConfig(dir: string, bucketName = 'gan-models'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'wrangler.toml');
  await writeFile(
    file,
    `name = "registry-test"\ncompatibility_date = "2026-04-20"\n\n[[r2_buckets]]\nbinding = "MODELS_BUCKET"\nbucket_name = "${bucketName}"\n`,
  );
  return file;
}

/**
 * An export the worker can really load: random generator weights with the layer names and shapes of
 * `config` (the worker tests' fixture weights), in the export format, written to `<root>/<name>/`.
 */
export async function writeGeneratorExport(
  root: string,
  options: { name: string; version: string; config: ModelConfig; classes?: string[]; seed?: string; createdAt?: string },
): Promise<string> {
  const { randomGeneratorWeights } = await import('../../worker/fixtures.ts');
  const files = encodeModelFiles({ weights: randomGeneratorWeights(options.config, options.seed ?? options.version), options: { shardBytes: 4096 } });
  const manifest = await buildManifest(
    {
      name: options.name,
      version: options.version,
      createdAt: options.createdAt ?? new Date().toISOString(),
      classes: options.classes ?? [],
      architecture: options.config,
      weightsFormat: 'float32',
      dataset: { name: 'random weights (test fixture)', licence: 'CC0-1.0' },
      training: { steps: 0, batchSize: 1, backend: 'none', seconds: 0 },
    },
    files,
  );
  const dir = path.join(root, options.name);
  await mkdir(dir, { recursive: true });
  for (const [file, bytes] of files) await writeFile(path.join(dir, file), bytes);
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
