/**
 * Writes tests/trainer/fixtures/upscaler-pairs/: two real training pairs of the upscaler (twemoji's
 * alien, CC BY 4.0, Twitter; noto's dove, Apache-2.0, Google), each icon as resvg renders it at
 * 32 px for the emoji model and at 128 px (trainer/src/upscale/pairs.ts), as PNG.
 *
 *   node --import tsx tests/helpers/make-upscaler-pairs-fixture.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng } from '@gan/core';
import { loadEmojiPairs } from '@gan/trainer/upscale/pairs';

const OUT = path.resolve('tests/trainer/fixtures/upscaler-pairs');
const NAMES = [
  [0, 'alien'],
  [1, 'dove'],
] as const;

const pairs = await loadEmojiPairs({ size: 32, log: console.log });
mkdirSync(OUT, { recursive: true });
for (const [style, name] of NAMES) {
  const index = pairs.icons.findIndex((icon) => icon.style === style && icon.name === name && !icon.heldOut);
  if (index < 0) throw new Error(`no training icon ${name} in style ${style}`);
  for (const scale of [1, 4] as const) {
    const size = scale * pairs.size;
    const len = size * size * 3;
    const pixels = pairs.pixels[scale].subarray(index * len, (index + 1) * len);
    writeFileSync(path.join(OUT, `${name}-${size}.png`), encodePng(size, size, 3, pixels));
  }
}
