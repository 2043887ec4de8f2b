/**
 * Per-client rate limiting with the Workers rate-limiting binding, in Miniflare. The worker runs with
 * the test-only strict limiters (5 requests, 2 grids per 60 s; tests/vitest.worker.config.ts) in place
 * of RATE_LIMITER and GRID_RATE_LIMITER, and a fresh app per test, so counts start from zero; the
 * deployed configuration is checked with wrangler.toml's own [[ratelimits]] values, bound under other
 * names (the suite's RATE_LIMITER gets limits it cannot reach).
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@gan/worker/app';
import type { Env } from '@gan/worker/env';
import { RATE_LIMIT_PERIODS } from '@gan/worker/rate-limit';
import { ORIGIN, errorBody, png } from './helpers.ts';
import { publishStandardFixtures } from './fixtures.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
});

/** Miniflare's limiter counts in fixed 60 s windows: start a test well inside one. */
async function awayFromWindowEdge() {
  const intoWindow = Date.now() % 60_000;
  if (intoWindow > 50_000) await new Promise((r) => setTimeout(r, 60_000 - intoWindow + 100));
}

let clients = 0;
/** A client address no other test uses (the limiter's buckets live as long as the runtime). */
const newClient = () => `203.0.113.${++clients}`;

interface Reads {
  keys: string[];
}

/** The worker with the strict limiters, and every R2 key it asks for. */
function strictWorker(overrides: Partial<Env> = {}) {
  const app = createApp();
  const reads: Reads = { keys: [] };
  const bucket = env.MODELS_BUCKET;
  const spy = {
    get: (key: string, options?: R2GetOptions) => (reads.keys.push(key), bucket.get(key, options)),
    head: (key: string) => (reads.keys.push(key), bucket.head(key)),
    list: (options?: R2ListOptions) => (reads.keys.push(`list:${options?.prefix ?? ''}`), bucket.list(options)),
  } as unknown as R2Bucket;
  const testEnv: Env = {
    ...env,
    MODELS_BUCKET: spy,
    RATE_LIMITER: env.STRICT_RATE_LIMITER,
    GRID_RATE_LIMITER: env.STRICT_GRID_RATE_LIMITER,
    ...overrides,
  };
  const fetch = async (path: string, client: string | undefined, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (client) headers.set('CF-Connecting-IP', client);
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`${ORIGIN}${path}`, { ...init, headers }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  return { fetch, reads };
}

async function expectLimited(response: Response, head = false, periodSeconds = 60) {
  expect(response.status).toBe(429);
  expect(response.headers.get('Retry-After')).toBe(String(periodSeconds));
  expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
  expect(response.headers.get('Access-Control-Expose-Headers')).toMatch(/Retry-After/);
  expect(response.headers.get('Cache-Control')).toBe('no-store');
  expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff');
  if (head) return expect((await response.arrayBuffer()).byteLength).toBe(0);
  const body = await errorBody(response);
  expect(body.error.code).toBe('rate_limited');
  expect(body.error.message).toMatch(new RegExp(`retry after ${periodSeconds} s`));
}

describe('the deployed configuration', () => {
  interface RateLimitTable {
    name: string;
    namespace_id: string;
    simple: { limit: number; period: number };
  }
  const deployed = JSON.parse(env.DEPLOYED_RATE_LIMITS) as RateLimitTable[];
  const table = (name: string) => deployed.find((t) => t.name === name)!;

  it('wrangler.toml deploys both limiters, with the limits and periods the worker answers with', () => {
    // A change here changes what clients get: say so in the README's 429 line and the commit.
    expect(deployed.map((t) => [t.name, t.simple])).toEqual([
      ['RATE_LIMITER', { limit: 300, period: 60 }],
      ['GRID_RATE_LIMITER', { limit: 30, period: 60 }],
    ]);
    expect(new Set(deployed.map((t) => t.namespace_id)).size).toBe(2);
    for (const t of deployed) expect(RATE_LIMIT_PERIODS).toContain(t.simple.period);
    // A grid is up to 256 generator passes: its limit is the tighter one.
    expect(table('GRID_RATE_LIMITER').simple.limit).toBeLessThan(table('RATE_LIMITER').simple.limit);
  });

  it('binds both limiters in the worker', async () => {
    expect(typeof env.RATE_LIMITER?.limit).toBe('function');
    expect(typeof env.GRID_RATE_LIMITER?.limit).toBe('function');
    expect(await env.RATE_LIMITER!.limit({ key: 'probe' })).toEqual({ success: true });
  });

  it('with the deployed limits: request limit + 1 gets 429, Retry-After is the deployed period', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker({ RATE_LIMITER: env.DEPLOYED_RATE_LIMITER, GRID_RATE_LIMITER: env.DEPLOYED_GRID_RATE_LIMITER });
    const client = newClient();
    const { limit, period } = table('RATE_LIMITER').simple;
    for (let i = 0; i < limit; i++) {
      const response = await worker.fetch('/healthz', client);
      expect(response.status, `request ${i + 1} of ${limit}`).toBe(200);
      await response.arrayBuffer();
    }
    await expectLimited(await worker.fetch('/healthz', client), false, period);
  });

  it('with the deployed limits: grid limit + 1 gets 429 while images are still served', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker({ RATE_LIMITER: env.DEPLOYED_RATE_LIMITER, GRID_RATE_LIMITER: env.DEPLOYED_GRID_RATE_LIMITER });
    const client = newClient();
    const { limit, period } = table('GRID_RATE_LIMITER').simple;
    for (let i = 0; i < limit; i++) await png(await worker.fetch(`/v1/models/digits/grid.png?seed=d${i}&rows=1&cols=1`, client));
    const over = await worker.fetch('/v1/models/digits/grid.png?seed=over&rows=1&cols=1', client);
    await expectLimited(over, false, period);
    await png(await worker.fetch('/v1/models/digits/image.png?seed=after-grids', client));
  });
});

describe('per-client rate limits', () => {
  it('the request over the limit gets 429 with Retry-After and CORS, before any R2 read', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker();
    const client = newClient();
    for (let i = 0; i < 5; i++) await png(await worker.fetch(`/v1/models/digits/image.png?seed=rl-${i}`, client));
    const readsBefore = worker.reads.keys.length;
    await expectLimited(await worker.fetch('/v1/models/digits/image.png?seed=rl-over', client));
    // A model never loaded, an unknown one: still refused without touching R2.
    await expectLimited(await worker.fetch('/v1/models/blobs/grid.png?seed=x', client));
    await expectLimited(await worker.fetch('/v1/models/nosuch/image.png', client));
    await expectLimited(await worker.fetch('/v1/models', client, { method: 'HEAD' }), true);
    expect(worker.reads.keys.length).toBe(readsBefore);
  });

  it('counts each client on its own: another address is still served', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker();
    const [noisy, quiet] = [newClient(), newClient()];
    for (let i = 0; i < 5; i++) await (await worker.fetch('/healthz', noisy)).arrayBuffer();
    await expectLimited(await worker.fetch('/healthz', noisy));
    await png(await worker.fetch('/v1/models/digits/image.png?seed=quiet', quiet));
  });

  it('is keyed by CF-Connecting-IP: X-Forwarded-For and other client-set headers change nothing', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker();
    const client = newClient();
    for (let i = 0; i < 5; i++) {
      const spoof = { 'X-Forwarded-For': `198.51.100.${i}`, 'X-Real-IP': `198.51.100.${i}`, 'True-Client-IP': `198.51.100.${i}` };
      await (await worker.fetch('/v1/openapi.json', client, { headers: spoof })).arrayBuffer();
    }
    await expectLimited(await worker.fetch('/v1/openapi.json', client, { headers: { 'X-Forwarded-For': '198.51.100.99' } }));
  });

  it('grids have their own, smaller limit; images keep being served', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker();
    const client = newClient();
    await png(await worker.fetch('/v1/models/digits/grid.png?seed=g1&rows=2&cols=2', client));
    await png(await worker.fetch('/v1/models/digits/grid.png?seed=g2&rows=2&cols=2', client));
    const third = await worker.fetch('/v1/models/digits/grid.png?seed=g3&rows=2&cols=2', client);
    await expectLimited(third);
    expect((await errorBody(await worker.fetch('/v1/models/digits/grid.png?seed=g4', client))).error.message).toMatch(
      /too many grid requests/,
    );
    // 4 of the 5 requests are spent; the image route still answers.
    await png(await worker.fetch('/v1/models/digits/image.png?seed=after-grids', client));
  });

  it('CORS preflights are never limited', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker();
    const client = newClient();
    for (let i = 0; i < 5; i++) await (await worker.fetch('/', client)).arrayBuffer();
    const preflight = await worker.fetch('/v1/models/digits/image.png', client, {
      method: 'OPTIONS',
      headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    await expectLimited(await worker.fetch('/', client));
  });

  it('requests without CF-Connecting-IP (local tools) share one bucket', async () => {
    await awayFromWindowEdge();
    const worker = strictWorker();
    for (let i = 0; i < 5; i++) await (await worker.fetch('/healthz', undefined)).arrayBuffer();
    await expectLimited(await worker.fetch('/healthz', undefined));
  });

  it('a failing limiter lets requests through; no binding means no limit', async () => {
    const broken: RateLimit = {
      limit: async () => {
        throw new Error('limiter unavailable');
      },
    };
    const failing = strictWorker({ RATE_LIMITER: broken, GRID_RATE_LIMITER: broken });
    const unbound = strictWorker({ RATE_LIMITER: undefined, GRID_RATE_LIMITER: undefined });
    const client = newClient();
    for (let i = 0; i < 8; i++) {
      await png(await failing.fetch(`/v1/models/blobs/grid.png?seed=f${i}&rows=1&cols=2`, client));
      await png(await unbound.fetch(`/v1/models/blobs/grid.png?seed=u${i}&rows=1&cols=2`, client));
    }
  });
});
