/**
 * The models embedded in the bundle (models/ at build time), served in workerd: R2 stays the source
 * of truth for which version a name means, but the embedded version's files are never read from it.
 *
 * - current.json names the embedded version: no manifest or model file is read from R2;
 * - the embedded and the R2 copy of one version give the same bytes;
 * - current.json names another version: the embedded version answers as itself (its X-Model-Version
 *   and ETag, a short max-age) while that version loads in the background, then that version serves;
 * - no current.json yet, an unreadable one in a fresh isolate, or no bucket at all: the embedded version.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import type { Manifest } from '@gan/core/manifest';
import { registryKeys } from '@gan/registry/layout';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@gan/worker/app';
import { parseWorkerConfig } from '@gan/worker/config';
import { embeddedModels } from '@gan/worker/embedded-models';
import { ModelStore } from '@gan/worker/model-store';
import { STAND_IN } from '@gan/worker/routes/images';
import { DIGITS_CONFIG, publishFixture, setCurrent } from './fixtures.ts';
import { ORIGIN, errorBody, get, png } from './helpers.ts';
import { publishShippedModels } from './shipped.ts';

const CONFIG = { ...parseWorkerConfig({}), pointerTtlMs: 0 };
const embedded = async () => (await embeddedModels()).models;

type Health = { r2Reads: { pointer: number; manifest: number; files: number }; embedded: { models: string[] } | null };

/** A worker with its own store (a fresh isolate's state) over `bucket`, with the embedded models unless told otherwise. */
function worker(bucket: R2Bucket | undefined, options: { embedded?: boolean } = {}) {
  const store = new ModelStore(bucket, CONFIG, options.embedded === false ? {} : { embedded });
  const app = createApp({ storeFor: () => store });
  const request = async (path: string) => {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`${ORIGIN}${path}`), env, ctx);
    await waitOnExecutionContext(ctx); // background loads included
    return response;
  };
  return { get: request, store };
}

/** R2 keys read through a view of the test bucket. */
function countingBucket(inner: R2Bucket): { bucket: R2Bucket; keys: string[] } {
  const keys: string[] = [];
  const bucket = {
    get: (key: string, options?: R2GetOptions) => (keys.push(key), inner.get(key, options)),
    head: (key: string) => (keys.push(key), inner.head(key)),
    list: (options?: R2ListOptions) => (keys.push(`list:${options?.prefix ?? ''}`), inner.list(options)),
  } as unknown as R2Bucket;
  return { bucket, keys };
}

let mnist: Manifest;
beforeAll(async () => {
  mnist = (await publishShippedModels(['mnist'])).get('mnist')!;
});

describe('current.json names the embedded version', () => {
  it("a fresh worker's first image reads no manifest or model file from R2", async () => {
    const first = await get(`/v1/models/mnist/image.png`);
    expect(first.headers.get('X-Model-Version')).toBe(mnist.version);
    await png(first);
    await png(await get('/v1/models/mnist/image.png?seed=first&class=3'));
    const health = await (await get('/healthz')).json<Health>();
    expect(health.embedded?.models).toContain(`mnist@${mnist.version}`);
    expect(health.r2Reads).toMatchObject({ manifest: 0, files: 0 });
    expect(health.r2Reads.pointer).toBeGreaterThan(0); // R2 still decides the version
  });

  it('the embedded and the R2 copy of one version give the same bytes', async () => {
    const fromR2 = worker(env.MODELS_BUCKET, { embedded: false });
    for (const path of [
      '/v1/models/mnist/image.png?seed=same&class=7',
      `/v1/models/mnist@${mnist.version}/grid.png?seed=same&class=each&cols=2`,
      '/v1/models/mnist/image.png?seed=same&size=128',
    ]) {
      const embeddedBytes = (await png(await get(path))).bytes;
      const r2 = await fromR2.get(path);
      expect(r2.headers.get('X-Model-Version')).toBe(mnist.version);
      expect((await png(r2)).bytes).toEqual(embeddedBytes);
    }
    expect(fromR2.store.reads.files).toBeGreaterThan(0); // that copy did come from R2
  });

  it('a pinned embedded version reads nothing from R2 at all', async () => {
    const counted = countingBucket(env.MODELS_BUCKET);
    const w = worker(counted.bucket);
    await png(await w.get(`/v1/models/mnist@${mnist.version}/image.png?seed=pinned`));
    expect(counted.keys).toEqual([]);
  });
});

describe('current.json names another version', () => {
  it('the embedded version answers as itself while it loads, then the published one serves', async () => {
    const name = 'mnist';
    const w = worker(env.MODELS_BUCKET);
    const before = await w.get(`/v1/models/${name}/image.png?seed=move&class=1`);
    const embeddedEtag = before.headers.get('ETag');
    const embeddedBytes = (await png(before)).bytes;
    await publishFixture(env.MODELS_BUCKET, {
      name,
      version: 'published',
      config: { ...DIGITS_CONFIG, numClasses: 10 },
      classes: mnist.classes,
    });

    // The first request after the move: the embedded version, labelled as itself, cached briefly.
    const standIn = await w.get(`/v1/models/${name}/image.png?seed=move&class=1`);
    expect(standIn.headers.get('X-Model-Version')).toBe(mnist.version);
    expect(standIn.headers.get('ETag')).toBe(embeddedEtag);
    expect(standIn.headers.get('Cache-Control')).toBe(STAND_IN);
    expect((await png(standIn)).bytes).toEqual(embeddedBytes);

    // Its background load has finished (waitOnExecutionContext): the published version serves.
    const moved = await w.get(`/v1/models/${name}/image.png?seed=move&class=1`);
    expect(moved.headers.get('X-Model-Version')).toBe('published');
    expect(moved.headers.get('ETag')).not.toBe(embeddedEtag);
    expect((await png(moved)).image.width).toBe(16);
    // The embedded version stays reachable by name.
    const pinned = await w.get(`/v1/models/${name}@${mnist.version}/image.png?seed=move&class=1`);
    expect((await png(pinned)).bytes).toEqual(embeddedBytes);
    await setCurrent(env.MODELS_BUCKET, name, mnist.version);
  });

  it('a version that cannot be served: the embedded version keeps serving as itself, and /healthz says so', async () => {
    const w = worker(env.MODELS_BUCKET);
    await setCurrent(env.MODELS_BUCKET, 'mnist', 'gone');
    const response = await w.get('/v1/models/mnist/image.png?seed=broken');
    expect(response.headers.get('X-Model-Version')).toBe(mnist.version);
    await png(response);
    const pinned = await w.get('/v1/models/mnist@gone/image.png?seed=broken');
    expect(pinned.status).toBe(404);
    expect(w.store.status().fallbacks).toEqual([expect.objectContaining({ model: 'mnist', wanted: 'gone', serving: mnist.version })]);
    await setCurrent(env.MODELS_BUCKET, 'mnist', mnist.version);
  });

  it('an unreadable current.json in a fresh isolate: the embedded version, as itself', async () => {
    const w = worker(env.MODELS_BUCKET);
    await env.MODELS_BUCKET.put(registryKeys.current('mnist'), 'not a pointer');
    const response = await w.get('/v1/models/mnist/image.png?seed=garbled');
    expect(response.headers.get('X-Model-Version')).toBe(mnist.version);
    await png(response);
    await setCurrent(env.MODELS_BUCKET, 'mnist', mnist.version);
  });
});

describe('before the first publish', () => {
  it('no current.json for an embedded model: its embedded version is current', async () => {
    const counted = countingBucket(env.MODELS_BUCKET);
    const w = worker(counted.bucket);
    const response = await w.get('/v1/models/twemoji/image.png?seed=fresh');
    expect(response.headers.get('X-Model-Version')).toBe((await embedded()).get('twemoji')!.version);
    await png(response);
    expect(counted.keys).toEqual([registryKeys.current('twemoji')]);
  });

  it('no bucket bound at all: the embedded models serve, and only they', async () => {
    const w = worker(undefined);
    const own = await embedded();
    const { models } = await (await w.get('/v1/models')).json<{ models: { name: string; version: string }[] }>();
    expect(models.map((m) => `${m.name}@${m.version}`)).toEqual([...own.values()].map((m) => `${m.name}@${m.version}`).sort());
    for (const [name, model] of own) {
      const response = await w.get(`/v1/models/${name}/image.png?seed=no-bucket`);
      expect(response.headers.get('X-Model-Version')).toBe(model.version);
      await png(response);
    }
    expect((await errorBody(await w.get('/v1/models/nothing/image.png'))).error.code).toBe('model_not_found');
    expect((await errorBody(await w.get('/v1/models/mnist@other/image.png'))).error.code).toBe('version_not_found');
    const health = await (await w.get('/healthz')).json<{ registry: boolean; status: string }>();
    expect(health).toMatchObject({ status: 'ok', registry: false });
  });
});
