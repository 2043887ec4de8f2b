/**
 * The emoji style judge's real images: every icon of every Unicode group in the eight styles, rendered
 * as the trainer renders them (evaluate/style-judge.ts), each with its style, name and group, and the
 * judge's fixed held-out split:
 *
 * - icons of the emoji model's groups (Smileys & Emotion, Animals & Nature) are held out exactly as the
 *   data loader holds them out of the generator's training (the last 10 % of each style in name
 *   order: data/index.ts splitIndices), so the images a generator was scored against are never
 *   trained on by the judge either, and the judge never saw the generator's held-out icons;
 * - icons of every other group are held out when a hash of their name falls in the lowest tenth
 *   (`heldOutByName`): fixed forever, whatever icons a package version adds or drops. The same name
 *   is held out in every style (the judge must tell styles apart on emoji it never saw in any style),
 *   and streamline's numbered drawings of one emoji (`baby-1`, `baby-2`) go together.
 *
 * The renders are cached (`<cacheDir>/datasets/emoji-style-<size>px-<key>.bin` + `.json`).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../atomic-write.ts';
import {
  DEFAULT_EMOJI_GROUPS,
  EMOJI_GROUPS,
  EMOJI_SOURCE_VERSION,
  EMOJI_STYLES,
  type EmojiGroup,
  RESVG_PACKAGE,
  compositePremultiplied,
  locateEmojiPackages,
  pickIcons,
  renderSvgs,
} from '../data/emoji.ts';
import { HELDOUT_FRACTION, defaultCacheDir } from '../data/index.ts';
import type { LabelledImages } from './classifier.ts';

/** Names the split rule: recorded with the judge, part of the cache key. */
export const STYLE_SPLIT_RULE =
  'model groups: data loader tail 10 % per style; other groups: sha256("emoji-style-split:" + name) mod 10 = 0';

/** One rendered icon of the judge's data. */
export interface StyleIcon {
  style: number;
  name: string;
  group: EmojiGroup;
  heldOut: boolean;
}

export interface StyleData {
  imageSize: number;
  classNames: string[];
  icons: StyleIcon[];
  /** [icons.length, S, S, 3] bytes, composited on white. */
  pixels: Uint8Array;
}

/** Whether an icon outside the model's groups is held out: a hash of its name (numbered drawings share one). */
export function heldOutByName(name: string): boolean {
  const key = name.replace(/-\d+$/, '');
  const digest = createHash('sha256').update(`emoji-style-split:${key}`).digest();
  return digest.readUInt32BE(0) % 10 === 0;
}

/**
 * The split of one style's icons (in name order): the model's groups as the data loader splits them
 * (the last ⌊10 %⌋ of that style's icons in those groups), the others by name.
 */
export function markHeldOut(icons: readonly { name: string; group: EmojiGroup }[], modelGroups: readonly EmojiGroup[]): boolean[] {
  const inModel = icons.flatMap((icon, i) => (modelGroups.includes(icon.group) ? [i] : []));
  const tail = new Set(inModel.slice(inModel.length - Math.floor(inModel.length * HELDOUT_FRACTION)));
  return icons.map((icon, i) => (modelGroups.includes(icon.group) ? tail.has(i) : heldOutByName(icon.name)));
}

interface CacheHeader {
  format: 1;
  imageSize: number;
  classNames: string[];
  icons: StyleIcon[];
}

/** Renders (or reads from the cache) every icon of every group in the eight styles. */
export async function loadStyleData(options: {
  imageSize: number;
  cacheDir?: string;
  packagesDir?: string;
  log?: (line: string) => void;
}): Promise<StyleData> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        source: EMOJI_SOURCE_VERSION,
        size: options.imageSize,
        rule: STYLE_SPLIT_RULE,
        packages: options.packagesDir ?? '',
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir, 'datasets', `emoji-style-${options.imageSize}px-${key}`);
  const size = options.imageSize * options.imageSize * 3;
  if (existsSync(`${file}.json`) && existsSync(`${file}.bin`)) {
    const header = JSON.parse(await readFile(`${file}.json`, 'utf8')) as CacheHeader;
    const pixels = new Uint8Array(await readFile(`${file}.bin`));
    if (header.format === 1 && pixels.byteLength === header.icons.length * size) {
      return { imageSize: header.imageSize, classNames: header.classNames, icons: header.icons, pixels };
    }
  }
  const packages = await locateEmojiPackages({ cacheDir, packagesDir: options.packagesDir, log: options.log });
  const resvgDir = packages.get(RESVG_PACKAGE)!;
  const allGroups = EMOJI_GROUPS.map((g) => g.slug);
  const icons: StyleIcon[] = [];
  const images: Uint8Array[] = [];
  for (const [label, style] of EMOJI_STYLES.entries()) {
    const picked = (await pickIcons({ style, dir: packages.get(style.package)! }, allGroups, options.imageSize)).icons;
    const { rendered } = await renderSvgs(
      resvgDir,
      picked.map((i) => i.svg),
    );
    // Icons the renderer died on are dropped before the split, as the data loader drops them.
    const kept = picked.flatMap((icon, i) => (rendered[i] ? [{ icon, render: rendered[i] }] : []));
    const heldOut = markHeldOut(
      kept.map((k) => k.icon),
      DEFAULT_EMOJI_GROUPS,
    );
    kept.forEach(({ icon, render }, i) => {
      icons.push({ style: label, name: icon.name, group: icon.group, heldOut: heldOut[i] });
      images.push(compositePremultiplied(render, [255, 255, 255]));
    });
    options.log?.(`emoji style data: ${style.name}: ${kept.length} icons, ${heldOut.filter(Boolean).length} held out`);
  }
  const pixels = new Uint8Array(images.length * size);
  images.forEach((img, i) => {
    pixels.set(img, i * size);
  });
  const header: CacheHeader = { format: 1, imageSize: options.imageSize, classNames: EMOJI_STYLES.map((s) => s.name), icons };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomically(`${file}.bin`, pixels);
  await writeFileAtomically(`${file}.json`, JSON.stringify(header));
  return { imageSize: options.imageSize, classNames: header.classNames, icons, pixels };
}

/** The icons for which `keep` holds, as images in [-1, 1] labelled by style. */
export function styleSubset(data: StyleData, keep: (icon: StyleIcon) => boolean): LabelledImages {
  const size = data.imageSize * data.imageSize * 3;
  const chosen = data.icons.flatMap((icon, i) => (keep(icon) ? [i] : []));
  const images = new Float32Array(chosen.length * size);
  chosen.forEach((src, i) => {
    for (let k = 0; k < size; k++) images[i * size + k] = data.pixels[src * size + k] / 127.5 - 1;
  });
  return {
    images,
    labels: Int32Array.from(chosen, (i) => data.icons[i].style),
    count: chosen.length,
    imageSize: data.imageSize,
    channels: 3,
    classNames: data.classNames,
  };
}
