import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFixture } from './fixtures.ts';
import { errorBody, get, png, sha256 } from './helpers.ts';
import { PLAIN_DIGITS, SAMPLED_FIXTURES, SAMPLED_GOLDEN, buildSampledFixture, publishFiles } from './sampler-fixture.ts';

beforeAll(async () => {
  for (const f of SAMPLED_FIXTURES) await publishFiles(env.MODELS_BUCKET, await buildSampledFixture(f), true);
  await publishFiles(env.MODELS_BUCKET, await buildFixture(PLAIN_DIGITS));
});

describe('candidate sampling in workerd', () => {
  // The same table tests/core/sampler.test.ts checks in Node: the same picks, the same bytes.
  it.each(SAMPLED_GOLDEN)('%s has the bytes Node renders', async (path, expected) => {
    const { bytes } = await png(await get(path));
    expect(await sha256(bytes)).toBe(expected);
  });

  it('K = 1 serves exactly the bytes of the same generator without sampling', async () => {
    const queries = [
      'image.png?seed=k1&class=1&size=30',
      'grid.png?seed=k1&class=each&cols=3&truncation=0.8',
      'morph.png?from=a&to=b&steps=3',
      'walk.gif?seed=k1&keys=2&frames=2',
    ];
    for (const query of queries) {
      const k1 = await get(`/v1/models/sdigits@k1/${query}`);
      const plain = await get(`/v1/models/sdigits@plain/${query}`);
      expect([k1.status, plain.status]).toEqual([200, 200]);
      expect(await sha256(new Uint8Array(await k1.arrayBuffer()))).toBe(await sha256(new Uint8Array(await plain.arrayBuffer())));
    }
  });

  it('a sampled version differs from plain sampling on some seeds, and repeats itself', async () => {
    const sampled = await png(await get('/v1/models/sdigits@k4/grid.png?seed=golden&class=0&rows=2&cols=4'));
    const plain = await png(await get('/v1/models/sdigits@plain/grid.png?seed=golden&class=0&rows=2&cols=4'));
    expect(await sha256(sampled.bytes)).not.toBe(await sha256(plain.bytes));
    const again = await png(await get('/v1/models/sdigits@k4/grid.png?seed=golden&class=0&rows=2&cols=4&padding=2'));
    expect(await sha256(again.bytes)).toBe(await sha256(sampled.bytes));
  });

  it("counts each seed's candidates in the work bound: a grid the plain version serves can be too much work with K = 8", async () => {
    // 16-pixel fixtures: 1024 generated images per request; 256 cells · 8 candidates is 2048.
    expect((await get('/v1/models/sdigits@plain/grid.png?seed=w&rows=16&cols=16')).status).toBe(200);
    const refused = await get('/v1/models/sdigits@k8/grid.png?seed=w&rows=16&cols=16');
    expect(refused.status).toBe(400);
    const body = await errorBody(refused);
    expect(body.error.parameter).toBe('rows');
    expect(body.error.message).toMatch(/8 candidates per seed.*at most 128/);
    expect((await get('/v1/models/sdigits@k8/grid.png?seed=w&rows=8&cols=16')).status).toBe(200);
  });
});
