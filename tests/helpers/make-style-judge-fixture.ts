/**
 * Writes tests/trainer/style-judge-fixture/held-out-32.png: a fixed sample of the style judge's held-out
 * renders (style-data.ts), ten per style, one style per row in class order, each row the style's
 * held-out icons first in order of the sha256 of their names. Run once when the split or the renders
 * change (never when only the judge does):
 *
 *   node --import tsx tests/helpers/make-style-judge-fixture.ts
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodePng } from '@gan/core';
import { loadStyleData } from '@gan/trainer/evaluate/style-data';

export const PER_STYLE = 10;
const SIZE = 32;

const data = await loadStyleData({ imageSize: SIZE });
const key = (name: string) => createHash('sha256').update(name).digest('hex');
const width = PER_STYLE * SIZE;
const rows = data.classNames.length;
const out = new Uint8Array(width * rows * SIZE * 3);
const names: string[][] = [];
for (let style = 0; style < rows; style++) {
  const chosen = data.icons
    .map((icon, index) => ({ icon, index }))
    .filter(({ icon }) => icon.style === style && icon.heldOut)
    .sort((a, b) => (key(a.icon.name) < key(b.icon.name) ? -1 : 1))
    .slice(0, PER_STYLE);
  names.push(chosen.map((c) => c.icon.name));
  chosen.forEach(({ index }, col) => {
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++)
        for (let c = 0; c < 3; c++)
          out[((style * SIZE + y) * width + col * SIZE + x) * 3 + c] = data.pixels[((index * SIZE + y) * SIZE + x) * 3 + c];
  });
}
const dir = path.resolve('tests/trainer/style-judge-fixture');
await writeFile(path.join(dir, 'held-out-32.png'), encodePng(width, rows * SIZE, 3, out));
await writeFile(
  path.join(dir, 'held-out-32.json'),
  `${JSON.stringify({ classNames: data.classNames, perStyle: PER_STYLE, names }, null, 2)}\n`,
);
