/**
 * Decoded pictures → square 8-bit images of one size and channel count, ready to be stacked into a
 * data set. Decoding uses fast-png and jpeg-js; the geometry (centre crop, resize) is plain code.
 */
import { convertIndexedToRgb, decode as decodePng, hasPngSignature } from 'fast-png';
import jpeg from 'jpeg-js';

/** An 8-bit RGBA picture of any size. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array; // [height, width, 4]
}

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/** Decodes PNG (any colour type or depth) or JPEG bytes to 8-bit RGBA. */
export function decodeImage(bytes: Uint8Array, label = 'image'): Rgba {
  try {
    if (hasPngSignature(bytes)) return pngToRgba(bytes);
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new ImageDecodeError(`${label}: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw new ImageDecodeError(`${label}: neither PNG nor JPEG`);
}

function pngToRgba(bytes: Uint8Array): Rgba {
  const png = decodePng(bytes);
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png); // RGB or RGBA, 8-bit
    const c = rgb.length / n;
    for (let i = 0; i < n; i++) {
      out[i * 4] = rgb[i * c];
      out[i * 4 + 1] = rgb[i * c + 1];
      out[i * 4 + 2] = rgb[i * c + 2];
      out[i * 4 + 3] = c === 4 ? rgb[i * c + 3] : 255;
    }
    return { width, height, data: out };
  }
  const c = png.channels;
  const shift = png.depth === 16 ? 8 : 0;
  const scale = png.depth < 8 ? 255 / ((1 << png.depth) - 1) : 1;
  const v = (i: number) => (shift ? png.data[i] >> shift : Math.round(png.data[i] * scale));
  for (let i = 0; i < n; i++) {
    const grey = c <= 2;
    out[i * 4] = v(i * c);
    out[i * 4 + 1] = grey ? v(i * c) : v(i * c + 1);
    out[i * 4 + 2] = grey ? v(i * c) : v(i * c + 2);
    out[i * 4 + 3] = c === 2 ? v(i * c + 1) : c === 4 ? v(i * c + 3) : 255;
  }
  return { width, height, data: out };
}

/** A background colour as [r, g, b] from 'white', 'black' or '#rrggbb'. */
export function parseBackground(value: string): [number, number, number] {
  if (value === 'white') return [255, 255, 255];
  if (value === 'black') return [0, 0, 0];
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(value);
  if (!m) throw new RangeError(`background must be white, black or #rrggbb, not ${value}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/**
 * RGBA → square image of `size` pixels with `channels` channels: composited over `background`,
 * centre-cropped to a square, then resized (area average when shrinking, bilinear when growing).
 */
export function toSquare(img: Rgba, size: number, channels: 1 | 3, background: [number, number, number] = [255, 255, 255]): Uint8Array {
  const side = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - side) / 2);
  const y0 = Math.floor((img.height - side) / 2);
  const flat = new Float32Array(side * side * channels);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const s = ((y + y0) * img.width + x + x0) * 4;
      const a = img.data[s + 3] / 255;
      const r = img.data[s] * a + background[0] * (1 - a);
      const g = img.data[s + 1] * a + background[1] * (1 - a);
      const b = img.data[s + 2] * a + background[2] * (1 - a);
      const d = (y * side + x) * channels;
      if (channels === 1) flat[d] = 0.299 * r + 0.587 * g + 0.114 * b;
      else [flat[d], flat[d + 1], flat[d + 2]] = [r, g, b];
    }
  const resized = resizeSquare(flat, side, size, channels);
  const out = new Uint8Array(resized.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(resized[i])));
  return out;
}

/** Resizes a square [S, S, C] float image to [size, size, C]. */
export function resizeSquare(src: Float32Array, from: number, to: number, channels: number): Float32Array {
  if (from === to) return src;
  // Separable: rows then columns, with one 1-D resampling matrix.
  const weights = from > to ? areaWeights(from, to) : bilinearWeights(from, to);
  const tmp = new Float32Array(from * to * channels); // [from rows, to cols]
  for (let y = 0; y < from; y++)
    for (let x = 0; x < to; x++)
      for (const [sx, w] of weights[x])
        for (let c = 0; c < channels; c++) tmp[(y * to + x) * channels + c] += src[(y * from + sx) * channels + c] * w;
  const out = new Float32Array(to * to * channels);
  for (let y = 0; y < to; y++)
    for (const [sy, w] of weights[y])
      for (let x = 0; x < to; x++)
        for (let c = 0; c < channels; c++) out[(y * to + x) * channels + c] += tmp[(sy * to + x) * channels + c] * w;
  return out;
}

/** For each output index, the source indices and weights covering it (box filter, exact coverage). */
function areaWeights(from: number, to: number): [number, number][][] {
  const ratio = from / to;
  return Array.from({ length: to }, (_, i) => {
    const start = i * ratio;
    const end = start + ratio;
    const taps: [number, number][] = [];
    for (let s = Math.floor(start); s < Math.ceil(end); s++) {
      const cover = Math.min(end, s + 1) - Math.max(start, s);
      if (cover > 1e-9) taps.push([s, cover / ratio]);
    }
    return taps;
  });
}

/** Bilinear interpolation with half-pixel centres, edges clamped. */
function bilinearWeights(from: number, to: number): [number, number][][] {
  return Array.from({ length: to }, (_, i) => {
    const pos = Math.min(from - 1, Math.max(0, (i + 0.5) * (from / to) - 0.5));
    const lo = Math.floor(pos);
    const hi = Math.min(from - 1, lo + 1);
    const t = pos - lo;
    return hi === lo
      ? [[lo, 1]]
      : [
          [lo, 1 - t],
          [hi, t],
        ];
  });
}
