/**
 * Twemoji from the npm package `emoji-datasource-twitter` (graphics CC-BY 4.0 by Twitter, Inc and
 * other contributors): 64x64 RGBA PNGs of the base emoji (skin-tone variants left out), composited
 * over a background colour. Categories from the package's `emoji.json` are the optional labels.
 *
 * The package is ~62 MB packed, so it is not a dependency: it is installed into the cache directory
 * the first time this data set is asked for (or found where `GAN_TWEMOJI_DIR` or node resolution says).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeImage, toSquare } from './pixels.ts';
import type { RawDataset } from './types.ts';

export const TWEMOJI_PACKAGE = 'emoji-datasource-twitter';
export const TWEMOJI_VERSION = '16.0.0';

export class DatasetUnavailableError extends Error {
  override name = 'DatasetUnavailableError';
}

interface EmojiEntry {
  image: string;
  category?: string;
  has_img_twitter?: boolean;
  sort_order?: number;
}

export interface TwemojiOptions {
  imageSize: number;
  background: [number, number, number];
  labels: boolean;
  cacheDir: string;
  /** A directory holding the package (emoji.json and img/twitter/64/); skips resolution and install. */
  packageDir?: string;
  log?: (line: string) => void;
}

/** Finds the package: explicit dir, GAN_TWEMOJI_DIR, node resolution, the cache; else installs it there. */
export async function locateTwemoji(options: Pick<TwemojiOptions, 'cacheDir' | 'packageDir' | 'log'>): Promise<string> {
  const explicit = options.packageDir ?? process.env.GAN_TWEMOJI_DIR;
  if (explicit) {
    if (!existsSync(path.join(explicit, 'emoji.json'))) throw new DatasetUnavailableError(`${explicit} has no emoji.json`);
    return explicit;
  }
  try {
    return path.dirname(createRequire(import.meta.url).resolve(`${TWEMOJI_PACKAGE}/package.json`));
  } catch {
    // not installed alongside the trainer
  }
  const prefix = path.join(options.cacheDir, 'packages');
  const dir = path.join(prefix, 'node_modules', TWEMOJI_PACKAGE);
  if (existsSync(path.join(dir, 'emoji.json'))) return dir;
  await mkdir(prefix, { recursive: true });
  options.log?.(`installing ${TWEMOJI_PACKAGE}@${TWEMOJI_VERSION} (about 62 MB) into ${prefix}`);
  try {
    await promisify(execFile)(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', prefix, `${TWEMOJI_PACKAGE}@${TWEMOJI_VERSION}`],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    throw new DatasetUnavailableError(`could not install ${TWEMOJI_PACKAGE}: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
  }
  if (!existsSync(path.join(dir, 'emoji.json'))) throw new DatasetUnavailableError(`${TWEMOJI_PACKAGE} installed without emoji.json`);
  return dir;
}

export async function loadTwemoji(options: TwemojiOptions): Promise<RawDataset> {
  const dir = await locateTwemoji(options);
  const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}')) as { version?: string };
  const entries = (JSON.parse(await readFile(path.join(dir, 'emoji.json'), 'utf8')) as EmojiEntry[])
    .filter((e) => e.has_img_twitter !== false)
    .sort((a, b) => (a.sort_order ?? 0) - (b.sort_order ?? 0) || a.image.localeCompare(b.image));
  const classNames = options.labels ? [...new Set(entries.map((e) => e.category ?? 'Other'))] : [];
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  for (const e of entries) {
    const file = path.join(dir, 'img', 'twitter', '64', e.image);
    if (!existsSync(file)) continue;
    images.push(toSquare(decodeImage(await readFile(file), e.image), options.imageSize, 3, options.background));
    labels.push(options.labels ? classNames.indexOf(e.category ?? 'Other') : 0);
  }
  if (images.length === 0) throw new DatasetUnavailableError(`no Twemoji images found in ${dir}`);
  return {
    name: 'twemoji',
    channels: 3,
    classNames,
    images,
    labels,
    licence: {
      licence: 'CC-BY-4.0',
      attribution:
        'Twemoji graphics by Twitter, Inc and other contributors, licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/), ' +
        `from the npm package ${TWEMOJI_PACKAGE}${pkg.version ? `@${pkg.version}` : ''} (iamcal/emoji-data).`,
    },
    sourceVersion: `${TWEMOJI_PACKAGE}@${pkg.version ?? 'unknown'}:${entries.length}`,
  };
}
