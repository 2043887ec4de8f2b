/**
 * Floats → bytes in plain JavaScript (core/src/image.ts `quantise`) against the tfjs ops every image
 * of this project was made with, on the cpu and wasm backends: the values around every rounding
 * boundary, exact ties, the clipping edges, NaN and infinities, and random values.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { quantise, toPixels } from '@gan/core/image';
import { values } from './backend-compare.ts';

/** The pipeline's ops before `quantise` replaced them (tfjs, float32). */
function quantiseWithOps(x: Float32Array): Uint8Array {
  const bytes = tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.mul(tf.add(tf.tensor1d(x), 1), 127.5)), 0, 255), 'int32').dataSync());
  return Uint8Array.from(bytes);
}

/** Float32 values within `ulps` steps either side of `x`. */
function around(x: number, ulps: number): number[] {
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  const base = bits[0];
  const out: number[] = [];
  for (let d = -ulps; d <= ulps; d++) {
    bits[0] = x >= 0 ? base + d : base - d;
    out.push(f[0]);
  }
  return out;
}

/** Inputs whose (x + 1) · 127.5 lands on or next to every tie k + 0.5 and every clipping edge. */
function boundaryInputs(): Float32Array {
  const xs: number[] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1e-30, -1e-30];
  for (let k = -2; k <= 257; k++) {
    xs.push(...around((k + 0.5) / 127.5 - 1, 40));
    xs.push(...around(k / 127.5 - 1, 4));
  }
  // Exact ties, where the float32 arithmetic gives exactly k + 0.5.
  for (let k = 0; k <= 255; k++) {
    const x = Math.fround((k + 0.5) / 127.5 - 1);
    if (Math.fround(Math.fround(x + 1) * 127.5) === k + 0.5) xs.push(x);
  }
  return Float32Array.from(xs);
}

describe('quantise (floats in [-1, 1] → bytes)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`gives the bytes of the tfjs ops on ${backend}, around every rounding boundary and on random values`, async () => {
      await tf.setBackend(backend);
      const inputs = [boundaryInputs(), values(100_000, 7), Float32Array.from(values(20_000, 8), (v) => v * 1.2)];
      for (const x of inputs) expect(Buffer.from(quantise(x)).equals(Buffer.from(quantiseWithOps(x)))).toBe(true);
    });
  }

  it('rounds ties to even and clips, NaN to 0', () => {
    // Inputs whose float32 (x + 1) · 127.5 is exactly k + 0.5 (found around each tie) round to the even neighbour.
    const ties = Array.from(boundaryInputs()).filter((x) => Number.isFinite(x) && Math.fround(Math.fround(x + 1) * 127.5) % 1 === 0.5);
    expect(ties.length).toBeGreaterThan(100);
    for (const x of ties) {
      const v = Math.fround(Math.fround(x + 1) * 127.5);
      expect(quantise(Float32Array.of(x))[0]).toBe(Math.min(255, Math.max(0, Math.floor(v) % 2 === 0 ? Math.floor(v) : Math.ceil(v))));
    }
    expect(Array.from(quantise(Float32Array.from([-3, 3, Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY])))).toEqual([
      0, 255, 0, 0, 255,
    ]);
  });

  it('is what toPixels gives, resized or not, and toPixels leaves no tensor behind', async () => {
    await tf.setBackend('wasm');
    const images = tf.tensor4d(values(2 * 8 * 8 * 3, 9), [2, 8, 8, 3]);
    const before = tf.memory().numTensors;
    expect(Buffer.from(toPixels(images).data).equals(Buffer.from(quantiseWithOps(images.dataSync() as Float32Array)))).toBe(true);
    const resized = tf.image.resizeBilinear(images, [16, 16], false, true);
    expect(Buffer.from(toPixels(images, 16).data).equals(Buffer.from(quantiseWithOps(resized.dataSync() as Float32Array)))).toBe(true);
    resized.dispose();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });
});
