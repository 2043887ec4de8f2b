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
  const data = tf.tidy(() => {
    let x: tf.Tensor4D = images;
    if (target !== native) {
      x =
        filter === 'nearest'
          ? tf.image.resizeNearestNeighbor(x, [target, target], false, true)
          : tf.image.resizeBilinear(x, [target, target], false, true);
    }
    return tf.cast(tf.clipByValue(tf.round(tf.mul(tf.add(x, 1), 127.5)), 0, 255), 'int32');
  });
  const bytes = Uint8Array.from(data.dataSync());
  data.dispose();
  return { count, size: target, channels: channels as 1 | 3, data: bytes };
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
