/**
 * One image file of a user's folder → 8-bit RGBA, or the reason it cannot be used, in words a user
 * can act on (never the decoder's own message). Also says which conversions the file needed, so the
 * folder report can name each kind once: 16-bit and palette PNGs, greyscale, CMYK JPEGs, transparency.
 *
 * JPEGs are turned upright as their EXIF orientation tag says, as viewers show them.
 *
 * Decoders: fast-png (every PNG colour type and depth) and jpeg-js (baseline and progressive JPEG;
 * greyscale, YCbCr, RGB and Adobe CMYK/YCCK). CMYK is converted without a colour profile
 * (R = 255 − min(255, C·(1 − K/255) + K), likewise G and B), so colours can differ slightly from a
 * colour-managed viewer's.
 */
import { hasPngSignature } from 'fast-png';
import { type Rgba, decodeImage } from './pixels.ts';

/** A conversion a file needed; the folder report lists each kind once with its count. */
export type Conversion = '16-bit PNG' | 'palette PNG' | 'greyscale' | 'CMYK JPEG' | 'turned upright (EXIF orientation)' | 'transparency';

export type ImageFileResult = { ok: true; image: Rgba; conversions: Conversion[] } | { ok: false; reason: string };

/** What other formats' first bytes look like, to name them when refused. */
const OTHER_FORMATS: [string, (b: Uint8Array) => boolean][] = [
  ['a GIF image', (b) => ascii(b, 0, 4) === 'GIF8'],
  ['a WebP image', (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP'],
  ['a BMP image', (b) => ascii(b, 0, 2) === 'BM'],
  ['a TIFF image', (b) => ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*'],
  ['a HEIC/AVIF image', (b) => ascii(b, 4, 4) === 'ftyp'],
  ['an SVG drawing', (b) => /<svg[\s>]/.test(ascii(b, 0, Math.min(b.length, 512)))],
];

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** A JPEG's frame header: coding (SOF marker), component count, and whether an Adobe APP14 marker is present. */
interface JpegHeader {
  sof: number;
  components: number;
  adobe: boolean;
}

/** Reads the markers up to the first frame header (SOFn); undefined when there is none. */
function jpegHeader(b: Uint8Array): JpegHeader | undefined {
  let adobe = false;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const length = (b[i + 2] << 8) | b[i + 3];
    if (marker === 0xee && ascii(b, i + 4, 5) === 'Adobe') adobe = true;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return i + 9 < b.length ? { sof: marker, components: b[i + 9], adobe } : undefined;
    if (marker === 0xda) return undefined; // scan before any frame header
    i += 2 + length;
  }
  return undefined;
}

/**
 * The EXIF orientation (1–8) of a JPEG's APP1 segment, 1 when there is none: cameras store pictures as
 * the sensor saw them and say in this tag how to turn them upright.
 */
function exifOrientation(b: Uint8Array): number {
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    const length = (b[i + 2] << 8) | b[i + 3];
    if (marker === 0xda) break;
    if (marker === 0xe1 && ascii(b, i + 4, 6) === 'Exif\0\0') {
      const tiff = i + 10;
      const little = ascii(b, tiff, 2) === 'II';
      const u16 = (o: number) => (little ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
      const u32 = (o: number) => (little ? u16(o) | (u16(o + 2) << 16) : (u16(o) << 16) | u16(o + 2)) >>> 0;
      const ifd = tiff + u32(tiff + 4);
      if (ifd + 2 > b.length) return 1;
      for (let e = 0, n = u16(ifd); e < n && ifd + 2 + e * 12 + 12 <= b.length; e++) {
        const entry = ifd + 2 + e * 12;
        if (u16(entry) === 0x0112) {
          const value = u16(entry + 8);
          return value >= 1 && value <= 8 ? value : 1;
        }
      }
      return 1;
    }
    i += 2 + length;
  }
  return 1;
}

/** The picture turned as EXIF orientation `o` says (2–8: mirrored and/or rotated). */
function applyOrientation(img: Rgba, o: number): Rgba {
  const { width: w, height: h } = img;
  const swap = o >= 5;
  const [ow, oh] = swap ? [h, w] : [w, h];
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      // Source pixel of output (x, y) for each orientation (TIFF 6.0 / EXIF 2.3, tag 0x0112).
      const [sx, sy] =
        o === 2
          ? [w - 1 - x, y]
          : o === 3
            ? [w - 1 - x, h - 1 - y]
            : o === 4
              ? [x, h - 1 - y]
              : o === 5
                ? [y, x]
                : o === 6
                  ? [y, h - 1 - x]
                  : o === 7
                    ? [w - 1 - y, h - 1 - x]
                    : [w - 1 - y, x]; // 8
      out.set(img.data.subarray((sy * w + sx) * 4, (sy * w + sx) * 4 + 4), (y * ow + x) * 4);
    }
  return { width: ow, height: oh, data: out };
}

/** Whether the JPEG ends with its end-of-image marker (ignoring trailing zero padding). */
function jpegComplete(b: Uint8Array): boolean {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return end >= 2 && b[end - 2] === 0xff && b[end - 1] === 0xd9;
}

/** Whether a PNG has its IEND chunk (a file cut short loses it). */
function pngComplete(b: Uint8Array): boolean {
  return b.length >= 12 && ascii(b, b.length - 8, 4) === 'IEND';
}

function hasTransparency(img: Rgba): boolean {
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] < 255) return true;
  return false;
}

function readPng(bytes: Uint8Array): ImageFileResult {
  if (!pngComplete(bytes)) return { ok: false, reason: 'the PNG is truncated (it ends before its last chunk): copy or export it again' };
  let image: Rgba;
  try {
    image = decodeImage(bytes);
  } catch {
    return { ok: false, reason: 'the PNG is damaged (its data cannot be decoded): copy or export it again' };
  }
  // IHDR (always the first chunk): bit depth at byte 24, colour type at 25 (0 grey, 3 palette, 4 grey + alpha).
  const [depth, colourType] = [bytes[24], bytes[25]];
  const conversions: Conversion[] = [];
  if (depth === 16) conversions.push('16-bit PNG');
  if (colourType === 3) conversions.push('palette PNG');
  if (colourType === 0 || colourType === 4) conversions.push('greyscale');
  if (hasTransparency(image)) conversions.push('transparency');
  return { ok: true, image, conversions };
}

function readJpeg(bytes: Uint8Array): ImageFileResult {
  const header = jpegHeader(bytes);
  if (!header) return { ok: false, reason: 'the JPEG is damaged (no frame header before its image data)' };
  if (header.sof >= 0xc9) return { ok: false, reason: 'arithmetic-coded JPEGs are not read: save it again as an ordinary JPEG or PNG' };
  if (header.sof === 0xc3 || header.sof === 0xc7) return { ok: false, reason: 'lossless JPEGs are not read: save it again as PNG' };
  if (header.components === 4 && !header.adobe)
    return { ok: false, reason: 'a CMYK JPEG without the Adobe marker (its colour transform is unknown): save it again as RGB' };
  if (![1, 3, 4].includes(header.components))
    return { ok: false, reason: `a JPEG with ${header.components} colour components is not read: save it again as RGB` };
  if (!jpegComplete(bytes)) return { ok: false, reason: 'the JPEG is truncated (it ends before its end marker): copy or export it again' };
  let image: Rgba;
  try {
    image = decodeImage(bytes);
  } catch {
    return { ok: false, reason: 'the JPEG is damaged (its data cannot be decoded): copy or export it again' };
  }
  const conversions: Conversion[] = [];
  if (header.components === 1) conversions.push('greyscale');
  if (header.components === 4) conversions.push('CMYK JPEG');
  const orientation = exifOrientation(bytes);
  if (orientation !== 1) {
    image = applyOrientation(image, orientation);
    conversions.push('turned upright (EXIF orientation)');
  }
  return { ok: true, image, conversions };
}

/** Decodes a file's bytes, or says in words why they cannot be used. */
export function readImageFile(bytes: Uint8Array): ImageFileResult {
  if (bytes.length === 0) return { ok: false, reason: 'the file is empty' };
  if (hasPngSignature(bytes)) return readPng(bytes);
  if (isJpeg(bytes)) return readJpeg(bytes);
  const other = OTHER_FORMATS.find(([, test]) => test(bytes));
  if (other) return { ok: false, reason: `${other[0]}, not PNG or JPEG: convert it to PNG` };
  return { ok: false, reason: 'not a PNG or JPEG image' };
}
