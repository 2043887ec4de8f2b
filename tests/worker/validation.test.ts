import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { publishStandardFixtures } from './fixtures.ts';
import { parseGridQuery, parseImageQuery } from '../../worker/src/validation.ts';
import { errorBody, get, png } from './helpers.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
});

const long = (n: number) => 'x'.repeat(n);

// [query, parameter named in the error, words the message must contain]
const invalid: [string, string, RegExp][] = [
  ['size=7', 'size', /8 to 512/],
  ['size=513', 'size', /8 to 512/],
  ['size=abc', 'size', /8 to 512/],
  ['size=1.5', 'size', /8 to 512/],
  ['size=-16', 'size', /8 to 512/],
  ['size=', 'size', /8 to 512/],
  ['size=1e2', 'size', /8 to 512/],
  ['size=99999999', 'size', /8 to 512/],
  ['seed=', 'seed', /empty/],
  [`seed=${long(129)}`, 'seed', /at most 128/],
  ['truncation=0', 'truncation', /\(0, 1\]|greater than 0/],
  ['truncation=-0', 'truncation', /\(0, 1\]/],
  ['truncation=1.01', 'truncation', /at most 1/],
  ['truncation=NaN', 'truncation', /\(0, 1\]/],
  ['truncation=Infinity', 'truncation', /\(0, 1\]/],
  ['truncation=0x1', 'truncation', /\(0, 1\]/],
  ['filter=bicubic', 'filter', /bilinear or nearest/],
  ['class=3', 'class', /0 to 2/],
  ['class=seven', 'class', /zero, one, two/],
  ['class=each', 'class', /grid/],
  ['seed=a&seed=b', 'seed', /more than once/],
  ['sede=a', 'sede', /unknown parameter/],
  ['rows=2', 'rows', /unknown parameter/],
  ['__proto__=x', '__proto__', /unknown parameter/],
  ['constructor=x', 'constructor', /unknown parameter/],
  [`seed=${long(10_000)}`, 'seed', /at most 128/],
  ['size=%00', 'size', /8 to 512/],
  ['size=%EF%BC%91%EF%BC%96', 'size', /8 to 512/], // full-width digits
];

describe('image.png rejects every invalid parameter with 400 naming it', () => {
  it.each(invalid)('?%s', async (query, parameter, message) => {
    const response = await get(`/v1/models/digits/image.png?${query}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const body = await errorBody(response);
    expect(body.error).toMatchObject({ code: 'invalid_parameter', parameter });
    expect(body.error.message).toMatch(message);
  });

  it('rejects a class on an unconditional model', async () => {
    const body = await errorBody(await get('/v1/models/blobs/image.png?class=0'));
    expect(body.error).toMatchObject({ code: 'invalid_parameter', parameter: 'class' });
    expect(body.error.message).toMatch(/unconditional/);
  });
});

describe('a URL without a query', () => {
  it("takes each route's defaults, the same as an empty query parsed, and nothing can change them", () => {
    const bare = parseImageQuery(new URL('https://x.test/v1/models/digits/image.png'));
    expect(bare).toEqual({ truncation: 1 });
    expect(parseImageQuery(new URL('https://x.test/v1/models/digits/image.png?'))).toBe(bare);
    expect(Object.isFrozen(bare)).toBe(true);
    expect(parseGridQuery(new URL('https://x.test/v1/models/digits/grid.png'))).toHaveProperty('padding');
  });
});

describe('grid.png bounds', () => {
  it.each([
    ['rows=0', 'rows', /1 to 16/],
    ['rows=17', 'rows', /1 to 16/],
    ['cols=0', 'cols', /1 to 16/],
    ['cols=17', 'cols', /1 to 16/],
    ['padding=-1', 'padding', /0 to 32/],
    ['padding=33', 'padding', /0 to 32/],
    ['size=513', 'size', /8 to 512/],
    ['rows=16&cols=16&size=512', 'size', /at most 1048576 pixels \(1024x1024\)/],
    ['rows=16&cols=16&size=64&padding=1', 'size', /1041x1041 pixels/],
    ['rows=16&cols=16&size=128&padding=1', 'size', /2065x2065 pixels/],
    ['class=each&rows=2', 'rows', /rows must be 3/],
  ])('?%s → 400 naming %s', async (query, parameter, message) => {
    const response = await get(`/v1/models/digits/grid.png?seed=x&${query}`);
    expect(response.status).toBe(400);
    const body = await errorBody(response);
    expect(body.error).toMatchObject({ code: 'invalid_parameter', parameter });
    expect(body.error.message).toMatch(message);
  });
});

describe('limits themselves are allowed', () => {
  it.each([
    ['image', 'size=8'],
    ['image', 'size=512'],
    ['image', `seed=${long(128)}`],
    ['image', 'truncation=1'],
    ['image', 'truncation=0.001'],
    ['image', 'truncation=.5'],
    ['image', 'class=0&filter=nearest&size=33'],
    ['grid', 'rows=1&cols=1&padding=0'],
    ['grid', 'rows=16&cols=16&size=8&padding=32'],
    ['grid', 'rows=16&cols=16&size=64&padding=0'], // exactly 1024x1024
    ['grid', 'class=each&rows=3'],
  ])('%s ?%s', async (kind, query) => {
    const seed = query.startsWith('seed=') ? '' : 'seed=limits&';
    await png(await get(`/v1/models/digits/${kind}.png?${seed}${query}`));
  });
});

describe('models and routes', () => {
  it.each([
    ['/v1/models/Digits/image.png', 400, 'invalid_parameter'],
    ['/v1/models/..%2F..%2Fsecret/image.png', 400, 'invalid_parameter'],
    ['/v1/models/digits%00/image.png', 400, 'invalid_parameter'],
    ['/v1/models/digits@/image.png', 400, 'invalid_parameter'],
    ['/v1/models/digits@..%2Fblobs/image.png', 400, 'invalid_parameter'],
    ['/v1/models/%ZZ/image.png', 400, 'invalid_parameter'],
    ['/v1/models/digits%2Fv1/image.png', 400, 'invalid_parameter'],
    [`/v1/models/${'a'.repeat(65)}/image.png`, 400, 'invalid_parameter'],
    ['/v1/models/..%2F..%2Fmodels%2Fdigits%2Fcurrent.json', 400, 'invalid_parameter'],
    ['/v1/models/nosuchmodel/image.png', 404, 'model_not_found'],
    ['/v1/models/nosuchmodel', 404, 'model_not_found'],
    ['/v1/models/digits@v999/image.png', 404, 'version_not_found'],
    ['/v1/models/digits@v999', 404, 'version_not_found'],
    ['/v1/nothing/here', 404, 'not_found'],
    ['/favicon.ico', 404, 'not_found'],
  ])('%s → %i %s', async (path, status, code) => {
    const response = await get(path);
    expect(response.status).toBe(status);
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect((await errorBody(response)).error.code).toBe(code);
  });

  it('other methods get 405 JSON', async () => {
    const response = await get('/v1/models/digits/image.png', { method: 'POST', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('Allow')).toBe('GET, HEAD, OPTIONS');
    expect((await errorBody(response)).error.code).toBe('method_not_allowed');
  });
});
