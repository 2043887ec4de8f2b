/**
 * core's colour quantiser gives exactly gifenc's palette and indices: a cached walk.gif is immutable,
 * so the faster search may not move one palette entry. gifenc itself is the oracle.
 */
import * as fc from 'fast-check';
import * as gifencModule from 'gifenc';
import { describe, expect, it } from 'vitest';
import { applyPaletteRgb, quantizeRgb } from '../../core/src/gif-palette.ts';

type Gifenc = typeof gifencModule.default;
const loaded = gifencModule as unknown as Gifenc & { default: Gifenc };
const gifenc: Gifenc = typeof loaded.GIFEncoder === 'function' ? loaded : loaded.default;

function rgba(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array((rgb.length / 3) * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) out.set([rgb[i], rgb[i + 1], rgb[i + 2], 255], j);
  return out;
}

function expectGifencs(rgb: Uint8Array) {
  const pixels = rgba(rgb);
  const palette = gifenc.quantize(pixels, 256, { format: 'rgb565' });
  const mine = quantizeRgb(rgb, 256);
  expect(mine).toEqual(palette);
  expect(applyPaletteRgb(rgb, mine)).toEqual(gifenc.applyPalette(pixels, palette, 'rgb565'));
}

/** A deterministic stream of bytes (xorshift32). */
function bytes(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 0xff;
  };
}

/** A small random picture enlarged bilinearly: smooth gradients, thousands of colours (like a 256-px walk frame). */
function enlarged(seed: number, small: number, size: number): Uint8Array {
  const next = bytes(seed);
  const src = Uint8Array.from({ length: small * small * 3 }, next);
  const out = new Uint8Array(size * size * 3);
  const scale = small / size;
  for (let y = 0; y < size; y++) {
    const sy = Math.max(0, Math.min(small - 1, (y + 0.5) * scale - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(small - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.max(0, Math.min(small - 1, (x + 0.5) * scale - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(small - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => src[(yy * small + xx) * 3 + c];
        const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
        const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        out[(y * size + x) * 3 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return out;
}

describe('quantizeRgb and applyPaletteRgb', () => {
  it("equal gifenc's on smooth pictures of thousands of colours", () => {
    expectGifencs(enlarged(1, 10, 112));
    expectGifencs(enlarged(2, 6, 128));
  });

  it("equal gifenc's on noise (the most bins) and on small frames", () => {
    const next = bytes(7);
    expectGifencs(Uint8Array.from({ length: 64 * 64 * 3 }, next));
    for (const seed of [4, 5, 6]) expectGifencs(enlarged(seed, 6, 32));
  });

  it("equal gifenc's where many merges tie: a lattice of equally common, equally spaced colours", () => {
    const lattice: number[] = [];
    for (let r = 0; r < 20; r++) for (let g = 0; g < 20; g++) for (let b = 0; b < 20; b++) lattice.push(12 * r + 4, 12 * g + 4, 12 * b + 4);
    expectGifencs(Uint8Array.from(lattice));
    // Colours one level apart share a bin or sit in neighbouring ones: merges of near-equal errors.
    const close: number[] = [];
    for (let i = 0; i < 4096; i++) close.push(100 + (i % 16), 100 + ((i >> 4) % 16), 100 + (i >> 8));
    expectGifencs(Uint8Array.from(close));
  });

  it("equal gifenc's with fewer colours than the palette (no merge) and with one colour", () => {
    expectGifencs(Uint8Array.from({ length: 64 * 3 }, (_, i) => (i * 37) % 256));
    expectGifencs(new Uint8Array(16 * 16 * 3).fill(200));
  });

  it("equal gifenc's on random pictures", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 2, max: 24 }),
        fc.integer({ min: 8, max: 64 }),
        (seed, small, size) => {
          expectGifencs(enlarged(seed, small, size));
        },
      ),
      { numRuns: 30 },
    );
  });

  it("applyPaletteRgb equals gifenc's applyPalette on any palette, ties included", () => {
    const expectSame = (rgb: Uint8Array, palette: number[][]) => {
      expect(applyPaletteRgb(rgb, palette)).toEqual(gifenc.applyPalette(rgba(rgb), palette, 'rgb565'));
    };
    // Equally near colours on both sides in red, the last index nearest on the far side.
    expectSame(Uint8Array.of(16, 16, 16), [
      [32, 48, 16],
      [0, 16, 16],
      [32, 16, 16],
    ]);
    // Palette and pixels on small lattices, many pixels equally near two or more colours.
    const colour = (step: number, levels: number) =>
      fc.tuple(...[0, 1, 2].map(() => fc.integer({ min: 0, max: levels }).map((v) => v * step)));
    fc.assert(
      fc.property(
        fc.array(colour(16, 3), { minLength: 1, maxLength: 64 }),
        fc.array(colour(8, 6), { minLength: 1, maxLength: 200 }),
        (palette, pixels) => expectSame(Uint8Array.from(pixels.flat()), palette),
      ),
      { numRuns: 300 },
    );
  });
});
