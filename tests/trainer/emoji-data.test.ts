import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMOJI_GROUPS,
  EMOJI_GROUPS,
  EMOJI_STYLES,
  RESVG_PACKAGE,
  RESVG_VERSION,
  compositePremultiplied,
  isSkinToneVariant,
  loadEmoji,
  npmInstall,
  pickIcons,
  renderSvgs,
} from '@gan/trainer/data/emoji';
import { DataSpecError, DatasetUnavailableError, loadDataset, parseDataSpec } from '@gan/trainer/data/index';

let root: string;

/**
 * Fake packages: each icon's body names the premultiplied RGBA the fake renderer fills the image with,
 * so the colours of the loaded images say which icons were kept; a body of ABORT makes it abort the
 * process, as resvg-js does on a few real icons.
 */
const icon = (r: number, g: number, b: number, a = 255) => ({ body: `<g data-rgba="${r},${g},${b},${a}"/>` });
const FAKE_ICONS = {
  'grinning-face': icon(128, 0, 0, 128), // Smileys & Emotion; half-transparent red, premultiplied
  'grinning-face-medium-skin-tone': icon(1, 1, 1),
  'waving-hand-tone3': icon(2, 2, 2),
  dog: icon(0, 200, 0), // Animals & Nature
  cat: { ...icon(3, 3, 3), hidden: true },
  boy: icon(0, 0, 200), // People & Body
  'boy-medium-light': icon(4, 4, 4), // fluent's naming of a skin tone
  'handshake-light-dark': icon(5, 5, 5),
  handshake: icon(0, 100, 100),
  headstone: icon(100, 100, 0), // Objects: "tone" inside a word is no skin tone
  'vertical-traffic-light': icon(100, 0, 100), // Travel & Places: no `vertical-traffic`, so no variant
};

const RESVG_FAKE = `exports.Resvg = class Resvg {
  constructor(svg) { this.svg = svg; }
  render() {
    if (this.svg.includes('ABORT')) { process.stderr.write('fake renderer: abort\\n'); process.abort(); }
    const size = Number(/width="(\\d+)"/.exec(this.svg)[1]);
    const rgba = /data-rgba="([\\d,]+)"/.exec(this.svg)[1].split(',').map(Number);
    const pixels = Buffer.alloc(size * size * 4);
    for (let i = 0; i < size * size; i++) pixels.set(rgba, i * 4);
    return { width: size, height: size, pixels };
  }
};
`;

async function writePackage(prefix: string, name: string, version: string, files: Record<string, string>) {
  const dir = path.join(prefix, 'node_modules', ...name.split('/'));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
}

/** An npm prefix with all eight fake sets and the fake renderer; fxemoji has an icon that aborts it. */
async function fakePackages(dir: string, leaveOut?: string): Promise<string> {
  for (const [i, style] of EMOJI_STYLES.entries()) {
    if (style.package === leaveOut) continue;
    const icons = style.name === 'fxemoji' ? { ...FAKE_ICONS, alien: { body: 'ABORT' } } : FAKE_ICONS;
    await writePackage(dir, style.package, style.version, {
      'info.json': JSON.stringify({
        name: `${style.name} set`,
        author: { name: `Author ${i}`, url: `https://example.com/${style.name}` },
        license: i % 2 ? { title: 'CC BY 4.0', spdx: 'CC-BY-4.0' } : { title: 'MIT', spdx: 'MIT' },
      }),
      'icons.json': JSON.stringify({
        prefix: style.name,
        width: 16,
        height: 16,
        icons,
        aliases: { grinning: { parent: 'grinning-face' } },
      }),
    });
  }
  await writePackage(dir, RESVG_PACKAGE, RESVG_VERSION, { 'index.js': RESVG_FAKE });
  return dir;
}

/** The distinct colours of each class's images (one colour per fake icon). */
function coloursByClass(images: Uint8Array[], labels: number[]): string[][] {
  const out: string[][] = EMOJI_STYLES.map(() => []);
  images.forEach((img, i) => {
    out[labels[i]].push(Array.from(img.subarray(0, 3)).join(','));
  });
  return out;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-emoji-'));
});

describe('emoji data specs', () => {
  it('parses emoji (the default groups), emoji:all and emoji:<groups>, and names unknown groups', () => {
    expect(parseDataSpec('emoji')).toEqual({ kind: 'emoji', groups: ['smileys-emotion', 'animals-nature'] });
    expect(parseDataSpec('emoji:all')).toMatchObject({ kind: 'emoji', groups: expect.arrayContaining(['flags', 'people-body']) });
    expect((parseDataSpec('emoji:all') as { groups: string[] }).groups).toHaveLength(9);
    expect(parseDataSpec('emoji:flags,food-drink')).toEqual({ kind: 'emoji', groups: ['food-drink', 'flags'] });
    expect(() => parseDataSpec('emoji:faces')).toThrow(DataSpecError);
    expect(() => parseDataSpec('emoji:faces')).toThrow(/faces.*smileys-emotion/);
    expect(() => parseDataSpec('emoji:')).toThrow(DataSpecError);
  });

  it('leaves out skin-tone variants, and keeps names that only contain "tone", "light" or "dark"', () => {
    const names = new Set(['boy', 'handshake', 'vertical-traffic-light', 'stone', 'headstone', 'dark-sunglasses', 'crescent-moon']);
    for (const variant of [
      'waving-hand-medium-dark-skin-tone',
      'light-skin-tone',
      'man-light-skin-tone-beard',
      'thumbsup-tone3',
      'boy-dark',
      'boy-medium-light',
      'handshake-light-dark',
    ])
      expect(isSkinToneVariant(variant, names), variant).toBe(true);
    for (const name of [...names, 'man-medium']) expect(isSkinToneVariant(name, names), name).toBe(false);
  });

  it('composites premultiplied pixels: colour + background × (1 − alpha)', () => {
    const halfRed = { width: 1, height: 1, pixels: Uint8Array.from([128, 0, 0, 128]) };
    expect(Array.from(compositePremultiplied(halfRed, [255, 255, 255]))).toEqual([255, 127, 127]);
    expect(Array.from(compositePremultiplied(halfRed, [0, 0, 0]))).toEqual([128, 0, 0]);
  });
});

describe('emoji from fake packages', () => {
  let packages: string;
  beforeAll(async () => {
    packages = await fakePackages(path.join(root, 'fake'));
  });

  it('gives the eight styles as classes in order, the icons of the groups asked for, and every licence', async () => {
    const lines: string[] = [];
    const raw = await loadEmoji({
      imageSize: 8,
      groups: DEFAULT_EMOJI_GROUPS,
      background: [255, 255, 255],
      labels: true,
      cacheDir: path.join(root, 'cache'),
      packagesDir: packages,
      log: (line) => lines.push(line),
    });
    expect(raw.name).toBe('emoji');
    expect(raw.classNames).toEqual(['twemoji', 'noto', 'noto-v1', 'fluent', 'fluent-flat', 'emojione', 'fxemoji', 'streamline']);
    // Per style, sorted by name: dog, grinning-face (composited on white). Hidden cat, the alias and the tones are out.
    expect(coloursByClass(raw.images, raw.labels)).toEqual(EMOJI_STYLES.map(() => ['0,200,0', '255,127,127']));
    expect(raw.images.every((img) => img.length === 8 * 8 * 3)).toBe(true);
    expect(raw.licence.licence).toBe('MIT AND CC-BY-4.0');
    for (const [i, style] of EMOJI_STYLES.entries()) {
      expect(raw.licence.attribution).toContain(
        `${style.name} set by Author ${i} (https://example.com/${style.name}), ${i % 2 ? 'CC-BY-4.0' : 'MIT'}`,
      );
      expect(raw.licence.attribution).toContain(`${style.package}@${style.version}`);
    }
    expect(raw.sourceVersion).toContain('groups:smileys-emotion,animals-nature');
    // The icon that aborts the renderer's process is skipped, reported, and the rest of its style rendered.
    expect(lines.filter((l) => /skipped:/.test(l))).toEqual([expect.stringMatching(/fxemoji icon alien skipped: .*fake renderer: abort/)]);
    expect(lines).toContainEqual(expect.stringMatching(/16 images: twemoji 2, noto 2, .*fxemoji 2, streamline 2/));
  });

  it('keeps every group with emoji:all, stone-like names included', async () => {
    const raw = await loadEmoji({
      imageSize: 8,
      groups: EMOJI_GROUPS.map((g) => g.slug),
      background: [0, 0, 0],
      labels: false,
      cacheDir: path.join(root, 'cache'),
      packagesDir: packages,
    });
    expect(raw.name).toBe('emoji:all');
    expect(raw.classNames).toEqual([]);
    expect(new Set(raw.labels)).toEqual(new Set([0]));
    // boy, dog, grinning-face (on black), handshake, headstone, vertical-traffic-light
    expect(coloursByClass(raw.images, raw.labels)[0].slice(0, 6)).toEqual([
      '0,0,200',
      '0,200,0',
      '128,0,0',
      '0,100,100',
      '100,100,0',
      '100,0,100',
    ]);
  });

  it('loads through loadDataset, cached under its groups', async () => {
    const cacheDir = path.join(root, 'cache-dataset');
    const first = await loadDataset('emoji:smileys-emotion', { imageSize: 8, cacheDir, emojiPackagesDir: packages });
    expect(first).toMatchObject({ name: 'emoji:smileys-emotion', channels: 3, count: 8, fromCache: false });
    expect(first.classNames).toHaveLength(8);
    expect(Array.from(first.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const again = await loadDataset('emoji:smileys-emotion', { imageSize: 8, cacheDir, emojiPackagesDir: packages });
    expect(again.fromCache).toBe(true);
    const other = await loadDataset('emoji', { imageSize: 8, cacheDir, emojiPackagesDir: packages });
    expect(other).toMatchObject({ name: 'emoji', count: 16, fromCache: false });
  });

  it('names the package that is missing', async () => {
    const partial = await fakePackages(path.join(root, 'partial'), '@iconify-json/fxemoji');
    const load = loadEmoji({
      imageSize: 8,
      groups: DEFAULT_EMOJI_GROUPS,
      background: [255, 255, 255],
      labels: true,
      cacheDir: root,
      packagesDir: partial,
    });
    await expect(load).rejects.toThrow(DatasetUnavailableError);
    await expect(load).rejects.toThrow(/@iconify-json\/fxemoji/);
  });

  it('says so when the renderer cannot be loaded, instead of skipping every icon', async () => {
    const broken = path.join(root, 'broken-resvg');
    await writePackage(broken, RESVG_PACKAGE, RESVG_VERSION, { 'index.js': 'throw new Error("no binary for this platform")' });
    const renderer = path.join(broken, 'node_modules', RESVG_PACKAGE);
    await expect(renderSvgs(renderer, ['<svg width="8"/>', '<svg width="8"/>'])).rejects.toThrow(
      /could not be loaded.*no binary for this platform/,
    );
  });
});

// The real renderer on a few real icons: needs the npm registry (about 15 MB), so it is skipped offline.
describe.skipIf(Boolean(process.env.GAN_OFFLINE))('emoji with the real resvg-js and twemoji (skipped when GAN_OFFLINE is set)', () => {
  it('renders the same bytes twice, at the size asked for, premultiplied', async () => {
    const prefix = path.join(root, 'real');
    const twemoji = EMOJI_STYLES[0];
    await npmInstall(prefix, [`${twemoji.package}@${twemoji.version}`, `${RESVG_PACKAGE}@${RESVG_VERSION}`]);
    const dir = (name: string) => path.join(prefix, 'node_modules', ...name.split('/'));
    const { icons } = await pickIcons({ style: twemoji, dir: dir(twemoji.package) }, DEFAULT_EMOJI_GROUPS, 16);
    expect(icons.length).toBeGreaterThan(300);
    expect(icons.map((i) => i.name)).toContain('grinning-face');
    expect(icons.some((i) => /skin-tone/.test(i.name))).toBe(false);
    const some = icons.filter((i) => ['dog-face', 'grinning-face', 'red-heart', 'tiger'].includes(i.name)).map((i) => i.svg);
    const a = await renderSvgs(dir(RESVG_PACKAGE), some);
    const b = await renderSvgs(dir(RESVG_PACKAGE), some);
    expect(a.skipped).toEqual([]);
    expect(a.rendered.every((r) => r?.width === 16 && r.height === 16)).toBe(true);
    expect(a.rendered.map((r) => Buffer.from(r!.pixels).toString('base64'))).toEqual(
      b.rendered.map((r) => Buffer.from(r!.pixels).toString('base64')),
    );
    // Half-transparent red comes back premultiplied, which compositePremultiplied expects.
    const half = await renderSvgs(dir(RESVG_PACKAGE), [
      '<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2" viewBox="0 0 16 16"><rect width="16" height="16" fill="#ff0000" fill-opacity="0.5"/></svg>',
    ]);
    expect(Array.from(half.rendered[0]!.pixels.subarray(0, 4))).toEqual([128, 0, 0, 128]);
    await rm(prefix, { recursive: true, force: true });
  });
});
