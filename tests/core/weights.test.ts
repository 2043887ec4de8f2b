/** core/src/weights.ts: shards decoded to plain arrays give tf.io.decodeWeights' values bit for bit. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { WeightsFormatError, decodeWeightArrays, decodeWeights, parseModelJson, shardPaths } from '@gan/core';

const models = fileURLToPath(new URL('../../models/', import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const bitsOf = (values: ArrayLike<number>) => new Uint32Array(Float32Array.from(values).buffer);

describe('decodeWeightArrays', () => {
  it.each(['emoji', 'mnist', 'twemoji', 'classifiers/emoji-style-32'])('gives %s the values tfjs decodes, bit for bit', async (name) => {
    const json = parseModelJson(readFileSync(`${models}${name}/model.json`, 'utf8'));
    const read = async (path: string) => new Uint8Array(readFileSync(`${models}${name}/${path}`)).buffer;
    expect(shardPaths(json).length).toBeGreaterThan(0);
    const arrays = await decodeWeightArrays(json, read);
    const tensors = await decodeWeights(json, read);
    expect(Object.keys(arrays).sort()).toEqual(Object.keys(tensors).sort());
    for (const [weight, t] of Object.entries(tensors)) {
      expect(arrays[weight].shape, weight).toEqual(t.shape);
      expect(Buffer.from(bitsOf(arrays[weight].data).buffer).equals(Buffer.from(bitsOf(t.dataSync()).buffer)), weight).toBe(true);
    }
    tf.dispose(Object.values(tensors));
  });

  it('decodes every float16 value as tfjs does: zeros, subnormals, normals, infinities (NaN stays NaN)', async () => {
    const json = parseModelJson(
      JSON.stringify({
        weightsManifest: [
          { paths: ['all'], weights: [{ name: 'h', shape: [65536], dtype: 'float32', quantization: { dtype: 'float16' } }] },
        ],
      }),
    );
    const halves = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const read = async () => halves.buffer;
    const ours = (await decodeWeightArrays(json, read)).h.data;
    const t = (await decodeWeights(json, read)).h;
    const theirs = t.dataSync();
    let nan = 0;
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(theirs[i])) {
        expect(Number.isNaN(ours[i]), `half ${i}`).toBe(true);
        nan++;
      } else if (!Object.is(ours[i], theirs[i])) expect(ours[i], `half ${i}`).toBe(theirs[i]);
    }
    expect(nan).toBe(2 * 1023); // both signs, every non-zero mantissa
    expect([ours[0x3c00], ours[0x0001], ours[0x7c00], ours[0xfc00]]).toEqual([
      1,
      2 ** -24,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(Object.is(ours[0x8000], -0)).toBe(true);
    t.dispose();
  });

  it('refuses shards of the wrong length and quantisations it does not read', async () => {
    const spec = (quantization?: object) =>
      parseModelJson(
        JSON.stringify({ weightsManifest: [{ paths: ['s'], weights: [{ name: 'w', shape: [4], dtype: 'float32', quantization }] }] }),
      );
    await expect(decodeWeightArrays(spec(), async () => new ArrayBuffer(12))).rejects.toThrow(/hold 12 bytes, model.json expects 16/);
    await expect(decodeWeightArrays(spec({ dtype: 'uint8', scale: 1, min: 0 }), async () => new ArrayBuffer(4))).rejects.toThrow(
      WeightsFormatError,
    );
  });
});
