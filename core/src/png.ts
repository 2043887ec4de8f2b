/**
 * PNG encoding made for the small images this project serves (a 32-pixel image is 1–3 KB of pixels):
 * the same bytes fast-png writes (signature, IHDR, one IDAT of rows with filter byte 0 deflated by
 * fflate's zlibSync at level 3, IEND), without its general-purpose byte-at-a-time buffer, and with
 * fflate's deflate run by zlib.ts (the same bytes, its tables allocated once, not per image). The rows go
 * into one preallocated buffer by block copies and the chunks' CRCs come from a typed table built
 * once. tests/core/png.test.ts checks the bytes against fast-png and decodes them with two other
 * decoders.
 */
import { zlibCompress } from './zlib.ts';

/** fast-png's default: the level every image of this project has been compressed with. */
const ZLIB_LEVEL = 3;
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOUR_TYPE = { 1: 0, 3: 2 } as const; // greyscale, RGB

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** PNG bytes of a greyscale (1 channel) or RGB (3) 8-bit image, `data` row-major with channels interleaved. */
export function encodeSmallPng(width: number, height: number, channels: 1 | 3, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const stride = width * channels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== stride * height) {
    throw new RangeError(`${width}x${height}x${channels} pixels need ${stride * height} bytes, got ${data.length}`);
  }
  const rows = new Uint8Array((stride + 1) * height); // each row: filter type 0, then its bytes
  for (let y = 0; y < height; y++) rows.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const idat = zlibCompress(rows, ZLIB_LEVEL);

  const out = new Uint8Array(8 + 25 + 12 + idat.length + 12);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  let at = 8;
  const chunk = (type: string, length: number, body: (at: number) => void) => {
    view.setUint32(at, length);
    for (let i = 0; i < 4; i++) out[at + 4 + i] = type.charCodeAt(i);
    body(at + 8);
    view.setUint32(at + 8 + length, crc32(out, at + 4, at + 8 + length));
    at += 12 + length;
  };
  chunk('IHDR', 13, (p) => {
    view.setUint32(p, width);
    view.setUint32(p + 4, height);
    out[p + 8] = 8; // bit depth
    out[p + 9] = COLOUR_TYPE[channels];
    // compression 0 (deflate), filter method 0 (adaptive), interlace 0: already zero
  });
  chunk('IDAT', idat.length, (p) => out.set(idat, p));
  chunk('IEND', 0, () => {});
  return out;
}
