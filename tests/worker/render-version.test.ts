/**
 * core's RENDER_VERSION is part of every ETag and edge cache key: a deliberate render change (a bump,
 * with a CHANGELOG.md entry) leaves no validator or cached copy of the old bytes that matches the new.
 */
import { env } from 'cloudflare:workers';
import { ManifestSchema, RENDER_VERSION } from '@gan/core';
import { registryKeys } from '@gan/registry/layout';
import { beforeAll, describe, expect, it } from 'vitest';
import { cacheKey, etagFor, matchesIfNoneMatch } from '../../worker/src/http-cache.ts';
import type { ResolvedModel } from '../../worker/src/model-store.ts';
import { type RenderRequest, parseImageQuery, resolveImageRequest } from '../../worker/src/validation.ts';
import { publishStandardFixtures } from './fixtures.ts';
import { get, png } from './helpers.ts';

const PATH = '/v1/models/digits@v1/image.png?seed=render-version&class=one';
let model: ResolvedModel;
let request: RenderRequest;

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
  const stored = await env.MODELS_BUCKET.get(registryKeys.manifest('digits', 'v1'));
  const manifest = ManifestSchema.parse(await stored!.json());
  model = { name: 'digits', version: 'v1', pinned: true, manifest };
  request = resolveImageRequest(parseImageQuery(new URL(`https://gan.test${PATH}`)), manifest, () => 'unused');
});

describe('the render version in validators and cache keys', () => {
  it("the served ETag is the current render version's", async () => {
    const response = await get(PATH);
    await png(response);
    expect(response.headers.get('ETag')).toBe(await etagFor(model, request, RENDER_VERSION));
  });

  it('another render version gives another ETag and cache key, and neither validator matches the other', async () => {
    for (const other of [RENDER_VERSION - 1, RENDER_VERSION + 1]) {
      const [current, changed] = [await etagFor(model, request, RENDER_VERSION), await etagFor(model, request, other)];
      expect(changed).not.toBe(current);
      expect(matchesIfNoneMatch(changed, current)).toBe(false);
      expect(matchesIfNoneMatch(current, changed)).toBe(false);
      expect(cacheKey('https://gan.test', model, request, other).url).not.toBe(cacheKey('https://gan.test', model, request).url);
    }
  });

  it("a client holding another render version's ETag gets the bytes, not a 304", async () => {
    const stale = await etagFor(model, request, RENDER_VERSION - 1);
    const response = await get(PATH, { headers: { 'If-None-Match': stale } });
    expect(response.status).toBe(200);
    await png(response);
    const fresh = await get(PATH, { headers: { 'If-None-Match': response.headers.get('ETag')! } });
    expect(fresh.status).toBe(304);
  });
});
