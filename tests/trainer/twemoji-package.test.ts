/**
 * `--data twemoji` from its real npm package: installed on first use into the cache directory from the
 * npm registry (about 62 MB), then read as the shipped twemoji model was trained on it. Needs the
 * registry, so it is skipped when GAN_OFFLINE is set (tests/trainer/data.test.ts covers the loader on a
 * fake package of the same layout).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManifestSchema } from '@gan/core/manifest';
import { type Dataset, loadDataset } from '@gan/trainer/data/index';
import { TWEMOJI_PACKAGE, TWEMOJI_VERSION } from '@gan/trainer/data/twemoji';
import { repoRoot } from '../helpers/gan.ts';

const INSTALL_TIMEOUT_MS = 300_000;

describe.skipIf(Boolean(process.env.GAN_OFFLINE))('twemoji from its npm package (skipped when GAN_OFFLINE is set)', () => {
  let cacheDir: string;
  let data: Dataset;
  const lines: string[] = [];

  beforeAll(async () => {
    // Neither a package next to the trainer nor GAN_TWEMOJI_DIR may stand in for the install.
    vi.stubEnv('GAN_TWEMOJI_DIR', undefined);
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'gan-twemoji-'));
    data = await loadDataset('twemoji', { imageSize: 16, cacheDir, log: (line) => lines.push(line) });
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    vi.unstubAllEnvs();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('is installed into the cache directory, at the pinned version', async () => {
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`installing ${TWEMOJI_PACKAGE}@${TWEMOJI_VERSION}`)));
    const dir = path.join(cacheDir, 'packages', 'node_modules', TWEMOJI_PACKAGE);
    expect(JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')).version).toBe(TWEMOJI_VERSION);
    expect(existsSync(path.join(dir, 'emoji.json'))).toBe(true);
  });

  it('has the training images, licence and attribution the shipped twemoji model records', async () => {
    const shipped = ManifestSchema.parse(JSON.parse(await readFile(path.join(repoRoot, 'models', 'twemoji', 'manifest.json'), 'utf8')));
    // Every base emoji with a Twitter image; the shipped model is unconditional and trained on the training split.
    expect(data.count).toBe(1911);
    const train = await loadDataset('twemoji', { imageSize: 16, cacheDir, labels: false, split: 'train' });
    expect(train.count).toBe(shipped.dataset.images);
    expect(data.licence).toEqual({ licence: shipped.dataset.licence, attribution: shipped.dataset.attribution });
    expect(data.licence.attribution).toContain(`${TWEMOJI_PACKAGE}@${TWEMOJI_VERSION}`);
  });

  it('gives 16x16 RGB images in [-1, 1], colourful ones composited on white', () => {
    expect(data).toMatchObject({ name: 'twemoji', imageSize: 16, channels: 3, fromCache: false });
    expect(data.images.length).toBe(data.count * 16 * 16 * 3);
    let [min, max] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const v of data.images) [min, max] = [Math.min(min, v), Math.max(max, v)];
    expect([min, max]).toEqual([-1, 1]);
    // Transparent corners on the default white background.
    const corner = (i: number) => Array.from(data.images.subarray(i * 16 * 16 * 3, i * 16 * 16 * 3 + 3));
    expect(corner(0)).toEqual([1, 1, 1]);
  });

  it("labels each image with its category from the package's emoji.json, in the package's order", () => {
    expect(data.classNames.slice(0, 3)).toEqual(['Smileys & Emotion', 'People & Body', 'Component']);
    expect(data.classNames).toEqual(expect.arrayContaining(['Animals & Nature', 'Food & Drink', 'Flags']));
    expect(new Set(data.labels).size).toBe(data.classNames.length);
    // Sorted by the package's sort order: categories come in runs, never interleaved.
    const runs = Array.from(data.labels).filter((label, i, all) => i === 0 || label !== all[i - 1]);
    expect(runs).toEqual(data.classNames.map((_, c) => c));
  });

  it('reads the prepared cache the second time, the same images', async () => {
    const again = await loadDataset('twemoji', { imageSize: 16, cacheDir });
    expect(again.fromCache).toBe(true);
    expect(again.count).toBe(data.count);
    expect(Buffer.from(again.images.buffer).equals(Buffer.from(data.images.buffer))).toBe(true);
  });
});
