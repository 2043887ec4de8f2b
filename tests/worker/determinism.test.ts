import { env } from 'cloudflare:workers';
import UPNG from 'upng-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { publishFixture, publishStandardFixtures } from './fixtures.ts';
import { CLASS_BATCH_NORM_FIXTURE, FLOAT16_FIXTURE, GOLDEN, GOLDEN_CLASS_BATCH_NORM, GOLDEN_FLOAT16 } from './golden.ts';
import { get, png, sha256 } from './helpers.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
  await publishFixture(env.MODELS_BUCKET, FLOAT16_FIXTURE);
  await publishFixture(env.MODELS_BUCKET, CLASS_BATCH_NORM_FIXTURE);
});

/** Channels of an 8-bit PNG colour type: grey, RGB, grey + alpha, RGBA (no palettes here). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * The pixels as UPNG (its own chunk parser and unfiltering, pako's inflate) reads them, with the
 * channels the file declares: a second opinion on bytes the tests otherwise decode with fast-png, the
 * library on the encoding side too.
 */
function decodeIndependently(bytes: Uint8Array) {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const image = UPNG.decode(buffer);
  const channels = CHANNELS[image.ctype];
  const rgba = new Uint8Array(UPNG.toRGBA8(image)[0]);
  const data = new Uint8Array(image.width * image.height * channels);
  for (let p = 0; p < image.width * image.height; p++) {
    if (channels === 1 || channels === 2) data[p * channels] = rgba[p * 4];
    else for (let c = 0; c < 3; c++) data[p * channels + c] = rgba[p * 4 + c];
    if (channels === 2 || channels === 4) data[p * channels + channels - 1] = rgba[p * 4 + 3];
  }
  return { width: image.width, height: image.height, depth: image.depth, channels, data };
}

describe('determinism in a fresh isolate', () => {
  it.each([...GOLDEN, ...GOLDEN_FLOAT16, ...GOLDEN_CLASS_BATCH_NORM])('%s has the pinned bytes', async (path, expected) => {
    const response = await get(path);
    expect(response.headers.get('X-Cache')).toBe('MISS'); // rendered here, not replayed
    const { bytes, image } = await png(response);
    expect(await sha256(bytes)).toBe(expected);
    // The pinned bytes are a PNG to another decoder too, with the same size, channels and pixels.
    const second = decodeIndependently(bytes);
    expect({ ...second, data: undefined }).toEqual({
      width: image.width,
      height: image.height,
      depth: 8,
      channels: image.channels,
      data: undefined,
    });
    expect(second.data).toEqual(new Uint8Array(image.data));
    expect(new Set(second.data).size).toBeGreaterThan(10); // a generated picture, not a blank
  });
});
