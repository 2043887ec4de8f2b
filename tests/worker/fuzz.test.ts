/**
 * Property-based fuzzing of every route and parameter inside workerd (fast-check): random and
 * hostile strings, huge numbers, -0, NaN, unicode (lone surrogates included), repeated and unknown
 * parameters, odd methods and headers, very long URLs, and path tricks in the model name (`..`,
 * `%2F`, encoded NULs, backslashes, double encoding).
 *
 * Every route is fuzzed: image.png, grid.png, morph.png and walk.gif (walks fewer times: a valid one
 * renders up to hundreds of frames). Every response must be a 2xx/3xx/4xx, never a 5xx and never a
 * hang; a 200 image is a PNG or GIF a real decoder accepts, within the output or walk bounds; every
 * error is the documented JSON body with CORS. R2 is
 * watched through a wrapper around the binding: every key and list prefix the worker asks for must lie
 * under models/<valid name>/, nothing is ever written, and a request refused with 400 reads no weights.
 * The tfjs tensor count is taken before the fuzzing and must be the same after it, and after loads
 * that fail with 503.
 */
import { env } from 'cloudflare:workers';
import { SELF, createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import fc from 'fast-check';
import { registryKeys } from '@gan/registry/layout';
import { decode } from 'fast-png';
import { GifReader } from 'omggif';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@gan/worker/app';
import type { Env } from '@gan/worker/env';
import { LIMITS } from '@gan/worker/validation';
import { publishFixture, publishStandardFixtures, DIGITS_CLASSES, DIGITS_CONFIG } from './fixtures.ts';
import { ORIGIN } from './helpers.ts';

// -------------------------------------------------------------------------------------------------
// The worker, with R2 behind a wrapper that records every key.

const MODEL_NAME = '[a-z0-9][a-z0-9-]{0,63}';
const VERSION = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';
const FILE = '[A-Za-z0-9][A-Za-z0-9._-]*';
const ALLOWED_KEY = new RegExp(`^models/${MODEL_NAME}/(?:current\\.json|${VERSION}/${FILE})$`);
const ALLOWED_PREFIX = new RegExp(`^models/(?:${MODEL_NAME}/${VERSION}/)?$`);
/** Keys a refused request may read: resolving the model, never its weights. */
const RESOLVE_KEY = /(?:^list:|\/current\.json$|\/manifest\.json$)/;

const r2 = { keys: [] as string[], writes: 0 };

const watchedBucket = (inner: R2Bucket): R2Bucket =>
  ({
    get: (key: string, options?: R2GetOptions) => (r2.keys.push(key), inner.get(key, options)),
    head: (key: string) => (r2.keys.push(key), inner.head(key)),
    list: (options?: R2ListOptions) => (r2.keys.push(`list:${options?.prefix ?? ''}`), inner.list(options)),
    put: () => (r2.writes++, Promise.reject(new Error('the worker must not write to R2'))),
    delete: () => (r2.writes++, Promise.reject(new Error('the worker must not write to R2'))),
    createMultipartUpload: () => (r2.writes++, Promise.reject(new Error('the worker must not write to R2'))),
  }) as unknown as R2Bucket;

const app = createApp();
let watchedEnv: Env;
let tensorsBefore: number;

/** One request of each servable model: loads every generator a fuzzed request can reach. */
const WARM_UP = [
  '/v1/models/digits/grid.png?seed=warm',
  '/v1/models/blobs/image.png?seed=warm&size=40',
  '/v1/models/digits@v2/image.png?seed=warm',
];

async function unwatchedFetch(path: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${ORIGIN}${path}`), watchedEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function expectPng(path: string): Promise<void> {
  const response = await unwatchedFetch(path);
  expect(response.status, path).toBe(200);
  decode(new Uint8Array(await response.arrayBuffer()));
}

/** Live tensors in the worker's tfjs engine, as /healthz reports them. */
async function tensors(): Promise<number> {
  const health = await unwatchedFetch('/healthz');
  expect(health.status).toBe(200);
  return (await health.json<{ memory: { tensors: number } }>()).memory.tensors;
}
let cases = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
  // A second, pinned-only version: `digits@v2` exists but is not current.
  await publishFixture(env.MODELS_BUCKET, {
    name: 'digits',
    version: 'v2',
    config: DIGITS_CONFIG,
    classes: DIGITS_CLASSES,
    makeCurrent: false,
  });
  watchedEnv = { ...env, MODELS_BUCKET: watchedBucket(env.MODELS_BUCKET) };
  // Every model the fuzzing can reach is loaded first: from here on, only the loaded generators'
  // folded weights may stay alive between requests, whatever path a request took.
  for (const path of WARM_UP) await expectPng(path);
  tensorsBefore = await tensors();
});

afterAll(() => {
  const byStatus = [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');
  console.log(`fuzz: ${cases} requests (${byStatus}), ${r2.keys.length} R2 reads checked`);
});

const HANG_MS = 20_000;

function withinTime<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no response within ${HANG_MS} ms: ${what}`)), HANG_MS);
  });
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

/** Builds the Request, or undefined where the URL itself is not one (the client could not send it). */
function toRequest(r: FuzzRequest): Request | undefined {
  try {
    const body = r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH' ? 'x' : undefined;
    return new Request(`${ORIGIN}${r.path}`, { method: r.method, headers: r.headers, body });
  } catch {
    return undefined;
  }
}

async function sendWatched(r: FuzzRequest): Promise<{ response: Response; keys: string[] } | undefined> {
  const request = toRequest(r);
  if (!request) return undefined;
  const from = r2.keys.length;
  const ctx = createExecutionContext();
  const response = await withinTime(Promise.resolve(app.fetch(request, watchedEnv, ctx)), `${r.method} ${r.path.slice(0, 200)}`);
  await waitOnExecutionContext(ctx);
  cases++;
  statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  return { response, keys: r2.keys.slice(from) };
}

// -------------------------------------------------------------------------------------------------
// What every response must be.

const ERROR_CODES = ['invalid_parameter', 'model_not_found', 'version_not_found', 'not_found', 'method_not_allowed', 'rate_limited'];

async function checkResponse(r: FuzzRequest, response: Response, keys: string[]): Promise<void> {
  const label = `${r.method} ${r.path.slice(0, 300)} → ${response.status}`;
  expect(response.status, label).toBeLessThan(500);
  expect(response.headers.get('Access-Control-Allow-Origin'), label).toBe('*');
  // Preflights are answered by the CORS middleware alone, with no body to sniff.
  if (response.status !== 204) expect(response.headers.get('X-Content-Type-Options'), label).toBe('nosniff');

  for (const key of keys) {
    if (key.startsWith('list:')) expect(key.slice(5), label).toMatch(ALLOWED_PREFIX);
    else expect(key, label).toMatch(ALLOWED_KEY);
  }
  expect(r2.writes, label).toBe(0);

  const bytes = new Uint8Array(await response.arrayBuffer());
  if (r.method === 'HEAD' || response.status === 204 || response.status === 304) {
    expect(bytes.byteLength, label).toBe(0);
    return;
  }
  const type = response.headers.get('Content-Type') ?? '';
  if (response.status >= 400) {
    expect(type, label).toMatch(/^application\/json/);
    const body = JSON.parse(new TextDecoder().decode(bytes)) as { error: Record<string, unknown> };
    expect(Object.keys(body), label).toEqual(['error']);
    expect(
      Object.keys(body.error).every((k) => ['code', 'message', 'parameter'].includes(k)),
      label,
    ).toBe(true);
    expect(ERROR_CODES, label).toContain(body.error.code);
    expect(typeof body.error.message, label).toBe('string');
    expect(body.error.message as string, label).not.toMatch(/\n\s+at |Error:/);
    expect(bytes.byteLength, label).toBeLessThan(2048); // echoes of the input are cut short
    expect(response.headers.get('Cache-Control'), label).toBe('no-store');
    if (response.status === 400) {
      // Refused before any work: at most the pointer and manifest were read, never the weights.
      for (const key of keys) expect(key, label).toMatch(RESOLVE_KEY);
    }
    return;
  }
  expect(response.status, label).toBe(200);
  if (type === 'image/png') {
    const image = decode(bytes); // throws on a broken signature, CRC or zlib stream
    expect(image.width * image.height, label).toBeLessThanOrEqual(LIMITS.maxOutputPixels);
    expect(image.width, label).toBeGreaterThan(0);
    if (r.path.includes('/image.png')) expect(image.width, label).toBe(image.height);
    if (r.path.includes('/morph.png')) expect(image.height, label).toBeLessThanOrEqual(image.width);
  } else if (type === 'image/gif') {
    const gif = new GifReader(bytes); // throws on a broken header or block structure
    const frames = gif.numFrames();
    expect(frames, label).toBeGreaterThanOrEqual(2);
    expect(gif.width, label).toBe(gif.height);
    expect(gif.width, label).toBeLessThanOrEqual(LIMITS.maxWalkSize);
    expect(frames * gif.width * gif.height, label).toBeLessThanOrEqual(LIMITS.maxWalkPixels);
    const rgba = new Uint8Array(gif.width * gif.height * 4);
    for (let f = 0; f < frames; f++) gif.decodeAndBlitFrameRGBA(f, rgba); // and on a broken LZW stream
  } else if (type.startsWith('application/json')) {
    JSON.parse(new TextDecoder().decode(bytes));
  } else {
    expect(type, label).toMatch(/^text\/html/);
  }
}

// -------------------------------------------------------------------------------------------------
// Arbitraries.

/** encodeURIComponent, or the text as it is where it cannot be encoded (lone surrogates). */
const encode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return s;
  }
};

const NASTY = [
  '',
  ' ',
  '-0',
  '+0',
  '0',
  '-1',
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '1e308',
  '1e309',
  '-1e308',
  '5e-324',
  '0x10',
  '0o20',
  '0b10000',
  '1_6',
  ' 16',
  '16 ',
  '+16',
  '16.0',
  '16.',
  '.16',
  '016',
  '00000000016',
  '1,6',
  '\u0661\u0666',
  '\uFF11\uFF16',
  '16\u0000',
  '\u0000',
  '\uFFFF',
  '\uFEFF16',
  '\u202E61',
  '%',
  '%%',
  '%00',
  '%0',
  '%zz',
  '9'.repeat(400),
  '-' + '9'.repeat(400),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'each',
  'EACH',
  'nearest',
  'NEAREST',
  'bilinear',
  'true',
  'null',
  'undefined',
  '[]',
  '{}',
  '../..',
  '..\\..',
  '<script>',
  "'; DROP TABLE",
  '${7*7}',
  '{{7*7}}',
  '\r\nX-Injected: 1',
  '😀',
  '🏳️‍🌈',
  'ǅ',
  'ß',
  'İ',
  '\u0300',
];

const hostile = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.double().map(String),
  fc.integer().map(String),
  fc.bigInt().map(String),
);

const small = (min: number, max: number) => fc.integer({ min, max }).map(String);

// Valid values are kept small (size ≤ 40), so thousands of rendered cases fit in the time the file has.
const valueFor: Record<string, fc.Arbitrary<string>> = {
  seed: fc.oneof(hostile, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 128 }), fc.string({ minLength: 120, maxLength: 140 })),
  size: fc.oneof(small(8, 40), fc.constantFrom('7', '8', '16', '512', '513', '1024'), hostile),
  rows: fc.oneof(small(0, 17), hostile),
  cols: fc.oneof(small(0, 17), hostile),
  padding: fc.oneof(small(0, 33), hostile),
  filter: fc.oneof(fc.constantFrom('bilinear', 'nearest'), hostile),
  class: fc.oneof(fc.constantFrom('0', '1', '2', '3', 'zero', 'one', 'two', 'each', '-0', '00'), hostile),
  truncation: fc.oneof(
    fc.double({ min: 0, max: 1.5, noNaN: true }).map(String),
    fc.constantFrom('1', '0.5', '.5', '1.', '0', '-0', '0.0', '1.0000000000001', '0.000000000001', '1e-3'),
    hostile,
  ),
};

/** walk.gif's own parameters besides the image's (rows, cols and padding are refused there). */
const { rows, cols, padding, ...imageValueFor } = valueFor;
const walkValueFor: Record<string, fc.Arbitrary<string>> = {
  ...imageValueFor,
  size: fc.oneof(small(8, 40), fc.constantFrom('7', '8', '16', '23', '24', '256', '257', '512'), hostile),
  keys: fc.oneof(small(0, 17), fc.constantFrom('2', '16'), hostile),
  frames: fc.oneof(small(0, 31), fc.constantFrom('1', '30'), hostile),
  fps: fc.oneof(small(0, 31), hostile),
};

/** morph.png's parameters: `from`, `to` and `to_class` instead of `seed`, a strip of `steps`. */
const { seed, ...morphImageValueFor } = imageValueFor;
const morphValueFor: Record<string, fc.Arbitrary<string>> = {
  ...morphImageValueFor,
  padding,
  from: valueFor.seed,
  to: valueFor.seed,
  steps: fc.oneof(small(0, 17), hostile),
  to_class: valueFor.class,
};

/** A query string: parameters encoded (mostly) or raw, sometimes repeated, sometimes without `=`. */
function queryOf(values: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const known = Object.keys(values);
  const param = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...known).chain((key) => values[key].map((value) => [key, value] as const)) },
    { weight: 1, arbitrary: fc.tuple(hostile, hostile) },
  );
  return fc.array(fc.tuple(param, fc.constantFrom('encoded', 'encoded', 'encoded', 'raw', 'bare')), { maxLength: 7 }).map((pairs) => {
    if (pairs.length === 0) return '';
    const parts = pairs.map(([[k, v], how]) => (how === 'encoded' ? `${encode(k)}=${encode(v)}` : how === 'raw' ? `${k}=${v}` : encode(k)));
    return `?${parts.join('&')}`;
  });
}
const query = queryOf(valueFor);

const PATH_TRICKS = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2E',
  '%2e',
  '..%2F..%2Fsecret',
  '%2F',
  '%2f',
  'digits%2F..%2F..%2Fetc',
  'digits%2Fv1',
  'digits%00',
  '%00',
  'digits%2500',
  '%252e%252e%252f',
  'digits@..',
  'digits@..%2F..%2Fblobs',
  'digits@v1%2F..%2F..',
  'digits@v1%00',
  'digits@%2e%2e',
  '..%5C..%5Cx',
  'digits%5C..',
  'digits%5Cv1',
  '%C0%AE%C0%AE',
  '%EF%BC%8E%EF%BC%8E',
  'models%2Fdigits',
  'digits%2Fcurrent.json',
  'digits@current.json',
  'digits@manifest.json',
  'digits@v1%2Fmodel.json',
  'a'.repeat(64),
  'a'.repeat(65),
  `digits@${'v'.repeat(64)}`,
  `digits@${'v'.repeat(65)}`,
  'DIGITS',
  'Digits',
  'digits%20',
  '%20digits',
  'digits%0A',
  'digits%0D%0AX:1',
  'd%C3%ADgits',
  '@v1',
  'digits@',
  'digits@@v1',
  'digits@v1@v2',
  'digits@.hidden',
  'digits@v1.',
  'digits@-v1',
  'digits@_',
  'digits@v1..',
  '-digits',
  'digits-',
  '%40',
  'digits%40v1',
  'blobs%40v1',
  '%F0%9F%98%80',
  '%FF',
  '%ZZ',
  '%',
  'digits;v1',
  'digits?x',
  'digits%23x',
];

const modelSegment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('digits', 'blobs', 'digits@v1', 'digits@v2', 'blobs@v1', 'nosuch', 'digits@v9', 'x') },
  { weight: 4, arbitrary: fc.constantFrom(...PATH_TRICKS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('digits', 'blobs', ''), fc.constantFrom(...PATH_TRICKS)).map(([a, b]) => a + b) },
  { weight: 2, arbitrary: hostile.map(encode) },
);

const imageKind = fc.constantFrom('image.png', 'grid.png');

const headerArb = fc.record(
  {
    'If-None-Match': fc.oneof(
      fc.constant('*'),
      fc.constant('"0"'),
      hostile.map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    ),
    Origin: fc.constantFrom('https://elsewhere.example', 'null', 'http://localhost'),
    'CF-Connecting-IP': fc.oneof(fc.ipV4(), fc.ipV6()),
    Accept: fc.constantFrom('*/*', 'image/webp', 'application/json', 'text/html'),
  },
  { requiredKeys: [] },
);

const GET = fc.constant('GET');
const anyMethod = fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH');

const imageRequest = fc
  .record({
    method: fc.oneof({ weight: 9, arbitrary: GET }, { weight: 1, arbitrary: fc.constant('HEAD') }),
    model: fc.constantFrom('digits', 'blobs', 'digits@v1', 'digits@v2'),
    kind: imageKind,
    query,
  })
  .map(({ method, model, kind, query }): FuzzRequest => ({ method, path: `/v1/models/${model}/${kind}${query}`, headers: {} }));

/** Requests of one route of a servable model with that route's parameters, random and hostile. */
const routeRequest = (route: string, values: Record<string, fc.Arbitrary<string>>) =>
  fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: GET }, { weight: 1, arbitrary: fc.constant('HEAD') }),
      model: fc.constantFrom('digits', 'blobs', 'digits@v1', 'digits@v2'),
      query: queryOf(values),
    })
    .map(({ method, model, query }): FuzzRequest => ({ method, path: `/v1/models/${model}/${route}${query}`, headers: {} }));

/**
 * Walks drawn per run: a valid walk of the 16-pixel fixtures renders up to 480 frames (a GIF encoder
 * pass each), up to ~0.5 s of CPU here, where an image takes milliseconds.
 */
const WALK_CASES = 150;

const trickRequest = fc
  .record({
    model: modelSegment,
    tail: fc.constantFrom('/image.png', '/grid.png', '/walk.gif', '/morph.png', '', '/', '/manifest.json', '/../current.json'),
    query,
  })
  .map(({ model, tail, query }): FuzzRequest => ({ method: 'GET', path: `/v1/models/${model}${tail}${query}`, headers: {} }));

const anyRequest = fc
  .record({
    method: anyMethod,
    path: fc.oneof(
      fc.constantFrom(
        '/',
        '/healthz',
        '/v1/models',
        '/v1/openapi.json',
        '/v1/models/digits/image.png',
        '/v1/models/blobs/grid.png',
        '/v1/models/blobs/walk.gif',
        '/v1/models/digits/morph.png',
        '/v1/models/digits',
      ),
      fc
        .array(fc.oneof(hostile.map(encode), fc.constantFrom('v1', 'models', 'digits', 'image.png', '..', '%2e%2e', '%2F', '')), {
          maxLength: 6,
        })
        .map((s) => `/${s.join('/')}`),
    ),
    query,
    headers: headerArb,
  })
  .map(({ method, path, query, headers }): FuzzRequest => ({ method, path: path + query, headers }));

// -------------------------------------------------------------------------------------------------

const property = (arb: fc.Arbitrary<FuzzRequest>) =>
  fc.asyncProperty(arb, async (r) => {
    const sent = await sendWatched(r);
    if (!sent) return;
    await checkResponse(r, sent.response, sent.keys);
  });

describe('fuzzing every route and parameter', () => {
  it('image.png and grid.png with random, hostile and repeated parameters', async () => {
    await fc.assert(property(imageRequest), { numRuns: 2500 });
  });

  it('walk.gif with random, hostile and repeated parameters (capped: each valid walk renders frames)', async () => {
    await fc.assert(property(routeRequest('walk.gif', walkValueFor)), { numRuns: WALK_CASES });
  });

  it('morph.png with random, hostile and repeated parameters', async () => {
    await fc.assert(property(routeRequest('morph.png', morphValueFor)), { numRuns: 800 });
  });

  it('path tricks in the model name never reach R2 outside models/<name>/', async () => {
    await fc.assert(property(trickRequest), { numRuns: 1500 });
    // Every trick, once, for certain (not just as often as the draw allows).
    for (const trick of PATH_TRICKS) {
      for (const tail of ['/image.png', '/grid.png', '/walk.gif', '/morph.png', '']) {
        const r: FuzzRequest = { method: 'GET', path: `/v1/models/${trick}${tail}?seed=t`, headers: {} };
        const sent = await sendWatched(r);
        if (sent) await checkResponse(r, sent.response, sent.keys);
      }
    }
  });

  it('any path, method and headers', async () => {
    await fc.assert(property(anyRequest), { numRuns: 1500 });
  });

  it('very long URLs through the HTTP entry point', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1_000, max: 60_000 }), fc.constantFrom('seed', 'size', 'x', 'model'), async (length, where) => {
        const filler = 'a'.repeat(length);
        const path =
          where === 'model'
            ? `/v1/models/${filler}/image.png`
            : where === 'x'
              ? `/v1/models/digits/image.png?${filler}=1`
              : `/v1/models/digits/image.png?${where}=${filler}`;
        const response = await withinTime(SELF.fetch(`${ORIGIN}${path}`), `long ${where} ${length}`);
        cases++;
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        const body = await response.text();
        expect(body.length).toBeLessThan(2048);
        expect(JSON.parse(body).error.code).toBeTypeOf('string');
      }),
      { numRuns: 60 },
    );
    // 10 000 parameters in one query.
    const many = Array.from({ length: 10_000 }, (_, i) => `p${i}=${i}`).join('&');
    const response = await SELF.fetch(`${ORIGIN}/v1/models/digits/grid.png?${many}`);
    cases++;
    expect(response.status).toBe(400);
    await response.arrayBuffer();
  });

  it('the service is still healthy and leaked nothing, also after failed loads', async () => {
    // Thousands of fuzzed requests, many of them refused part-way: not one tensor more than before.
    expect(await tensors()).toBe(tensorsBefore);
    for (const path of WARM_UP) await expectPng(path.replace('warm', 'after'));
    expect(await tensors()).toBe(tensorsBefore);

    // Loads that fail with 503: a corrupt shard (refused before any tensor exists), and weights that
    // do not fit the manifest's architecture (refused after the weights became tensors).
    const corrupt = await publishFixture(env.MODELS_BUCKET, {
      name: 'corrupt',
      version: 'v1',
      config: DIGITS_CONFIG,
      classes: DIGITS_CLASSES,
    });
    const shard = corrupt.shardPaths[0];
    const bad = corrupt.files.get(shard)!.slice();
    bad[10] ^= 0xff;
    await env.MODELS_BUCKET.put(registryKeys.file('corrupt', 'v1', shard), bad);
    const misfit = await publishFixture(env.MODELS_BUCKET, {
      name: 'misfit',
      version: 'v1',
      config: DIGITS_CONFIG,
      classes: DIGITS_CLASSES,
    });
    const wider = { ...misfit.manifest, architecture: { ...misfit.manifest.architecture, generatorWidth: 8 } };
    await env.MODELS_BUCKET.put(registryKeys.manifest('misfit', 'v1'), JSON.stringify(wider));
    for (const name of ['corrupt', 'misfit']) {
      for (const route of ['image.png', 'grid.png']) {
        const response = await unwatchedFetch(`/v1/models/${name}/${route}?seed=fail`);
        expect(response.status, `${name} ${route}`).toBe(503);
        await response.arrayBuffer();
        expect(await tensors(), `${name} ${route}`).toBe(tensorsBefore);
      }
    }
  });
});
