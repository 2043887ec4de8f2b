/**
 * core's PNG encoder for small images (core/src/png.ts): the very bytes fast-png writes (the golden
 * bytes were made with it), and a valid PNG to two decoders that share no code with the encoder:
 * UPNG.js (pako's inflate) and a chunk reader on Node's zlib (inflate and CRC-32).
 */
import { crc32, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { encode as fastPngEncode } from 'fast-png';
import UPNG from 'upng-js';
import { describe, expect, it } from 'vitest';
import { encodePng } from '@gan/core/image';
import { encodeSmallPng } from '@gan/core/png';

/** Chunks of a PNG, each CRC checked with Node's zlib; then the rows inflated and unfiltered (filter 0 only). */
function readWithNodeZlib(png: Uint8Array) {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    expect(view.getUint32(at + 8 + length), `${type} CRC`).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
  const width = ihdr.getUint32(0);
  const height = ihdr.getUint32(4);
  const channels = { 0: 1, 2: 3 }[ihdr.getUint8(9)]!;
  expect(ihdr.getUint8(8)).toBe(8);
  const rows = inflateSync(chunks[1].data);
  const stride = width * channels;
  expect(rows.length).toBe((stride + 1) * height);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    expect(rows[y * (stride + 1)]).toBe(0);
    pixels.set(rows.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, pixels };
}

/** Byte equality that stays fast on large arrays (toEqual walks them element by element). */
function expectSame(actual: Uint8Array, expected: Uint8Array) {
  expect(actual.length).toBe(expected.length);
  expect(
    Buffer.compare(
      Buffer.from(actual.buffer, actual.byteOffset, actual.length),
      Buffer.from(expected.buffer, expected.byteOffset, expected.length),
    ),
  ).toBe(0);
}

function image(size: number, channels: 1 | 3, seed: number): Uint8Array {
  const data = new Uint8Array(size * size * channels);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = i % 5 === 0 ? s >>> 24 : (i * 7) & 0xff; // some noise, some runs for deflate to find
  }
  return data;
}

describe('PNG encoding for small images', () => {
  it.each([
    [1, 1, 1],
    [16, 3, 2],
    [32, 1, 3],
    [32, 3, 4],
    [128, 3, 5],
    [300, 1, 6],
  ] as const)("%i px, %i channel(s): fast-png's bytes, read back by UPNG and by Node zlib", (size, channels, seed) => {
    const data = image(size, channels, seed);
    const png = encodeSmallPng(size, size, channels, data);
    expectSame(png, fastPngEncode({ width: size, height: size, data, channels, depth: 8 }));
    expectSame(encodePng(size, size, channels, data), png); // what core renders with

    const upng = UPNG.decode(png.buffer);
    expect([upng.width, upng.height, upng.depth, upng.ctype]).toEqual([size, size, 8, channels === 1 ? 0 : 2]);
    expectSame(new Uint8Array(upng.data as ArrayBuffer).subarray(0, data.length), data);

    const read = readWithNodeZlib(png);
    expect([read.width, read.height, read.channels]).toEqual([size, size, channels]);
    expectSame(read.pixels, data);
  });

  it('non-square images and any pixels: the same bytes as fast-png', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(1 as const, 3 as const),
        fc.integer(),
        (w, h, c, seed) => {
          const data = image(Math.max(w, h), c, seed).subarray(0, w * h * c);
          const png = encodeSmallPng(w, h, c, data);
          expect(png).toEqual(fastPngEncode({ width: w, height: h, data, channels: c, depth: 8 }));
          expect(readWithNodeZlib(png).pixels).toEqual(data);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses pixels that do not fill the image', () => {
    expect(() => encodeSmallPng(4, 4, 3, new Uint8Array(47))).toThrow(RangeError);
  });
});
