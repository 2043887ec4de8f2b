/**
 * filter=learned in workerd: the bytes Node renders (the pinned table of upscaler-fixture.ts), the 400
 * on a version without an upscaler, the version's default, and the bound on upscaled images, refused
 * before the version's weights are read.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@gan/worker/validation';
import { buildFixture, setCurrent } from './fixtures.ts';
import { errorBody, get, png, sha256 } from './helpers.ts';
import { publishFiles } from './sampler-fixture.ts';
import { PLAIN_BLOBS, UPSCALED_FIXTURES, UPSCALED_GOLDEN, buildUpscaledFixture } from './upscaler-fixture.ts';

type Health = { versions: string[] };
const health = async () => (await get('/healthz')).json<Health>();

beforeAll(async () => {
  for (const f of UPSCALED_FIXTURES) await publishFiles(env.MODELS_BUCKET, await buildUpscaledFixture(f), true);
  await publishFiles(env.MODELS_BUCKET, await buildFixture(PLAIN_BLOBS));
  // A 32-pixel model with an upscaler (128-pixel output): the bound allows 64 of its images per request.
  const config = { imageSize: 32 as const, channels: 3 as const, latentSize: 8, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 };
  await publishFiles(
    env.MODELS_BUCKET,
    await buildUpscaledFixture({ name: 'ubig', version: 'x4', config, weightsSeed: 'ubig', widths: [2], isDefault: false }),
    true,
  );
});

describe('filter=learned in workerd', () => {
  it.each(UPSCALED_GOLDEN)('%s has the bytes Node renders', async (path, expected) => {
    const { bytes } = await png(await get(path));
    expect(await sha256(bytes)).toBe(expected);
  });

  it('a version without an upscaler answers 400 naming filter', async () => {
    const response = await get('/v1/models/ublobs@plain/image.png?seed=a&size=64&filter=learned');
    expect(response.status).toBe(400);
    const body = await errorBody(response);
    expect(body.error.parameter).toBe('filter');
    expect(body.error.message).toMatch(/no learned upscaler/);
  });

  it('bilinear and nearest are what they were; learned is the default only where the version says so', async () => {
    for (const filter of ['bilinear', 'nearest']) {
      const upscaled = await png(await get(`/v1/models/ublobs@x4/image.png?seed=a&size=40&filter=${filter}`));
      const plain = await png(await get(`/v1/models/ublobs@plain/image.png?seed=a&size=40&filter=${filter}`));
      expect(await sha256(upscaled.bytes)).toBe(await sha256(plain.bytes));
    }
    const byDefault = await png(await get('/v1/models/ublobs@x4-default/grid.png?seed=a&rows=1&cols=2&size=64'));
    const learned = await png(await get('/v1/models/ublobs@x4/grid.png?seed=a&rows=1&cols=2&size=64&filter=learned'));
    expect(await sha256(byDefault.bytes)).toBe(await sha256(learned.bytes));
    const plainDefault = await png(await get('/v1/models/ublobs@x4/grid.png?seed=a&rows=1&cols=2&size=64'));
    expect(await sha256(plainDefault.bytes)).not.toBe(await sha256(learned.bytes));
  });

  it('walks and morphs take it', async () => {
    for (const route of ['walk.gif?seed=a&keys=2&frames=2&size=32', 'morph.png?from=a&to=b&steps=3&size=32']) {
      const learned = await get(`/v1/models/ublobs@x4/${route}&filter=learned`);
      const bilinear = await get(`/v1/models/ublobs@x4/${route}&filter=bilinear`);
      expect([learned.status, bilinear.status]).toEqual([200, 200]);
      expect(await sha256(new Uint8Array(await learned.arrayBuffer()))).not.toBe(
        await sha256(new Uint8Array(await bilinear.arrayBuffer())),
      );
    }
  });

  it("/v1/models lists each current version's filters and default, learned only where it ships an upscaler", async () => {
    type Listed = { name: string; version: string; filters: string[]; defaultFilter: string };
    const listed = async () => (await (await get('/v1/models')).json<{ models: Listed[] }>()).models;
    const byName = (models: Listed[], name: string) => models.find((m) => m.name === name)!;
    const before = await listed();
    expect(byName(before, 'ubig')).toMatchObject({ filters: ['bilinear', 'nearest', 'learned'], defaultFilter: 'bilinear' });
    expect(byName(before, 'ublobs')).toMatchObject({ version: 'x4-default', defaultFilter: 'learned' });
    expect(byName(before, 'ublobs').filters).toContain('learned');
    try {
      await setCurrent(env.MODELS_BUCKET, 'ublobs', PLAIN_BLOBS.version);
      expect(byName(await listed(), 'ublobs')).toMatchObject({
        version: 'plain',
        filters: ['bilinear', 'nearest'],
        defaultFilter: 'bilinear',
      });
    } finally {
      await setCurrent(env.MODELS_BUCKET, 'ublobs', 'x4-default');
    }
  });

  it('refuses more upscaled images than the bound with 400, before the weights are read', async () => {
    expect(LIMITS.maxUpscaledPixels).toBe(64 * 128 * 128);
    for (const [query, parameter] of [
      ['grid.png?seed=w&rows=9&cols=8&size=64&filter=learned', 'rows'],
      ['walk.gif?seed=w&keys=13&frames=5&size=40&filter=learned', 'frames'],
    ] as const) {
      const response = await get(`/v1/models/ubig/${query}`);
      expect(response.status, query).toBe(400);
      const body = await errorBody(response);
      expect(body.error.parameter, query).toBe(parameter);
      expect(body.error.message).toMatch(/at most 64 images/);
    }
    expect((await health()).versions).not.toContain('ubig@x4');
    // At the bound it renders.
    await png(await get('/v1/models/ubig/grid.png?seed=w&rows=8&cols=8&size=40&filter=learned'));
  });
});
