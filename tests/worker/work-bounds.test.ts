/**
 * Work bounds: the generator's work (images · imageSize²) and the output (width · height) are both
 * capped, and a request over either is refused with 400 before its model's weights are read or any
 * image is generated. RELIABILITY.md gives the CPU time of the largest allowed requests.
 */
import { env } from 'cloudflare:workers';
import type { ModelConfig } from '@gan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@gan/worker/validation';
import { publishFixture } from './fixtures.ts';
import { errorBody, get, png } from './helpers.ts';

// A 64-pixel model: the generator bound allows 256 · 32² / 64² = 64 images of it per request.
const LARGE: ModelConfig = { imageSize: 64, channels: 3, latentSize: 8, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 };

type Health = { r2Reads: { files: number }; versions: string[] };
const health = async () => (await get('/healthz')).json<Health>();

beforeAll(async () => {
  await publishFixture(env.MODELS_BUCKET, { name: 'large', version: 'v1', config: LARGE });
});

describe('work bounds', () => {
  it('the limits', () => {
    expect(LIMITS.maxOutputPixels).toBe(1024 * 1024);
    expect(LIMITS.maxGeneratedPixels).toBe(256 * 32 * 32);
  });

  it('refuses too many images of a large model with 400, before its weights are read', async () => {
    for (const query of ['rows=8&cols=9', 'rows=16&cols=16&size=8', 'cols=16&rows=5']) {
      const response = await get(`/v1/models/large/grid.png?seed=w&${query}`);
      expect(response.status, query).toBe(400);
      const body = await errorBody(response);
      expect(body.error.code).toBe('invalid_parameter');
      expect(body.error.message).toMatch(/at most 64 \(rows · cols\)/);
    }
    const after = await health();
    expect(after.r2Reads.files).toBe(0);
    expect(after.versions).not.toContain('large@v1');
  });

  it('allows exactly the bound', async () => {
    const { image } = await png(await get('/v1/models/large/grid.png?seed=w&rows=8&cols=8&size=16&padding=0'));
    expect([image.width, image.height]).toEqual([128, 128]);
  });

  it('refuses an output over 1024x1024 naming size', async () => {
    const body = await errorBody(await get('/v1/models/large/grid.png?seed=w&rows=8&cols=8&size=128&padding=1'));
    expect(body.error).toMatchObject({ code: 'invalid_parameter', parameter: 'size' });
    expect(body.error.message).toMatch(/1033x1033 pixels; at most 1048576 pixels \(1024x1024\)/);
  });
});
