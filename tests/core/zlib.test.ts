/**
 * core/src/zlib.ts against the library it was ported from: fflate's zlibSync gives the bytes every
 * served image is pinned to, so the port must give the same bytes for any data, at any length, in any
 * order of calls (its tables are kept between calls), and the streams must inflate back.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decode } from 'fast-png';
import { unzlibSync, zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { zlibCompress } from '@gan/core/zlib';

/** Seeded bytes: `kind` shapes them like the data PNG rows hold (noise, flat runs, gradients, few colours). */
function bytes(length: number, seed: number, kind: 'noise' | 'runs' | 'gradient' | 'palette'): Uint8Array {
  let s = seed * 2654435761 + 1;
  const next = () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    return (s >>> 8) / (1 << 24);
  };
  const out = new Uint8Array(length);
  let run = 0;
  let value = 0;
  for (let i = 0; i < length; i++) {
    if (kind === 'noise') out[i] = next() * 256;
    else if (kind === 'gradient') out[i] = (i * 3 + Math.floor(next() * 4)) & 255;
    else if (kind === 'palette') out[i] = [0, 17, 200, 255][Math.floor(next() * 4)];
    else {
      if (run-- <= 0) {
        run = Math.floor(next() * 300);
        value = next() < 0.6 ? 0 : Math.floor(next() * 256);
      }
      out[i] = value;
    }
  }
  return out;
}

const same = (data: Uint8Array, level = 3) =>
  Buffer.from(zlibCompress(data, level)).equals(Buffer.from(zlibSync(data, { level: level as 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 })));

describe('zlibCompress', () => {
  it("gives fflate's zlibSync bytes for every kind of data at lengths from 0 to 70 000", () => {
    const lengths = [0, 1, 2, 3, 4, 5, 7, 31, 256, 1056, 2980, 2981, 3104, 4096, 12_352, 24_577, 33_000, 49_280, 70_000];
    let seed = 1;
    for (const length of lengths) {
      for (const kind of ['noise', 'runs', 'gradient', 'palette'] as const) {
        const data = bytes(length, seed++, kind);
        expect(same(data), `${kind}, ${length} bytes`).toBe(true);
      }
    }
  });

  it('gives the same bytes whatever was compressed before (its tables are kept between calls)', () => {
    const small = bytes(1056, 99, 'runs');
    const expected = zlibSync(small, { level: 3 });
    for (const before of [bytes(70_000, 1, 'palette'), bytes(40_000, 2, 'runs'), new Uint8Array(0), bytes(3104, 3, 'noise')]) {
      zlibCompress(before, 3);
      expect(Buffer.from(zlibCompress(small, 3)).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('gives the same bytes at every level, and inflates back', () => {
    const data = bytes(5000, 7, 'gradient');
    for (let level = 1; level <= 9; level++) {
      expect(same(data, level), `level ${level}`).toBe(true);
      expect(Buffer.from(unzlibSync(zlibCompress(data, level))).equals(Buffer.from(data))).toBe(true);
    }
    expect(() => zlibCompress(data, 0)).toThrow(RangeError);
  });

  it('gives the same bytes on the rows of the shipped sample images (real generator output)', () => {
    for (const model of ['mnist', 'emoji', 'twemoji']) {
      const png = decode(readFileSync(path.resolve(import.meta.dirname, `../../models/${model}/sample.png`)));
      const stride = png.width * png.channels;
      const pixels = png.data as Uint8Array;
      // The PNG encoder's layout: each row a filter byte 0, then its bytes; whole grid, and one 32-px cell.
      for (const [rows, width] of [
        [png.height, stride],
        [32, 32 * png.channels],
      ]) {
        const data = new Uint8Array((width + 1) * rows);
        for (let y = 0; y < rows; y++) data.set(pixels.subarray(y * stride, y * stride + width), y * (width + 1) + 1);
        expect(same(data), `${model}, ${rows} rows of ${width} bytes`).toBe(true);
      }
    }
  });
});
