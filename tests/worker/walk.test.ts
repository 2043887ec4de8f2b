/**
 * walk.gif and morph.png inside workerd: GIFs decoded by an independent decoder (omggif), the loop
 * extension, keys equal to the grid's cells, bounds refused before any work, caching and HEAD.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import type { ModelConfig } from '@gan/core';
import { GifReader } from 'omggif';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@gan/worker/app';
import { LIMITS } from '@gan/worker/validation';
import { publishFixture, publishStandardFixtures } from './fixtures.ts';
import { GOLDEN_WALKS } from './golden-walk.ts';
import { errorBody, get, png, sha256 } from './helpers.ts';

// A 64-pixel model: the generator bound allows 256 · 32² / 64² = 64 frames of it per walk.
const LARGE: ModelConfig = { imageSize: 64, channels: 3, latentSize: 8, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 };

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
  await publishFixture(env.MODELS_BUCKET, { name: 'large', version: 'v1', config: LARGE });
});

/** A walk.gif response, checked and decoded; frames as RGBA. */
async function gif(response: Response) {
  expect(response.status, response.status === 200 ? '' : JSON.stringify(await response.clone().json())).toBe(200);
  expect(response.headers.get('Content-Type')).toBe('image/gif');
  const bytes = new Uint8Array(await response.arrayBuffer());
  const reader = new GifReader(bytes);
  const frames = Array.from({ length: reader.numFrames() }, (_, i) => {
    const rgba = new Uint8Array(reader.width * reader.height * 4);
    reader.decodeAndBlitFrameRGBA(i, rgba);
    return rgba;
  });
  return { bytes, reader, frames };
}

/** Cell `index` of a decoded PNG grid as RGBA. */
function cellOf(
  image: { width: number; channels: number; data: ArrayLike<number> },
  size: number,
  padding: number,
  cols: number,
  index: number,
): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  const top = padding + Math.floor(index / cols) * (size + padding);
  const left = padding + (index % cols) * (size + padding);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const at = ((top + y) * image.width + left + x) * image.channels;
      const rgb =
        image.channels === 1 ? [image.data[at], image.data[at], image.data[at]] : [image.data[at], image.data[at + 1], image.data[at + 2]];
      out.set([...rgb, 255], (y * size + x) * 4);
    }
  return out;
}

const meanDifference = (a: Uint8Array, b: Uint8Array) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]), 0) / a.length;

let renders = 0;
/** A render with its own model store, under an origin no other request used (no cache). */
async function freshRender(path: string): Promise<Uint8Array> {
  const ctx = createExecutionContext();
  const response = await createApp().fetch(new Request(`https://walk-${++renders}.gan.test${path}`), env, ctx);
  await waitOnExecutionContext(ctx);
  expect(response.status).toBe(200);
  expect(response.headers.get('X-Cache')).toBe('MISS');
  return new Uint8Array(await response.arrayBuffer());
}

describe('walk.gif', () => {
  it('is a looping GIF89a of keys × frames frames at the model size, 12 fps by default', async () => {
    const { bytes, reader, frames } = await gif(await get('/v1/models/blobs/walk.gif?seed=loop'));
    expect(new TextDecoder().decode(bytes.subarray(0, 6))).toBe('GIF89a');
    expect(new TextDecoder().decode(bytes).includes('NETSCAPE2.0')).toBe(true);
    expect(reader.loopCount()).toBe(0); // 0 = forever
    expect([reader.width, reader.height]).toEqual([16, 16]);
    expect(frames).toHaveLength(4 * 12);
    expect(reader.frameInfo(0).delay).toBe(8); // hundredths of a second: 100 / 12, rounded
    expect(new Set(frames[5]).size).toBeGreaterThan(10); // the generator ran
  });

  it('takes keys, frames, fps and size', async () => {
    const { reader, frames } = await gif(await get('/v1/models/blobs/walk.gif?seed=p&keys=3&frames=2&fps=25&size=20'));
    expect(frames).toHaveLength(6);
    expect([reader.width, reader.height]).toEqual([20, 20]);
    expect(reader.frameInfo(3).delay).toBe(4);
  });

  it('with class=each walks through every class, key k being class k', async () => {
    expect((await gif(await get('/v1/models/digits/walk.gif?seed=each&class=each'))).frames).toHaveLength(3 * 12);
    expect((await gif(await get('/v1/models/digits/walk.gif?seed=each&class=each&keys=2&frames=1'))).frames).toHaveLength(2);
    // Key k is cell k of the one-column grid: grey, so the GIF's palette is exact.
    const walk = await gif(await get('/v1/models/digits/walk.gif?seed=each&class=each&frames=4&size=24'));
    const grid = (await png(await get('/v1/models/digits/grid.png?seed=each&class=each&cols=1&size=24'))).image;
    for (let k = 0; k < 3; k++) expect(walk.frames[k * 4], `key ${k}`).toEqual(cellOf(grid, 24, 2, 1, k));
  });

  it("starts at cell 0 of grid.png with the same parameters, and passes through the grid's cells in order", async () => {
    // Greyscale: the palette is exact, the pixels equal.
    const grey = await gif(await get('/v1/models/digits/walk.gif?seed=cells&class=two&frames=3&truncation=0.8'));
    const greyGrid = (await png(await get('/v1/models/digits/grid.png?seed=cells&class=two&truncation=0.8'))).image;
    for (let k = 0; k < 4; k++) expect(grey.frames[k * 3], `key ${k}`).toEqual(cellOf(greyGrid, 16, 2, 4, k));
    // Colour: the same pixels up to the GIF's palette.
    const colour = await gif(await get('/v1/models/blobs/walk.gif?seed=cells&size=32&filter=nearest'));
    const colourGrid = (await png(await get('/v1/models/blobs/grid.png?seed=cells&size=32&filter=nearest'))).image;
    expect(meanDifference(colour.frames[0], cellOf(colourGrid, 32, 2, 4, 0))).toBeLessThan(3);
    expect(meanDifference(colour.frames[12], cellOf(colourGrid, 32, 2, 4, 1))).toBeLessThan(3);
    expect(meanDifference(colour.frames[0], cellOf(colourGrid, 32, 2, 4, 1))).toBeGreaterThan(3); // the cells differ
  });

  it('returns to its first key: the last frame is near the first, not a jump', async () => {
    const { frames } = await gif(await get('/v1/models/digits/walk.gif?seed=closed&class=1'));
    const step = meanDifference(frames[frames.length - 1], frames[0]);
    const keys = meanDifference(frames[12], frames[0]);
    expect(step).toBeLessThan(keys / 3);
  });

  it('is deterministic: two renders give the same bytes; the pinned walks hold here too', async () => {
    const path = '/v1/models/blobs/walk.gif?seed=twice&keys=2&frames=3';
    expect(await freshRender(path)).toEqual(await freshRender(path));
    for (const [path, expected] of [...GOLDEN_WALKS].reverse()) {
      expect(await sha256(new Uint8Array(await (await get(path)).arrayBuffer())), path).toBe(expected);
    }
  });

  it('caches like images: strong ETag and 304 when seeded; no-store and X-Seed when not', async () => {
    const first = await get('/v1/models/blobs/walk.gif?seed=etag&frames=2');
    await gif(first);
    const etag = first.headers.get('ETag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.headers.get('Cache-Control')).toMatch(/^public, max-age=\d+$/);
    expect(first.headers.get('X-Model-Version')).toBe('v1');
    const again = await get('/v1/models/blobs/walk.gif?frames=2&seed=etag', { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await get('/v1/models/blobs/walk.gif?seed=etag&frames=3')).headers.get('ETag')).not.toBe(etag);
    const pinned = await get('/v1/models/blobs@v1/walk.gif?seed=etag&frames=2');
    expect(pinned.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(pinned.headers.get('ETag')).toBe(etag);
    expect((await gif(pinned)).bytes).toEqual((await gif(await get('/v1/models/blobs/walk.gif?seed=etag&frames=2'))).bytes);

    const random = await get('/v1/models/blobs/walk.gif?frames=2');
    const randomBytes = (await gif(random)).bytes;
    expect(random.headers.get('Cache-Control')).toBe('no-store');
    expect(random.headers.get('ETag')).toBeNull();
    const seed = decodeURIComponent(random.headers.get('X-Seed')!);
    expect((await gif(await get(`/v1/models/blobs/walk.gif?frames=2&seed=${encodeURIComponent(seed)}`))).bytes).toEqual(randomBytes);
  });

  it('answers HEAD with the headers of GET and no body, with CORS', async () => {
    const path = '/v1/models/digits/walk.gif?seed=head&frames=2';
    const head = await get(path, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('Content-Type')).toBe('image/gif');
    expect(head.headers.get('Access-Control-Allow-Origin')).toBe('*');
    const getResponse = await get(path);
    await getResponse.arrayBuffer();
    expect(head.headers.get('ETag')).toBe(getResponse.headers.get('ETag'));
    expect(await head.text()).toBe('');
  });

  it.each([
    ['keys=1', 'keys'],
    ['keys=17', 'keys'],
    ['frames=0', 'frames'],
    ['frames=31', 'frames'],
    ['fps=0', 'fps'],
    ['fps=31', 'fps'],
    ['size=7', 'size'],
    ['size=257', 'size'],
    ['truncation=0', 'truncation'],
    ['filter=cubic', 'filter'],
    ['rows=2', 'rows'],
    ['seed=', 'seed'],
  ])('refuses %s with a JSON 400 naming %s', async (query, parameter) => {
    const response = await get(`/v1/models/blobs/walk.gif?${query}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
    const body = await errorBody(response);
    expect(body.error).toMatchObject({ code: 'invalid_parameter', parameter });
  });

  it('refuses classes the model does not have', async () => {
    expect((await errorBody(await get('/v1/models/blobs/walk.gif?seed=c&class=each'))).error).toMatchObject({
      parameter: 'class',
      message: expect.stringMatching(/unconditional/),
    });
    expect((await errorBody(await get('/v1/models/digits/walk.gif?seed=c&class=9'))).error.parameter).toBe('class');
    const tooMany = (await errorBody(await get('/v1/models/digits/walk.gif?seed=c&class=each&keys=4'))).error;
    expect(tooMany).toMatchObject({ parameter: 'keys', message: expect.stringMatching(/at most 3/) });
  });

  it('bounds the work like grids: 400 naming the parameter before any weights are read', async () => {
    // 64-pixel model: at most 64 frames; 16 × 16 = 256 is refused.
    const refused = [
      ['keys=16&frames=16', 'frames', /at most 64 \(frames in all: keys · frames\)/],
      ['keys=16&size=16', 'keys', /at most 64/],
      ['keys=2&frames=30&size=67', 'size', /60 frames of 67x67 pixels; at most 262144 frame pixels/],
    ] as const;
    for (const [query, parameter, message] of refused) {
      const body = await errorBody(await get(`/v1/models/large/walk.gif?seed=w&${query}`));
      expect(body.error, query).toMatchObject({ code: 'invalid_parameter', parameter, message: expect.stringMatching(message) });
    }
    const health = await (await get('/healthz')).json<{ r2Reads: { files: number }; versions: string[] }>();
    expect(health.versions).not.toContain('large@v1');
    // Frame pixels: 16 × 16 frames of the 16-pixel model at 33 px is over 512².
    expect((await errorBody(await get('/v1/models/blobs/walk.gif?seed=w&keys=16&frames=16&size=33'))).error.parameter).toBe('size');
    expect(LIMITS.maxWalkPixels).toBe(512 * 512);
  });

  it('allows exactly the bounds', async () => {
    // Greyscale, so the encoder is cheap: the test is about the bounds, RELIABILITY.md about the CPU.
    const most = await gif(await get('/v1/models/digits/walk.gif?seed=w&keys=16&frames=16&size=32'));
    expect(most.frames).toHaveLength(256);
    expect(most.reader.width).toBe(32);
    expect((await gif(await get('/v1/models/large/walk.gif?seed=w&keys=4&frames=16&size=8'))).frames).toHaveLength(64);
  });
});

describe('morph.png', () => {
  it('is a strip of steps images from `from` to `to`, both ends the images of their seeds', async () => {
    const strip = (await png(await get('/v1/models/digits/morph.png?from=a&to=b&class=one&to_class=2&steps=5&padding=3'))).image;
    expect([strip.width, strip.height]).toEqual([5 * 16 + 6 * 3, 16 + 2 * 3]);
    const from = (await png(await get('/v1/models/digits/image.png?seed=a&class=one'))).image;
    const to = (await png(await get('/v1/models/digits/image.png?seed=b&class=two'))).image;
    expect(cellOf(strip, 16, 3, 5, 0)).toEqual(cellOf(from, 16, 0, 1, 0));
    expect(cellOf(strip, 16, 3, 5, 4)).toEqual(cellOf(to, 16, 0, 1, 0));
    expect(cellOf(strip, 16, 3, 5, 2)).not.toEqual(cellOf(from, 16, 0, 1, 0));
  });

  it('defaults: 8 steps, padding 2, `to` = `<from>#1`, to_class = class', async () => {
    const strip = (await png(await get('/v1/models/blobs/morph.png?from=d&size=20'))).image;
    expect([strip.width, strip.height]).toEqual([8 * 20 + 9 * 2, 24]);
    const explicit = await get(`/v1/models/blobs/morph.png?from=d&to=${encodeURIComponent('d#1')}&size=20&steps=8&padding=2`);
    expect((await png(explicit)).image.data).toEqual(strip.data);
    const random = await get('/v1/models/blobs/morph.png');
    await png(random);
    expect(random.headers.get('Cache-Control')).toBe('no-store');
    expect(random.headers.get('X-Seed')).toBeTruthy();
  });

  it('caches, answers 304 and HEAD', async () => {
    const first = await get('/v1/models/digits/morph.png?from=e&to=f');
    await png(first);
    const etag = first.headers.get('ETag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await get('/v1/models/digits/morph.png?from=e&to=f', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await get('/v1/models/digits/morph.png?from=e&to=g')).headers.get('ETag')).not.toBe(etag);
    const head = await get('/v1/models/digits/morph.png?from=e&to=f', { method: 'HEAD' });
    expect([head.status, head.headers.get('ETag'), await head.text()]).toEqual([200, etag, '']);
  });

  it.each([
    ['from=', 'from'],
    ['to=', 'to'],
    ['steps=1', 'steps'],
    ['steps=17', 'steps'],
    ['padding=33', 'padding'],
    ['to_class=1', 'to_class'],
    ['class=each', 'class'],
    ['seed=x', 'seed'],
    ['steps=16&size=256', 'size'], // 4130x260 pixels: over 1024²
  ])('refuses %s with a JSON 400 naming %s', async (query, parameter) => {
    const response = await get(`/v1/models/blobs/morph.png?${query}`);
    expect(response.status).toBe(400);
    expect((await errorBody(response)).error).toMatchObject({ code: 'invalid_parameter', parameter });
  });

  it('refuses an unknown to_class on conditional models, naming it', async () => {
    const body = await errorBody(await get('/v1/models/digits/morph.png?from=a&to_class=seven'));
    expect(body.error).toMatchObject({ parameter: 'to_class', message: expect.stringMatching(/^to_class must be an index from 0 to 2/) });
  });
});

describe('OpenAPI', () => {
  it.each(['walk.gif', 'morph.png'])('documents exactly the parameters %s accepts', async (route) => {
    const doc = await (await get('/v1/openapi.json')).json<{
      paths: Record<string, { get: { parameters: { name: string; in: string }[] } }>;
    }>();
    const documented = doc.paths[`/v1/models/{model}/${route}`].get.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    const refused = await errorBody(await get(`/v1/models/blobs/${route}?unknown=1`));
    const accepted = refused.error.message.replace(/^.*allowed: /, '').split(', ');
    expect(documented.sort()).toEqual(accepted.sort());
  });
});
