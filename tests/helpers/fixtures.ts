/**
 * Exported models for registry and integration tests: the tests' one fixture model
 * (tests/worker/fixtures.ts: random generator weights in the real export format, loadable by the
 * worker), written as `gan export` writes a directory, with a model card and a sample.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig } from '@gan/core';
import { type WritableBucket, buildFixture } from '../worker/fixtures.ts';

/** A small generator: 6.4 KiB of weights, in four shards by default. */
export const TINY_CONFIG: ModelConfig = {
  imageSize: 16,
  channels: 1,
  latentSize: 8,
  generatorWidth: 4,
  discriminatorWidth: 4,
  numClasses: 0,
};

export interface FixtureExportOptions {
  /** Default `tiny`. */
  name?: string;
  version: string;
  /** Default TINY_CONFIG. */
  config?: ModelConfig;
  classes?: string[];
  /** Changes the weights' and the sample's bytes (two exports with different seeds differ). */
  seed?: string | number;
  /** Default: now. */
  createdAt?: string;
  metrics?: Record<string, unknown>;
  /** Default 2048 bytes: TINY_CONFIG's weights in four shards. */
  shardBytes?: number;
}

/**
 * Writes an export directory, `<root>/<name>-<version>/` (model.json, shards, README.md, sample.png,
 * manifest.json), and returns its path.
 */
export async function writeFixtureExport(root: string, options: FixtureExportOptions): Promise<string> {
  const name = options.name ?? 'tiny';
  const seed = String(options.seed ?? 1);
  const { manifest, files } = await buildFixture({
    name,
    version: options.version,
    config: options.config ?? TINY_CONFIG,
    classes: options.classes,
    weightsSeed: `${name}#${seed}`,
    shardBytes: options.shardBytes ?? 2048,
    createdAt: options.createdAt ?? new Date().toISOString(),
    metrics: options.metrics,
    extraFiles: {
      'README.md': new TextEncoder().encode(`# ${name} ${options.version}\n`),
      'sample.png': Uint8Array.from([0x89, 0x50, 0x4e, 0x47, ...new TextEncoder().encode(seed)]),
    },
  });
  const dir = path.join(root, `${name}-${options.version}`);
  await mkdir(dir, { recursive: true });
  for (const [file, bytes] of files) await writeFile(path.join(dir, file), bytes);
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

/**
 * A bucket for the worker's fixture publishers (tests/worker/fixtures.ts) that lays each published
 * version out as an export directory, `<root>/<name>@<version>/`, for the `gan` commands that read one.
 * current.json has no place there and is dropped.
 */
export function exportDirsBucket(root: string): WritableBucket {
  return {
    async put(key, value) {
      const [, name, version, file] = key.split('/');
      if (!file) return;
      const dir = path.join(root, `${name}@${version}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, file), typeof value === 'string' ? value : new Uint8Array(value as ArrayBuffer));
    },
    async delete() {},
  };
}
