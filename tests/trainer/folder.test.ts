/**
 * A user's folder of images: what is accepted and converted (mixed sizes, 16-bit, palette and
 * greyscale PNGs, greyscale and CMYK JPEGs, transparency), and each refusal, with the file's name and
 * a reason in words, through the scanner, the data loader and `gan new --dry-run`. Real decoders on
 * real files: PNGs written by fast-png and UPNG, JPEGs by jpeg-js, and the CMYK and greyscale JPEG
 * fixtures made by libvips (sharp): tests/trainer/fixtures/folder/.
 */
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import UPNG from 'upng-js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '@gan/trainer/cli';
import { loadDataset } from '@gan/trainer/data/index';
import { FolderProblemsError, scanFolder } from '@gan/trainer/data/folder-scan';
import { readImageFile } from '@gan/trainer/data/image-file';
import { recipeProblems } from '@gan/trainer/new-model/folder-report';
import { RECIPES } from '@gan/trainer/new-model/recipes';
import { captured } from '../helpers/captured.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures/folder');
const SCAN = { imageSize: 16, channels: 3 as const, background: [255, 255, 255] as [number, number, number] };
let root: string;
let cacheDir: string;

/** A solid RGBA image; `alpha` below 255 makes it translucent. */
function rgba(width: number, height: number, [r, g, b]: number[], alpha = 255): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([r, g, b, alpha], i * 4);
  return data;
}
const png = (width: number, height: number, colour: number[], alpha = 255) =>
  encodePng({ width, height, data: rgba(width, height, colour, alpha), channels: 4, depth: 8 });
const jpg = (width: number, height: number, colour: number[]) =>
  new Uint8Array(jpeg.encode({ width, height, data: rgba(width, height, colour) }, 95).data);

async function folder(name: string, files: Record<string, Uint8Array | string | null>): Promise<string> {
  const dir = path.join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    if (content === null) {
      await mkdir(file, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

/** `gan …args` in this process: exit code and everything it printed. */
async function gan(...args: string[]): Promise<{ code: number; out: string }> {
  const { result, out } = await captured(() => main(['node', 'gan', ...args]));
  return { code: result, out };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'gan-folder-'));
  cacheDir = path.join(root, '.cache');
});
afterEach(() => vi.restoreAllMocks());

describe('accepted and converted', () => {
  it('reads 16-bit, palette and greyscale PNGs, greyscale and CMYK JPEGs, transparency and mixed sizes, and says so once per kind', async () => {
    const sixteen = new Uint16Array(20 * 20 * 3).fill(0x8000);
    const palette = new Uint8Array(UPNG.encode([rgba(24, 24, [10, 200, 30]).buffer as ArrayBuffer], 24, 24, 16));
    const dir = await folder('mixed', {
      'deep.png': encodePng({ width: 20, height: 20, data: sixteen, channels: 3, depth: 16 }),
      'palette.png': palette,
      'grey.png': encodePng({ width: 30, height: 18, data: new Uint8Array(30 * 18).fill(90), channels: 1, depth: 8 }),
      'glass.png': png(16, 16, [255, 0, 0], 128),
      'photo.jpg': jpg(40, 30, [0, 0, 255]),
      'grey.jpeg': await readFile(path.join(FIXTURES, 'quadrants-grey.jpg')),
      'cmyk.jpg': await readFile(path.join(FIXTURES, 'quadrants-cmyk.jpg')),
    });
    const scan = await scanFolder(dir, SCAN);
    expect(scan.skipped).toEqual([]);
    expect(scan.problems).toEqual([]);
    expect(scan.images.map((i) => i.file)).toEqual([
      'cmyk.jpg',
      'deep.png',
      'glass.png',
      'grey.jpeg',
      'grey.png',
      'palette.png',
      'photo.jpg',
    ]);
    const kinds = Object.fromEntries(scan.conversions.map((c) => [c.kind, c.count]));
    expect(kinds).toMatchObject({
      '16-bit PNG': 1,
      'palette PNG': 1,
      greyscale: 2,
      'CMYK JPEG': 1,
      transparency: 1,
      'not square: centre-cropped': 2,
      'shrunk to 16×16': 6,
    });
    expect(Object.keys(kinds).some((k) => k.startsWith('mixed sizes'))).toBe(true);
    // Half-transparent red over white is pink; the 16-bit grey is 128.
    const glass = scan.images.find((i) => i.file === 'glass.png')!.pixels;
    expect(Array.from(glass.subarray(0, 3))).toEqual([255, 127, 127]);
    expect(Array.from(scan.images.find((i) => i.file === 'deep.png')!.pixels.subarray(0, 3))).toEqual([128, 128, 128]);
  });

  it('decodes a CMYK JPEG to the right colours in the right places (libvips wrote it: Adobe marker, inverted CMYK)', async () => {
    const read = readImageFile(new Uint8Array(await readFile(path.join(FIXTURES, 'quadrants-cmyk.jpg'))));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    const pixel = (x: number, y: number) => Array.from(read.image.data.subarray((y * 32 + x) * 4, (y * 32 + x) * 4 + 3));
    const strongest = (p: number[]) => p.indexOf(Math.max(...p));
    // Red, green, blue, white quadrants (no colour profile is applied, so shades differ a little from a colour-managed viewer).
    expect(strongest(pixel(6, 6))).toBe(0);
    expect(strongest(pixel(25, 6))).toBe(1);
    expect(strongest(pixel(6, 25))).toBe(2);
    for (const v of pixel(25, 25)) expect(v).toBeGreaterThan(240);
    expect(pixel(6, 6)[0] - Math.max(pixel(6, 6)[1], pixel(6, 6)[2])).toBeGreaterThan(150);
  });

  it('turns a JPEG upright as its EXIF orientation says (6: rotate 90° clockwise)', () => {
    // 40×20, left half red, right half blue; the camera says: turn it 90° clockwise to show it.
    const data = new Uint8Array(40 * 20 * 4);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) data.set(x < 20 ? [230, 10, 10, 255] : [10, 10, 230, 255], (y * 40 + x) * 4);
    const plain = new Uint8Array(jpeg.encode({ width: 40, height: 20, data }, 95).data);
    // APP1 "Exif\0\0", big-endian TIFF header, IFD0 with one entry: 0x0112 SHORT 1 = 6.
    const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0];
    const payload = [...Buffer.from('Exif\0\0', 'latin1'), ...tiff];
    const app1 = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload];
    const read = readImageFile(new Uint8Array([...plain.subarray(0, 2), ...app1, ...plain.subarray(2)]));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.conversions).toContain('turned upright (EXIF orientation)');
    expect([read.image.width, read.image.height]).toEqual([20, 40]);
    const pixel = (x: number, y: number) => Array.from(read.image.data.subarray((y * 20 + x) * 4, (y * 20 + x) * 4 + 3));
    expect(pixel(10, 5)[0]).toBeGreaterThan(200); // the left (red) half is now on top
    expect(pixel(10, 34)[2]).toBeGreaterThan(200);
  });

  it('composites transparency on the background asked for', async () => {
    const dir = await folder('on-black', { 'a.png': png(16, 16, [255, 255, 255], 0) });
    const scan = await scanFolder(dir, { ...SCAN, background: [0, 0, 0] });
    expect(Array.from(scan.images[0].pixels.subarray(0, 3))).toEqual([0, 0, 0]);
  });
});

describe('refused, with the file and the reason', () => {
  const reasonFor = async (name: string, file: string, bytes: Uint8Array | string) => {
    const dir = await folder(name, { [file]: bytes, 'good.png': png(16, 16, [1, 2, 3]) });
    const scan = await scanFolder(dir, SCAN);
    expect(scan.images.map((i) => i.file)).toEqual(['good.png']);
    expect(scan.skipped.map((s) => s.file)).toEqual([file]);
    return scan.skipped[0].reason;
  };

  it('a truncated PNG', async () => {
    const bytes = png(32, 32, [9, 9, 9]);
    expect(await reasonFor('trunc-png', 'cut.png', bytes.subarray(0, bytes.length - 20))).toMatch(/^the PNG is truncated/);
  });

  it('a corrupt PNG (damaged image data)', async () => {
    const bytes = png(32, 32, [9, 9, 9]).slice();
    const idat = Buffer.from(bytes).indexOf('IDAT');
    for (let i = idat + 6; i < idat + 14; i++) bytes[i] ^= 0x5a;
    expect(await reasonFor('corrupt-png', 'bad.png', bytes)).toMatch(/^the PNG is damaged/);
  });

  it('a truncated JPEG', async () => {
    const bytes = jpg(64, 64, [200, 100, 0]);
    expect(await reasonFor('trunc-jpg', 'cut.jpg', bytes.subarray(0, Math.floor(bytes.length * 0.6)))).toMatch(
      /^the JPEG is (truncated|damaged)/,
    );
  });

  it('a corrupt JPEG (no frame header)', async () => {
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xd9]);
    expect(await reasonFor('corrupt-jpg', 'bad.jpg', bytes)).toMatch(/^the JPEG is damaged/);
  });

  it('an image smaller than the model', async () => {
    expect(await reasonFor('small', 'tiny.png', png(12, 40, [5, 5, 5]))).toBe(
      "12×40 is smaller than the model's 16×16 (images are shrunk, never enlarged)",
    );
  });

  it('a file that is not an image', async () => {
    expect(await reasonFor('text', 'notes.txt', 'my sprites, drawn in 2024\n')).toBe('not a PNG or JPEG image');
  });

  it('an image of another format, whatever its name says', async () => {
    expect(await reasonFor('gif', 'anim.png', 'GIF89a\x01\x00\x01\x00')).toBe('a GIF image, not PNG or JPEG: convert it to PNG');
  });

  it('an empty file', async () => {
    expect(await reasonFor('empty-file', 'zero.png', '')).toBe('the file is empty');
  });

  it('hidden files and folders nested in a class', async () => {
    const dir = await folder('nested', {
      '.DS_Store': 'x',
      'cats/a.png': png(16, 16, [1, 1, 1]),
      'cats/old/b.png': png(16, 16, [1, 1, 1]),
    });
    const scan = await scanFolder(dir, SCAN);
    expect(scan.skipped).toEqual([
      { file: '.DS_Store', reason: 'hidden file' },
      { file: 'cats/old/', reason: 'a folder inside the class folder cats/: classes are one level deep' },
    ]);
  });

  it('an empty class folder stops the load, naming it', async () => {
    const dir = await folder('empty-class', { 'cats/a.png': png(16, 16, [1, 1, 1]), dogs: null });
    const scan = await scanFolder(dir, SCAN);
    expect(scan.problems).toEqual(['class folder dogs/ is empty: add images to it or remove it']);
    const error = await loadDataset(`folder:${dir}`, { imageSize: 16, cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FolderProblemsError);
    expect((error as Error).message).toContain('class folder dogs/ is empty');
  });

  it('a class with too few images for the recipe', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 25; i++) files[`big/${i}.png`] = png(16, 16, [i, 0, 0]);
    for (let i = 0; i < 3; i++) files[`rare/${i}.png`] = png(16, 16, [0, i, 0]);
    const scan = await scanFolder(await folder('few', files), SCAN);
    expect(recipeProblems(scan, RECIPES.emoji)).toEqual([
      'class folder rare/ has 3 usable images; the emoji recipe needs at least 20 in each class',
      '28 usable images in all; the emoji recipe needs at least 100',
    ]);
  });

  it('the loader logs every skipped file and trains on the rest', async () => {
    const dir = await folder('logged', { 'a.png': png(16, 16, [1, 1, 1]), 'b.txt': 'hello' });
    const lines: string[] = [];
    const data = await loadDataset(`folder:${dir}`, { imageSize: 8, cacheDir, log: (l) => lines.push(l) });
    expect(data.count).toBe(1);
    expect(lines).toContain(`skipped ${path.join(dir, 'b.txt')}: not a PNG or JPEG image`);
  });
});

describe('gan new --dry-run', () => {
  it('reports every bad file and every blocking problem, and refuses with exit code 1 (no crash, no stack)', async () => {
    const files: Record<string, Uint8Array | string | null> = { 'README.md': '# my sprites' };
    for (let i = 0; i < 30; i++) files[`ships/ship-${i}.png`] = png(40, 40, [i * 8, 50, 200]);
    files['ships/broken.png'] = png(40, 40, [1, 1, 1]).subarray(0, 30);
    files['rocks/rock-0.jpg'] = jpg(20, 20, [90, 90, 90]);
    files['rocks/rock-1.jpg'] = jpg(48, 48, [90, 90, 90]);
    files.planets = null;
    const dir = await folder('bad-sprites', files);
    const { code, out } = await gan('new', 'sprites', '--data', `folder:${dir}`, '--dry-run', '--cache-dir', cacheDir, '--backend', 'cpu');
    expect(code).toBe(1);
    expect(out).toContain('README.md: not a PNG or JPEG image');
    expect(out).toContain('ships/broken.png: the PNG is truncated');
    expect(out).toContain("rocks/rock-0.jpg: 20×20 is smaller than the model's 32×32");
    expect(out).toContain('class folder planets/ is empty');
    expect(out).toContain('class folder rocks/ has 1 usable image; the emoji recipe needs at least 20 in each class');
    expect(out).toMatch(/ships: 30\n/);
    expect(out).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('on a good folder: the report, conversions named once, and the measured time per 1000 steps', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 60; i++) files[`a/${i}.png`] = png(48, 40, [i * 4, 10, 10], 200);
    for (let i = 0; i < 60; i++) files[`b/${i}.jpg`] = jpg(36, 36, [10, i * 4, 10]);
    const dir = await folder('good-sprites', files);
    const { code, out } = await gan(
      'new',
      'sprites',
      '--data',
      `folder:${dir}`,
      '--dry-run',
      '--cache-dir',
      cacheDir,
      '--backend',
      'wasm',
      '--threads',
      '1',
    );
    expect(code, out).toBe(0);
    expect(out).toContain('120 files found, 120 images used, 0 skipped');
    expect(out).toMatch(/ {2}a: 60\n {2}b: 60\n/);
    expect(out).toMatch(/transparency: 60 images/);
    expect(out).toMatch(/mixed sizes \(2 different\): 120 images/);
    expect(out).toMatch(/time per 1000 steps here: [\d.]+ (s|min) \([\d.]+ (s|min) of CPU; median of 2 timed steps on wasm\)/);
    expect(out).toContain('dry run: nothing trained or written');
  }, 600_000);
});

it('the CMYK fixture really is a 4-component Adobe JPEG (so the test above tests CMYK)', async () => {
  const bytes = await readFile(path.join(FIXTURES, 'quadrants-cmyk.jpg'));
  expect(bytes.includes(Buffer.from('Adobe'))).toBe(true);
  const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
  expect(sof).toBeGreaterThan(0);
  expect(bytes[sof + 9]).toBe(4);
  await copyFile(path.join(FIXTURES, 'quadrants-cmyk.jpg'), path.join(root, 'copy.jpg')); // readable as a file too
});
