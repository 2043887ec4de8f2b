import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataSpecError, loadDataset, parseDataSpec, resizeSquare, splitIndices } from '@gan/trainer/data/index';

let cacheDir: string;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-data-'));
  cacheDir = path.join(root, 'cache');
});

/** A solid-colour RGBA PNG, w x h. */
function png(w: number, h: number, rgba: [number, number, number, number]): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set(rgba, i * 4);
  return encodePng({ width: w, height: h, data, channels: 4, depth: 8 });
}

function jpg(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 95).data);
}

const pixel = (images: Float32Array, index: number, size: number, channels: number) =>
  Array.from(images.subarray(index * size * size * channels, index * size * size * channels + channels), (v) =>
    Math.round((v + 1) * 127.5),
  );

describe('data specs', () => {
  it('parses mnist, twemoji and folder:<path>, and names what is wrong otherwise', () => {
    expect(parseDataSpec('mnist')).toEqual({ kind: 'mnist' });
    expect(parseDataSpec('folder:/x/y')).toEqual({ kind: 'folder', path: '/x/y' });
    expect(() => parseDataSpec('cifar')).toThrow(DataSpecError);
    expect(() => parseDataSpec('folder:')).toThrow(DataSpecError);
  });
});

describe('mnist', () => {
  it('gives 10 labelled classes of 32x32 digits in [-1, 1], padded black, cached for the next run', async () => {
    const all = await loadDataset('mnist', { imageSize: 32, cacheDir });
    expect(all.fromCache).toBe(false);
    expect(all.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(all.channels).toBe(1);
    expect(all.count).toBeGreaterThan(9900);
    expect(all.images.length).toBe(all.count * 32 * 32);
    expect(Math.min(...all.images.subarray(0, 32 * 32))).toBe(-1);
    expect(Math.max(...all.images.subarray(0, 32 * 32))).toBeGreaterThan(0.9);
    // The 2-pixel border added to the 28x28 digits is background.
    expect(pixel(all.images, 0, 32, 1)).toEqual([0]);
    const again = await loadDataset('mnist', { imageSize: 32, cacheDir });
    expect(again.fromCache).toBe(true);
    const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(again.images).equals(bytes(all.images))).toBe(true);
    expect(bytes(again.labels).equals(bytes(all.labels))).toBe(true);
  });

  it('splits train and held-out deterministically: last 10 % of each class, disjoint, together everything', async () => {
    const train = await loadDataset('mnist', { imageSize: 16, split: 'train', cacheDir });
    const heldout = await loadDataset('mnist', { imageSize: 16, split: 'heldout', cacheDir });
    const all = await loadDataset('mnist', { imageSize: 16, split: 'all', cacheDir });
    expect(train.count + heldout.count).toBe(all.count);
    for (let c = 0; c < 10; c++) {
      const inClass = Array.from(all.labels).filter((l) => l === c).length;
      expect(Array.from(heldout.labels).filter((l) => l === c).length).toBe(Math.floor(inClass / 10));
    }
    expect(splitIndices([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1], 'heldout')).toEqual([9]);
    // The first held-out image is the last 10 % of class 0, not a training image.
    const size = 16 * 16;
    const firstHeld = heldout.images.subarray(0, size);
    const indexInAll = splitIndices(all.labels, 'heldout')[0];
    expect(Array.from(firstHeld)).toEqual(Array.from(all.images.subarray(indexInAll * size, (indexInAll + 1) * size)));
  });
});

describe('folder:<path>', () => {
  it('reads PNG and JPEG, sub-folders as classes, centre-crops, resizes, composites alpha on the background', async () => {
    const dir = path.join(root, 'shapes');
    await mkdir(path.join(dir, 'red'), { recursive: true });
    await mkdir(path.join(dir, 'blue'), { recursive: true });
    await writeFile(path.join(dir, 'red', 'a.png'), png(40, 20, [255, 0, 0, 255]));
    await writeFile(path.join(dir, 'red', 'b.jpg'), jpg(16, 16, [250, 0, 0]));
    await writeFile(path.join(dir, 'blue', 'c.png'), png(16, 16, [0, 0, 255, 0])); // fully transparent (images are never enlarged)
    await writeFile(path.join(dir, 'blue', 'notes.txt'), 'not an image');
    const data = await loadDataset(`folder:${dir}`, { imageSize: 16, cacheDir, background: '#00ff00' });
    expect(data.classNames).toEqual(['blue', 'red']);
    expect(Array.from(data.labels)).toEqual([0, 1, 1]);
    expect(data.channels).toBe(3);
    expect(pixel(data.images, 0, 16, 3)).toEqual([0, 255, 0]); // transparent → background
    expect(pixel(data.images, 1, 16, 3)).toEqual([255, 0, 0]);
    const jpegRed = pixel(data.images, 2, 16, 3);
    expect(jpegRed[0]).toBeGreaterThan(230);
    expect(jpegRed[2]).toBeLessThan(25);
    expect(data.licence.licence).toBe('unknown');
    const grey = await loadDataset(`folder:${dir}`, { imageSize: 8, channels: 1, labels: false, cacheDir });
    expect(grey.classNames).toEqual([]);
    expect(grey.images.length).toBe(3 * 8 * 8);
  });

  it('resizes by area average when shrinking and keeps constant images constant', () => {
    const src = Float32Array.from({ length: 4 * 4 }, (_, i) => (i % 2 ? 255 : 0)); // columns alternate
    expect(Array.from(resizeSquare(src, 4, 2, 1))).toEqual([127.5, 127.5, 127.5, 127.5]);
    const flat = new Float32Array(5 * 5).fill(80);
    for (const v of resizeSquare(flat, 5, 16, 1)) expect(v).toBeCloseTo(80, 4);
  });

  it('fails clearly on a missing or empty folder', async () => {
    await expect(loadDataset(`folder:${path.join(root, 'nope')}`, { imageSize: 16, cacheDir })).rejects.toThrow(/cannot be read/);
    await mkdir(path.join(root, 'empty'));
    await expect(loadDataset(`folder:${path.join(root, 'empty')}`, { imageSize: 16, cacheDir })).rejects.toThrow(/no PNG or JPEG/);
  });
});

describe('twemoji', () => {
  it('reads the package layout (emoji.json + img/twitter/64), categories as labels, CC-BY attribution', async () => {
    // The real package is 62 MB and installed on demand; its layout is reproduced here.
    const pkg = path.join(root, 'emoji-datasource-twitter');
    await mkdir(path.join(pkg, 'img', 'twitter', '64'), { recursive: true });
    await writeFile(path.join(pkg, 'package.json'), JSON.stringify({ version: '16.0.0' }));
    await writeFile(
      path.join(pkg, 'emoji.json'),
      JSON.stringify([
        { image: '1f600.png', category: 'Smileys & Emotion', has_img_twitter: true, sort_order: 1 },
        { image: '1f436.png', category: 'Animals & Nature', has_img_twitter: true, sort_order: 2 },
        { image: '1f3f3.png', category: 'Flags', has_img_twitter: false, sort_order: 3 },
      ]),
    );
    await writeFile(path.join(pkg, 'img', 'twitter', '64', '1f600.png'), png(64, 64, [255, 200, 0, 255]));
    await writeFile(path.join(pkg, 'img', 'twitter', '64', '1f436.png'), png(64, 64, [0, 0, 0, 0]));
    const data = await loadDataset('twemoji', { imageSize: 32, cacheDir: path.join(root, 'cache-emoji'), twemojiDir: pkg });
    expect(data.count).toBe(2);
    expect(data.classNames).toEqual(['Smileys & Emotion', 'Animals & Nature']);
    expect(Array.from(data.labels)).toEqual([0, 1]);
    expect(pixel(data.images, 0, 32, 3)).toEqual([255, 200, 0]);
    expect(pixel(data.images, 1, 32, 3)).toEqual([255, 255, 255]); // transparent on the default white
    expect(data.licence.licence).toBe('CC-BY-4.0');
    expect(data.licence.attribution).toMatch(/Twemoji.*CC-BY 4\.0/);
  });
});
