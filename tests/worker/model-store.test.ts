import { env } from 'cloudflare:workers';
import { registryKeys } from '@gan/registry/layout';
import { describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '@gan/worker/config';
import { ModelStore } from '@gan/worker/model-store';
import { BLOBS_CONFIG, DIGITS_CLASSES, DIGITS_CONFIG, publishFixture, setCurrent } from './fixtures.ts';
import { errorBody, get, png } from './helpers.ts';

const bucket = () => env.MODELS_BUCKET;
/** The configuration with no vars set. */
const DEFAULTS = parseWorkerConfig({});

async function expectUnavailable(path: string, reason: RegExp) {
  const response = await get(path);
  expect(response.status).toBe(503);
  expect(response.headers.get('Retry-After')).toBe('30');
  expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
  expect(response.headers.get('Content-Type')).toMatch(/json/); // never a broken image
  const body = await errorBody(response);
  expect(body.error.code).toBe('model_unavailable');
  expect(body.error.message).toMatch(reason);
}

describe('faults in R2 give 503 with Retry-After, and heal by themselves', () => {
  it('a missing shard', async () => {
    const published = await publishFixture(bucket(), { name: 'missing-shard', version: 'v1', config: BLOBS_CONFIG });
    const shard = published.shardPaths[1];
    await bucket().delete(registryKeys.file('missing-shard', 'v1', shard));
    await expectUnavailable('/v1/models/missing-shard/image.png?seed=a', new RegExp(`${shard} is missing`));
    // The failure was not remembered: once the shard is back, the same isolate serves.
    await bucket().put(registryKeys.file('missing-shard', 'v1', shard), published.files.get(shard)!);
    await png(await get('/v1/models/missing-shard/image.png?seed=a'));
  });

  it('a corrupt shard (same size, one byte flipped) fails its sha256 check', async () => {
    const published = await publishFixture(bucket(), { name: 'corrupt-shard', version: 'v1', config: BLOBS_CONFIG });
    const shard = published.shardPaths[0];
    const bad = published.files.get(shard)!.slice();
    bad[100] ^= 0xff;
    await bucket().put(registryKeys.file('corrupt-shard', 'v1', shard), bad);
    await expectUnavailable('/v1/models/corrupt-shard/image.png?seed=a', /sha256/);
    await expectUnavailable('/v1/models/corrupt-shard/grid.png?seed=a', /sha256/);
    await bucket().put(registryKeys.file('corrupt-shard', 'v1', shard), published.files.get(shard)!);
    await png(await get('/v1/models/corrupt-shard/image.png?seed=a'));
  });

  it('a truncated model.json', async () => {
    const published = await publishFixture(bucket(), { name: 'truncated', version: 'v1', config: BLOBS_CONFIG });
    await bucket().put(registryKeys.file('truncated', 'v1', 'model.json'), published.files.get('model.json')!.slice(0, 50));
    await expectUnavailable('/v1/models/truncated/image.png?seed=a', /model\.json fails its size or sha256/);
  });

  it('a manifest that is not JSON, or not a manifest', async () => {
    await publishFixture(bucket(), { name: 'bad-manifest', version: 'v1', config: BLOBS_CONFIG });
    await bucket().put(registryKeys.manifest('bad-manifest', 'v1'), '{"formatVersion": 1, "name": "bad-manifest"');
    await expectUnavailable('/v1/models/bad-manifest/image.png?seed=a', /manifest\.json is invalid/);
    await bucket().put(registryKeys.manifest('bad-manifest', 'v1'), JSON.stringify({ formatVersion: 1, name: 'bad-manifest' }));
    await expectUnavailable('/v1/models/bad-manifest/image.png?seed=a', /manifest\.json is invalid/);
    await expectUnavailable('/v1/models/bad-manifest', /manifest\.json is invalid/);
  });

  it('a manifest missing from a version that has files', async () => {
    await publishFixture(bucket(), { name: 'no-manifest', version: 'v1', config: BLOBS_CONFIG });
    await bucket().delete(registryKeys.manifest('no-manifest', 'v1'));
    await expectUnavailable('/v1/models/no-manifest/image.png?seed=a', /manifest\.json is missing/);
    await expectUnavailable('/v1/models/no-manifest@v1/image.png?seed=a', /manifest\.json is missing/);
  });

  it('current.json naming a version that does not exist, or not a pointer at all', async () => {
    await setCurrent(bucket(), 'dangling', 'v9');
    await expectUnavailable('/v1/models/dangling/image.png?seed=a', /manifest\.json is missing/);
    await bucket().put(registryKeys.current('garbled'), 'not json');
    await expectUnavailable('/v1/models/garbled/image.png?seed=a', /current\.json/);
  });

  it('weights that do not fit the architecture', async () => {
    const published = await publishFixture(bucket(), { name: 'misfit', version: 'v1', config: BLOBS_CONFIG });
    // A consistent manifest (checksums match) whose architecture is wider than the weights.
    const manifest = { ...published.manifest, architecture: { ...BLOBS_CONFIG, generatorWidth: 8 } };
    await bucket().put(registryKeys.manifest('misfit', 'v1'), JSON.stringify(manifest));
    await expectUnavailable('/v1/models/misfit/image.png?seed=a', /shape|bytes/);
  });

  it('/v1/models lists a broken model as unavailable instead of failing', async () => {
    const { models } = await (await get('/v1/models')).json<{ models: { name: string; available: boolean; error?: { code: string } }[] }>();
    expect(models.find((m) => m.name === 'garbled')).toMatchObject({ available: false, error: { code: 'model_unavailable' } });
  });
});

describe('versions', () => {
  it('name@version keeps serving the old weights after current.json moves', async () => {
    await publishFixture(bucket(), { name: 'moving', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    const v1 = await png(await get('/v1/models/moving/image.png?seed=pin&class=1'));
    await publishFixture(bucket(), { name: 'moving', version: 'v2', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });

    const current = await get('/v1/models/moving/image.png?seed=pin&class=1');
    expect(current.headers.get('X-Model-Version')).toBe('v2');
    expect((await png(current)).bytes).not.toEqual(v1.bytes);

    const pinned = await get('/v1/models/moving@v1/image.png?seed=pin&class=1');
    expect(pinned.headers.get('X-Model-Version')).toBe('v1');
    expect((await png(pinned)).bytes).toEqual(v1.bytes);
    // Both versions are loaded side by side.
    const health = await (await get('/healthz')).json<{ versions: string[] }>();
    expect(health.versions).toEqual(expect.arrayContaining(['moving@v1', 'moving@v2']));
  });

  it('if current.json becomes unreadable, the last good version keeps serving', async () => {
    await publishFixture(bucket(), { name: 'flaky-pointer', version: 'v1', config: BLOBS_CONFIG });
    await png(await get('/v1/models/flaky-pointer/image.png?seed=a'));
    await bucket().put(registryKeys.current('flaky-pointer'), '{ half a pointer');
    const response = await get('/v1/models/flaky-pointer/image.png?seed=b');
    expect(response.headers.get('X-Model-Version')).toBe('v1');
    await png(response);
  });
});

describe('loading over HTTP', () => {
  it('a burst of cold requests reads the model from R2 once, and all are served', async () => {
    const published = await publishFixture(bucket(), { name: 'http-burst', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    type Health = { r2Reads: { files: number; manifest: number } };
    const before = (await (await get('/healthz')).json<Health>()).r2Reads;
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => get(`/v1/models/http-burst/image.png?seed=burst-${i}`)));
    for (const response of responses) await png(response);
    const after = (await (await get('/healthz')).json<Health>()).r2Reads;
    expect(after.files - before.files).toBe(published.files.size);
    expect(after.manifest - before.manifest).toBe(1);
  });
});

describe('the model store', () => {
  it('trusts current.json for its TTL, then sees a new publish', async () => {
    let now = 0;
    const store = new ModelStore(bucket(), { ...DEFAULTS, pointerTtlMs: 30_000, byteBudget: 1 << 30 }, { now: () => now });
    await publishFixture(bucket(), { name: 'ttl', version: 'v1', config: BLOBS_CONFIG });
    expect((await store.resolve({ name: 'ttl' })).version).toBe('v1');
    await publishFixture(bucket(), { name: 'ttl', version: 'v2', config: BLOBS_CONFIG });
    now = 29_000;
    expect((await store.resolve({ name: 'ttl' })).version).toBe('v1');
    now = 31_000;
    expect((await store.resolve({ name: 'ttl' })).version).toBe('v2');
    expect(store.reads.pointer).toBe(2);
  });

  it('concurrent first requests share one load', async () => {
    const published = await publishFixture(bucket(), { name: 'burst', version: 'v1', config: BLOBS_CONFIG });
    const store = new ModelStore(bucket(), { ...DEFAULTS, pointerTtlMs: 30_000, byteBudget: 1 << 30 });
    const model = await store.resolve({ name: 'burst' });
    const loads = await Promise.all(Array.from({ length: 8 }, () => store.load(model)));
    expect(new Set(loads).size).toBe(1);
    expect(store.reads.files).toBe(published.files.size);
  });

  it('evicts the least recently used model over the byte budget, and reloads it on demand', async () => {
    await publishFixture(bucket(), { name: 'lru-a', version: 'v1', config: BLOBS_CONFIG });
    await publishFixture(bucket(), { name: 'lru-b', version: 'v1', config: BLOBS_CONFIG });
    await publishFixture(bucket(), { name: 'lru-c', version: 'v1', config: BLOBS_CONFIG });
    const probe = new ModelStore(bucket(), { ...DEFAULTS, pointerTtlMs: 30_000, byteBudget: 1 << 30 });
    const size = (await probe.load(await probe.resolve({ name: 'lru-a' }))).bytes;
    const store = new ModelStore(bucket(), { ...DEFAULTS, pointerTtlMs: 30_000, byteBudget: 2 * size });
    const [a, b, c] = await Promise.all(['lru-a', 'lru-b', 'lru-c'].map((name) => store.resolve({ name })));
    const loadedA = await store.load(a);
    await store.load(b);
    await store.load(a); // a is now more recent than b
    await store.load(c); // over budget: b goes
    expect(
      store
        .status()
        .models.map((m) => m.name)
        .sort(),
    ).toEqual(['lru-a', 'lru-c']);
    expect(store.status().usedBytes).toBeLessThanOrEqual(2 * size);
    const reloadedB = await store.use(b, (m) => m.name);
    expect(reloadedB).toBe('lru-b');
    expect(loadedA.disposed).toBe(true); // a was least recently used when b came back
  });

  it('float16 weights load and render', async () => {
    await publishFixture(bucket(), { name: 'half', version: 'v1', config: BLOBS_CONFIG, float16: true });
    const full = await publishFixture(bucket(), { name: 'full', version: 'v1', config: BLOBS_CONFIG, weightsSeed: 'half@v1' });
    expect(full.manifest.weightsFormat).toBe('float32');
    const half = (await png(await get('/v1/models/half/image.png?seed=q'))).image.data;
    const single = (await png(await get('/v1/models/full/image.png?seed=q'))).image.data;
    // The same weights, rounded to half precision: nearly the same picture.
    let diff = 0;
    for (let i = 0; i < half.length; i++) diff = Math.max(diff, Math.abs(half[i] - single[i]));
    expect(diff).toBeLessThan(8);
  });
});
