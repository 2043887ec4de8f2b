import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIGITS_CLASSES, publishStandardFixtures } from './fixtures.ts';
import { errorBody, get, png } from './helpers.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
});

describe('caching', () => {
  it('a seeded image on the current version: strong ETag, short max-age, X-Model-Version', async () => {
    const response = await get('/v1/models/digits/image.png?seed=cache-1');
    await png(response);
    expect(response.headers.get('ETag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=60');
    expect(response.headers.get('X-Model-Version')).toBe('v1');
    expect(response.headers.get('X-Seed')).toBe('cache-1');
  });

  it('a pinned version is immutable for a year', async () => {
    const response = await get('/v1/models/digits@v1/image.png?seed=cache-1');
    await png(response);
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(response.headers.get('X-Model-Version')).toBe('v1');
  });

  it('a random image is never stored and has no ETag', async () => {
    const response = await get('/v1/models/digits/grid.png?rows=2&cols=2');
    await png(response);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(response.headers.get('ETag')).toBeNull();
    expect(response.headers.get('X-Seed')).toBeTruthy();
  });

  it('answers If-None-Match with 304 and no body', async () => {
    const first = await get('/v1/models/blobs/grid.png?seed=etag&rows=2&cols=2');
    const etag = first.headers.get('ETag')!;
    await png(first);
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await get('/v1/models/blobs/grid.png?seed=etag&rows=2&cols=2', { headers: { 'If-None-Match': header } });
      expect(again.status).toBe(304);
      expect(again.headers.get('ETag')).toBe(etag);
      expect(again.headers.get('Cache-Control')).toBe('public, max-age=60');
      expect(again.headers.get('Access-Control-Allow-Origin')).toBe('*');
      expect((await again.arrayBuffer()).byteLength).toBe(0);
    }
    const stale = await get('/v1/models/blobs/grid.png?seed=etag&rows=2&cols=2', { headers: { 'If-None-Match': '"nope"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });

  it('the ETag names the bytes: equal for equivalent parameters, different otherwise', async () => {
    const etag = async (query: string) => {
      const response = await get(`/v1/models/digits/image.png?${query}`);
      await png(response);
      return response.headers.get('ETag');
    };
    const base = await etag('seed=same');
    expect(await etag('seed=same&size=16')).toBe(base); // 16 is the native size
    expect(await etag('seed=same&size=16&filter=nearest')).toBe(base); // nothing is resized
    expect(await etag('seed=same&truncation=1.0')).toBe(base);
    expect(await etag('seed=same&class=1')).not.toBe(base);
    expect(await etag('seed=same&class=one')).toBe(await etag('seed=same&class=1'));
    expect(await etag('seed=same&size=17')).not.toBe(base);
    expect(await etag('seed=other')).not.toBe(base);
  });

  it('repeats come from the Workers cache without running the generator', async () => {
    const first = await get('/v1/models/blobs/image.png?seed=cache-api&size=48');
    expect(first.headers.get('X-Cache')).toBe('MISS');
    expect(first.headers.get('Server-Timing')).toMatch(/^render;dur=\d+\.\d, total;dur=\d+\.\d$/);
    const bytes = (await png(first)).bytes;
    // The cache is filled after the response (waitUntil); give it a moment.
    let second = await get('/v1/models/blobs/image.png?seed=cache-api&size=48');
    for (let i = 0; i < 20 && second.headers.get('X-Cache') !== 'HIT'; i++) {
      await second.arrayBuffer();
      await new Promise((r) => setTimeout(r, 25));
      second = await get('/v1/models/blobs/image.png?seed=cache-api&size=48');
    }
    expect(second.headers.get('X-Cache')).toBe('HIT');
    expect((await png(second)).bytes).toEqual(bytes);
    // The pinned URL of the same version shares the entry, with its own Cache-Control.
    const pinned = await get('/v1/models/blobs@v1/image.png?seed=cache-api&size=48');
    expect(pinned.headers.get('X-Cache')).toBe('HIT');
    expect(pinned.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect((await png(pinned)).bytes).toEqual(bytes);
  });

  it('errors are not cached', async () => {
    const response = await get('/v1/models/digits/image.png?size=1');
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    await response.arrayBuffer();
  });
});

describe('CORS and HEAD', () => {
  it('every response allows any origin and exposes the custom headers', async () => {
    for (const path of [
      '/',
      '/healthz',
      '/v1/models',
      '/v1/openapi.json',
      '/v1/models/digits/image.png?seed=c',
      '/nope',
      '/v1/models/digits/image.png?size=0',
    ]) {
      const response = await get(path, { headers: { Origin: 'https://elsewhere.example' } });
      expect(response.headers.get('Access-Control-Allow-Origin'), path).toBe('*');
      expect(response.headers.get('Access-Control-Expose-Headers'), path).toMatch(/X-Seed/);
      await response.arrayBuffer();
    }
  });

  it('answers preflight OPTIONS', async () => {
    const response = await get('/v1/models/digits/image.png', {
      method: 'OPTIONS',
      headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(response.headers.get('Access-Control-Allow-Methods')).toBe('GET,HEAD,OPTIONS');
  });

  it('HEAD gives the headers of GET without a body', async () => {
    const get1 = await get('/v1/models/digits/image.png?seed=head');
    await png(get1);
    const head = await get('/v1/models/digits/image.png?seed=head', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('Content-Type')).toBe('image/png');
    expect(head.headers.get('ETag')).toBe(get1.headers.get('ETag'));
    expect(head.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const missing = await get('/v1/models/nosuch/image.png', { method: 'HEAD' });
    expect(missing.status).toBe(404);
  });
});

describe('JSON endpoints', () => {
  it('/v1/models lists the models with their current version and shape', async () => {
    const response = await get('/v1/models');
    expect(response.status).toBe(200);
    const { models } = await response.json<{ models: Record<string, unknown>[] }>();
    // The published fixtures, and the models embedded in the worker (models/), sorted by name.
    const names = models.map((m) => m.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['blobs', 'digits', 'mnist']));
    expect(models.find((m) => m.name === 'digits')).toMatchObject({
      name: 'digits',
      version: 'v1',
      imageSize: 16,
      channels: 1,
      classes: DIGITS_CLASSES,
      latentSize: 8,
      trainedAt: '2026-11-27T12:00:00.000Z',
      metrics: { fixture: true },
      available: true,
    });
  });

  it('/v1/models/:model is the manifest of the version', async () => {
    const response = await get('/v1/models/digits');
    expect(response.headers.get('X-Model-Version')).toBe('v1');
    const manifest = await response.json<{ name: string; version: string; files: unknown[]; architecture: unknown }>();
    expect(manifest).toMatchObject({ name: 'digits', version: 'v1', architecture: { numClasses: 3 } });
    expect(manifest.files.length).toBeGreaterThan(1);
    const pinned = await get('/v1/models/digits@v1');
    expect(pinned.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    await pinned.arrayBuffer();
  });

  it('/v1/openapi.json is an OpenAPI 3 document of the public paths', async () => {
    const doc = await (await get('/v1/openapi.json')).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/models',
        '/v1/models/{model}',
        '/v1/models/{model}/image.png',
        '/v1/models/{model}/grid.png',
        '/healthz',
      ]),
    );
  });

  it('/ is the HTML page', async () => {
    const response = await get('/');
    expect(response.headers.get('Content-Type')).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/<img id="image"/);
  });

  it('/healthz lists the loaded models and versions', async () => {
    await png(await get('/v1/models/digits/image.png?seed=health'));
    const health = await (await get('/healthz')).json<{ versions: string[]; models: { name: string; bytes: number }[] }>();
    expect(health.versions).toContain('digits@v1');
    expect(health.models.find((m) => m.name === 'digits')!.bytes).toBeGreaterThan(0);
  });
});

describe('error bodies', () => {
  it('name the parameter and the allowed range', async () => {
    const body = await errorBody(await get('/v1/models/digits/grid.png?rows=99'));
    expect(body).toEqual({ error: { code: 'invalid_parameter', message: 'rows must be an integer from 1 to 16', parameter: 'rows' } });
  });
});
