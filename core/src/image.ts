/**
 * Generated tensors → pictures: scaling from [-1, 1] to bytes, resizing, grids and PNG encoding.
 * Everything here is deterministic, so the same latents always give byte-identical PNGs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { encodeSmallPng } from './png.ts';

export type ResizeFilter = 'bilinear' | 'nearest';

/** 8-bit pixels of N square images, row-major, channels interleaved. */
export interface PixelBatch {
  count: number;
  size: number;
  channels: 1 | 3;
  data: Uint8Array; // [count, size, size, channels]
}

/** [N, S, S, C] in [-1, 1] → bytes at `size` (resized with `filter` when it differs from S). */
export function toPixels(images: tf.Tensor4D, size?: number, filter: ResizeFilter = 'bilinear'): PixelBatch {
  const [count, native, , channels] = images.shape;
  const target = size ?? native;
  let values: Float32Array;
  if (target === native) {
    values = images.dataSync() as Float32Array;
  } else {
    const resized =
      filter === 'nearest'
        ? tf.image.resizeNearestNeighbor(images, [target, target], false, true)
        : tf.image.resizeBilinear(images, [target, target], false, true);
    values = resized.dataSync() as Float32Array;
    resized.dispose();
  }
  return { count, size: target, channels: channels as 1 | 3, data: quantise(values) };
}

/**
 * Floats in [-1, 1] → bytes: round((x + 1) · 127.5) clipped to [0, 255], computed as tfjs computes
 * `cast(clipByValue(round(mul(add(x, 1), 127.5)), 0, 255), 'int32')` on float32 tensors, which is how
 * every image of this project was made: each step rounded to float32 (Math.fround: a sum or product of
 * two float32s rounded to double and then to float32 is the float32 result), ties to even, NaN → 0.
 * In plain JavaScript it costs no tensor op per render; tests/core/image.test.ts checks it against the
 * tfjs ops around every rounding boundary.
 */
export function quantise(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.fround(Math.fround(values[i] + 1) * 127.5);
    let r = Math.round(v); // ties towards +∞ …
    if (r - v === 0.5 && r % 2 !== 0) r -= 1; // … made ties to even
    bytes[i] = r < 0 ? 0 : r > 255 ? 255 : r; // NaN stores as 0
  }
  return bytes;
}

/** One image of a batch as its own pixel buffer. */
export function pixelsOf(batch: PixelBatch, index: number): Uint8Array {
  const len = batch.size * batch.size * batch.channels;
  return batch.data.subarray(index * len, (index + 1) * len);
}

export interface GridLayout {
  rows: number;
  cols: number;
  /** Pixels between cells and around the edge. */
  padding: number;
  /** Padding colour, one byte (grey level). */
  background?: number;
}

/** Lays the batch out row by row as one image; returns its bytes and dimensions. */
export function composeGrid(batch: PixelBatch, layout: GridLayout): { width: number; height: number; data: Uint8Array } {
  const { rows, cols, padding } = layout;
  const { size, channels } = batch;
  const width = cols * size + (cols + 1) * padding;
  const height = rows * size + (rows + 1) * padding;
  const data = new Uint8Array(width * height * channels).fill(layout.background ?? 255);
  const rowBytes = size * channels;
  for (let i = 0; i < Math.min(batch.count, rows * cols); i++) {
    const top = padding + Math.floor(i / cols) * (size + padding);
    const left = padding + (i % cols) * (size + padding);
    const cell = pixelsOf(batch, i);
    for (let y = 0; y < size; y++) {
      data.set(cell.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * width + left) * channels);
    }
  }
  return { width, height, data };
}

/** PNG bytes of a greyscale or RGB 8-bit image. */
export function encodePng(width: number, height: number, channels: 1 | 3, data: Uint8Array): Uint8Array {
  // fast-png's bytes (the golden bytes were made with it), written without its general-purpose buffer.
  return encodeSmallPng(width, height, channels, data);
}
