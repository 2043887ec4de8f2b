/**
 * R2 faults beyond missing and corrupt objects (tests/worker/model-store.test.ts): slow, stalled and
 * failing R2 calls, and current.json moving to a version that cannot be served. The worker runs in
 * workerd over Miniflare's R2, behind a wrapper that injects the fault; each test has its own app and
 * store (a fresh isolate's state).
 *
 * What must hold: a 503 with Retry-After (JSON, CORS) rather than a hang or a 500; the last good
 * version keeps serving, under its own name; pinned versions are never served from another; and once
 * R2 is well again the same isolate serves without a restart.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { registryKeys } from '@gan/registry/layout';
import { describe, expect, it } from 'vitest';
import { createApp } from '@gan/worker/app';
import { parseWorkerConfig } from '@gan/worker/config';
import { ModelStore } from '@gan/worker/model-store';
import { BLOBS_CONFIG, DIGITS_CLASSES, DIGITS_CONFIG, publishFixture, setCurrent } from './fixtures.ts';
import { ORIGIN, errorBody, png } from './helpers.ts';

const bucket = () => env.MODELS_BUCKET;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Faults {
  /** Calls for these keys wait until `release()`. */
  hold: (key: string) => boolean;
  release: () => void;
  /** Calls for these keys never answer. */
  stall: (key: string) => boolean;
  /** Calls for these keys throw, as R2 does on an internal error. */
  fail: (key: string) => boolean;
  /** How many calls `fail` made throw. */
  failed: number;
  calls: string[];
}

function faultyBucket(inner: R2Bucket): { bucket: R2Bucket; faults: Faults } {
  let released!: () => void;
  const held = new Promise<void>((resolve) => (released = resolve));
  const faults: Faults = { hold: () => false, release: () => released(), stall: () => false, fail: () => false, failed: 0, calls: [] };
  const gate = async (key: string) => {
    faults.calls.push(key);
    if (faults.stall(key)) await new Promise(() => {});
    if (faults.hold(key)) await held;
    if (faults.fail(key)) {
      faults.failed++;
      throw new Error('We encountered an internal error. Please try again. (injected)');
    }
  };
  const wrapped = {
    get: async (key: string, options?: R2GetOptions) => (await gate(key), inner.get(key, options)),
    head: async (key: string) => (await gate(key), inner.head(key)),
    list: async (options?: R2ListOptions) => (await gate(`list:${options?.prefix ?? ''}`), inner.list(options)),
  } as unknown as R2Bucket;
  return { bucket: wrapped, faults };
}

/** A worker with its own store over a faulty view of the test bucket. */
function worker(options: { r2TimeoutMs?: number; pointerTtlMs?: number; now?: () => number } = {}) {
  const { bucket: faulty, faults } = faultyBucket(bucket());
  const defaults = parseWorkerConfig({});
  const store = new ModelStore(
    faulty,
    { pointerTtlMs: options.pointerTtlMs ?? 0, byteBudget: 64 << 20, r2TimeoutMs: options.r2TimeoutMs ?? defaults.r2TimeoutMs },
    { now: options.now },
  );
  const app = createApp({ storeFor: () => store });
  const get = async (path: string) => {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`${ORIGIN}${path}`), env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  return { get, faults, store };
}

async function expectUnavailable(response: Response, reason: RegExp, code = 'model_unavailable') {
  expect(response.status).toBe(503);
  expect(response.headers.get('Retry-After')).toBe('30');
  expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
  const body = await errorBody(response);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(reason);
}

describe('slow and stalled R2', () => {
  it('slow R2: a cold burst is served by one load, and a loaded model is not held up by it', async () => {
    const published = await publishFixture(bucket(), { name: 'slow', version: 'v1', config: BLOBS_CONFIG });
    await publishFixture(bucket(), { name: 'quick', version: 'v1', config: BLOBS_CONFIG });
    const w = worker();
    await png(await w.get('/v1/models/quick/image.png?seed=warm'));
    // R2 holds every read of the slow model until released: the burst waits on one load.
    w.faults.hold = (key) => key.startsWith('models/slow/');
    const burst = Promise.all(Array.from({ length: 8 }, (_, i) => w.get(`/v1/models/slow/image.png?seed=s${i}`)));
    await sleep(50);
    // While the slow model loads, the loaded one answers (a hold-up here would never answer). How
    // long it takes is a benchmark's question (RELIABILITY.md), not this test's.
    await png(await w.get('/v1/models/quick/image.png?seed=meanwhile'));
    w.faults.release();
    for (const response of await burst) await png(response);
    const fileReads = w.faults.calls.filter((k) => k.startsWith('models/slow/v1/') && !k.endsWith('manifest.json'));
    expect(fileReads.length).toBe(published.files.size);
  });

  it('a stalled R2 read gives 503 at the deadline, leaves nothing stuck, and the isolate heals', async () => {
    await publishFixture(bucket(), { name: 'stall', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    const w = worker({ r2TimeoutMs: 300 });
    w.faults.stall = (key) => key.endsWith('.bin');
    // Without the deadline these would never answer (the test would time out); the message says it fired.
    const responses = await Promise.all([w.get('/v1/models/stall/image.png?seed=a'), w.get('/v1/models/stall/grid.png?seed=a')]);
    for (const response of responses) await expectUnavailable(response, /R2 did not answer within 0\.3 s/);
    // The manifest stalls too now: still a 503, not a hang.
    w.faults.stall = (key) => key.endsWith('manifest.json') || key.endsWith('.bin');
    await expectUnavailable(await w.get('/v1/models/stall@v1/image.png?seed=a'), /did not answer/);
    // R2 answers again: the same store loads and serves.
    w.faults.stall = () => false;
    await png(await w.get('/v1/models/stall/image.png?seed=a'));
    await png(await w.get('/v1/models/stall@v1/image.png?seed=a'));
  });

  it('a stalled current.json keeps the last version it named serving', async () => {
    await publishFixture(bucket(), { name: 'stall-pointer', version: 'v1', config: BLOBS_CONFIG });
    const w = worker({ r2TimeoutMs: 200 });
    await png(await w.get('/v1/models/stall-pointer/image.png?seed=a'));
    w.faults.stall = (key) => key.endsWith('current.json');
    const response = await w.get('/v1/models/stall-pointer/image.png?seed=b');
    expect(response.headers.get('X-Model-Version')).toBe('v1');
    await png(response);
  });

  it('a stalled listing gives 503 storage_unavailable for /v1/models', async () => {
    const w = worker({ r2TimeoutMs: 200 });
    w.faults.stall = (key) => key.startsWith('list:');
    await expectUnavailable(await w.get('/v1/models'), /registry could not be read/, 'storage_unavailable');
    w.faults.stall = () => false;
    expect((await w.get('/v1/models')).status).toBe(200);
  });

  it('R2 failing a third of its calls under a burst: every answer is a PNG or a 503, then all PNGs', async () => {
    await publishFixture(bucket(), { name: 'flaky', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    const w = worker();
    let n = 0;
    w.faults.fail = () => n++ % 3 === 1;
    const responses = await Promise.all(
      Array.from({ length: 24 }, (_, i) => w.get(`/v1/models/flaky/${i % 2 ? 'grid' : 'image'}.png?seed=f${i}`)),
    );
    const statuses = new Set<number>();
    for (const response of responses) {
      statuses.add(response.status);
      if (response.status === 200) await png(response);
      else await expectUnavailable(response, /unavailable/);
    }
    expect([...statuses].every((s) => s === 200 || s === 503)).toBe(true);
    // The faults were injected and reached a client as 503s, not swallowed or retried away.
    expect(w.faults.failed).toBeGreaterThan(0);
    expect(statuses.has(503)).toBe(true);
    w.faults.fail = () => false;
    for (let i = 0; i < 4; i++) await png(await w.get(`/v1/models/flaky/image.png?seed=after${i}`));
  });
});

describe('current.json moves to a version that cannot be served: the last good version keeps serving', () => {
  // [what current.json moves to, the move, the version it names, why it cannot be served, its status by name]
  const moves: [string, (name: string) => Promise<void>, string, RegExp, number][] = [
    ['a version that does not exist', (name) => setCurrent(bucket(), name, 'v9'), 'v9', /manifest\.json is missing/, 404],
    [
      'a version with a corrupt shard',
      async (name) => {
        const v2 = await publishFixture(bucket(), { name, version: 'v2', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
        const shard = v2.shardPaths[0];
        const bad = v2.files.get(shard)!.slice();
        bad[10] ^= 0xff;
        await bucket().put(registryKeys.file(name, 'v2', shard), bad);
      },
      'v2',
      /sha256/,
      503,
    ],
    [
      'a version whose manifest is not a manifest',
      async (name) => {
        await publishFixture(bucket(), { name, version: 'v2', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
        await bucket().put(registryKeys.manifest(name, 'v2'), '{"formatVersion": 1}');
      },
      'v2',
      /manifest\.json is invalid/,
      503,
    ],
  ];

  it.each(moves)('%s', async (label, move, broken, reason, pinnedStatus) => {
    const name = `fallback-${moves.findIndex(([l]) => l === label)}`;
    await publishFixture(bucket(), { name, version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    const w = worker();
    const before = await w.get(`/v1/models/${name}/image.png?seed=keep&class=1`);
    const v1 = await png(before);
    const etag = before.headers.get('ETag');

    await move(name);
    for (let i = 0; i < 3; i++) {
      const response = await w.get(`/v1/models/${name}/image.png?seed=keep&class=1`);
      expect(response.headers.get('X-Model-Version')).toBe('v1');
      expect(response.headers.get('ETag')).toBe(etag); // labelled as the version it is
      expect((await png(response)).bytes).toEqual(v1.bytes);
    }
    const grid = await w.get(`/v1/models/${name}/grid.png?seed=keep&class=each`);
    expect(grid.headers.get('X-Model-Version')).toBe('v1');
    await png(grid);
    // Asking for the broken version by name is never answered by another version.
    const pinned = await w.get(`/v1/models/${name}@${broken}/image.png?seed=keep`);
    expect(pinned.status).toBe(pinnedStatus);
    await errorBody(pinned);
    // /healthz says what is happening.
    const health = await (await w.get('/healthz')).json<{ fallbacks: unknown[] }>();
    expect(health.fallbacks).toEqual([{ model: name, wanted: broken, serving: 'v1', reason: expect.stringMatching(reason), count: 4 }]);

    // A good v2 is published (or repaired): the same isolate moves on to it.
    await publishFixture(bucket(), { name, version: 'v3', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    const fixed = await w.get(`/v1/models/${name}/image.png?seed=keep&class=1`);
    expect(fixed.headers.get('X-Model-Version')).toBe('v3');
    expect((await png(fixed)).bytes).not.toEqual(v1.bytes);
    expect(w.store.status().fallbacks).toEqual([]);
  });

  it('the fallback is validated against the version it serves', async () => {
    // v1 is unconditional; the broken v2 would have had classes. class=1 is refused by v1 with 400.
    await publishFixture(bucket(), { name: 'fallback-shape', version: 'v1', config: BLOBS_CONFIG });
    const w = worker();
    await png(await w.get('/v1/models/fallback-shape/image.png?seed=a'));
    const v2 = await publishFixture(bucket(), { name: 'fallback-shape', version: 'v2', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
    await bucket().delete(registryKeys.file('fallback-shape', 'v2', v2.shardPaths[0]));
    const response = await w.get('/v1/models/fallback-shape/image.png?seed=a&class=1');
    expect(response.status).toBe(400);
    expect((await errorBody(response)).error.message).toMatch(/unconditional/);
    const plain = await w.get('/v1/models/fallback-shape/image.png?seed=a');
    expect(plain.headers.get('X-Model-Version')).toBe('v1');
    await png(plain);
  });

  it('without a good version seen before (a fresh isolate), a 503', async () => {
    await publishFixture(bucket(), { name: 'fresh-broken', version: 'v1', config: BLOBS_CONFIG });
    await setCurrent(bucket(), 'fresh-broken', 'v7');
    await expectUnavailable(await worker().get('/v1/models/fresh-broken/image.png?seed=a'), /manifest\.json is missing/);
  });
});

describe('unknown models', () => {
  it('a missing model name is remembered for the pointer TTL: one R2 read, not one per request', async () => {
    let now = 1_000;
    const w = worker({ pointerTtlMs: 30_000, now: () => now });
    for (let i = 0; i < 5; i++) {
      const response = await w.get('/v1/models/mistyped/image.png?seed=a');
      expect(response.status).toBe(404);
      expect((await errorBody(response)).error.code).toBe('model_not_found');
    }
    expect((await errorBody(await w.get('/v1/models/mistyped'))).error.code).toBe('model_not_found');
    expect(w.faults.calls.filter((k) => k === registryKeys.current('mistyped'))).toHaveLength(1);
    // Published meanwhile: seen once the TTL has passed, like any move of current.json.
    await publishFixture(bucket(), { name: 'mistyped', version: 'v1', config: BLOBS_CONFIG });
    now += 31_000;
    await png(await w.get('/v1/models/mistyped/image.png?seed=a'));
  });
});
