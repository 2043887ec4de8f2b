/**
 * The upscaler's real pairs: every icon of the emoji model's data set rendered by resvg at the model's
 * size and at 2× and 4× that size, exactly as the data loader renders its training images (the same
 * icons, SVG, renderer and white background: data/emoji.ts), so the small image of a pair is
 * pixel-for-pixel an image the generator was trained on.
 *
 * The split is the data loader's: per style, the last 10 % of the icons the renderer drew at the
 * model's size (data/index.ts splitIndices) are held out. Those icons are the emoji evaluation's
 * held-out split; the upscaler never trains on them, so its held-out scores are on icons that neither
 * it nor the generator saw. An icon drawn at the small size but not at a larger one is dropped from
 * the pairs after the split is made, so the split stays the loader's.
 *
 * Cached as `<cacheDir>/datasets/emoji-pairs-<size>px-<key>.bin` (+ `.json`): all sizes of each icon.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../atomic-write.ts';
import {
  DEFAULT_EMOJI_GROUPS,
  EMOJI_SOURCE_VERSION,
  EMOJI_STYLES,
  type EmojiGroup,
  RESVG_PACKAGE,
  type RenderedIcon,
  compositePremultiplied,
  locateEmojiPackages,
  pickIcons,
  renderSvgs,
} from '../data/emoji.ts';
import { defaultCacheDir, splitIndices } from '../data/index.ts';

/** The scale factors rendered beside the model's size. */
export const PAIR_SCALES = [1, 2, 4] as const;
const CACHE_FORMAT = 1;

export interface PairIcon {
  style: number;
  name: string;
  heldOut: boolean;
}

export interface EmojiPairs {
  /** The model's (small) size. */
  size: number;
  icons: PairIcon[];
  /** Per scale in PAIR_SCALES: [icons, s·size, s·size, 3] bytes on white. */
  pixels: Record<(typeof PAIR_SCALES)[number], Uint8Array>;
}

interface CacheHeader {
  format: number;
  size: number;
  icons: PairIcon[];
}

export interface PairOptions {
  size: number;
  groups?: readonly EmojiGroup[];
  cacheDir?: string;
  packagesDir?: string;
  log?: (line: string) => void;
}

function cacheFile(options: PairOptions, groups: readonly EmojiGroup[]): string {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        CACHE_FORMAT,
        source: EMOJI_SOURCE_VERSION,
        groups,
        size: options.size,
        scales: PAIR_SCALES,
        packages: options.packagesDir ?? '',
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return path.join(options.cacheDir ?? defaultCacheDir(), 'datasets', `emoji-pairs-${options.size}px-${key}`);
}

/** Renders (or reads from the cache) every icon at each scale of `size`, with the loader's split. */
export async function loadEmojiPairs(options: PairOptions): Promise<EmojiPairs> {
  const groups = options.groups ?? DEFAULT_EMOJI_GROUPS;
  const file = cacheFile(options, groups);
  const bytesPer = (s: number) => (s * options.size) ** 2 * 3;
  const perIcon = PAIR_SCALES.reduce((sum, s) => sum + bytesPer(s), 0);
  if (existsSync(`${file}.json`) && existsSync(`${file}.bin`)) {
    const header = JSON.parse(await readFile(`${file}.json`, 'utf8')) as CacheHeader;
    const bin = new Uint8Array(await readFile(`${file}.bin`));
    if (header.format === CACHE_FORMAT && bin.byteLength === header.icons.length * perIcon) return unpack(header, bin);
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const packages = await locateEmojiPackages({ cacheDir, packagesDir: options.packagesDir, log: options.log });
  const resvgDir = packages.get(RESVG_PACKAGE)!;
  const icons: PairIcon[] = [];
  const images: Uint8Array[][] = PAIR_SCALES.map(() => []);
  for (const [label, style] of EMOJI_STYLES.entries()) {
    const source = { style, dir: packages.get(style.package)! };
    const renders: { picked: { name: string }[]; rendered: (RenderedIcon | undefined)[] }[] = [];
    for (const scale of PAIR_SCALES) {
      const { icons: picked } = await pickIcons(source, groups, scale * options.size);
      renders.push({
        picked,
        rendered: (
          await renderSvgs(
            resvgDir,
            picked.map((i) => i.svg),
          )
        ).rendered,
      });
    }
    // The loader's split: over the icons drawn at the model's size, in name order, per style.
    const drawn = renders[0].picked.flatMap((_, i) => (renders[0].rendered[i] ? [i] : []));
    const heldOut = new Set(splitIndices(new Array(drawn.length).fill(0), 'heldout').map((k) => drawn[k]));
    let kept = 0;
    for (const i of drawn) {
      if (renders.some((r) => !r.rendered[i])) continue;
      icons.push({ style: label, name: renders[0].picked[i].name, heldOut: heldOut.has(i) });
      renders.forEach((r, s) => {
        images[s].push(compositePremultiplied(r.rendered[i]!, [255, 255, 255]));
      });
      kept++;
    }
    options.log?.(`emoji pairs: ${style.name}: ${kept} icons, ${heldOut.size} held out`);
  }
  const bin = new Uint8Array(icons.length * perIcon);
  let offset = 0;
  PAIR_SCALES.forEach((_, s) => {
    for (const img of images[s]) {
      bin.set(img, offset);
      offset += img.length;
    }
  });
  const header: CacheHeader = { format: CACHE_FORMAT, size: options.size, icons };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomically(`${file}.bin`, bin);
  await writeFileAtomically(`${file}.json`, JSON.stringify(header));
  return unpack(header, bin);
}

function unpack(header: CacheHeader, bin: Uint8Array): EmojiPairs {
  const pixels = {} as EmojiPairs['pixels'];
  let offset = 0;
  for (const s of PAIR_SCALES) {
    const len = header.icons.length * (s * header.size) ** 2 * 3;
    pixels[s] = bin.subarray(offset, offset + len);
    offset += len;
  }
  return { size: header.size, icons: header.icons, pixels };
}

/** Indices of the training or the held-out icons. */
export function pairIndices(pairs: EmojiPairs, split: 'train' | 'heldout'): number[] {
  return pairs.icons.flatMap((icon, i) => (icon.heldOut === (split === 'heldout') ? [i] : []));
}

/** The images of `indices` at one scale, as floats in [-1, 1] ([n, S, S, 3]). */
export function pairImages(pairs: EmojiPairs, scale: (typeof PAIR_SCALES)[number], indices: readonly number[]): Float32Array {
  const len = (scale * pairs.size) ** 2 * 3;
  const out = new Float32Array(indices.length * len);
  indices.forEach((src, i) => {
    const from = pairs.pixels[scale].subarray(src * len, (src + 1) * len);
    for (let k = 0; k < len; k++) out[i * len + k] = from[k] / 127.5 - 1;
  });
  return out;
}
