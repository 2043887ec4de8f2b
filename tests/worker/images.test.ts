import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@gan/worker/app';
import { publishStandardFixtures } from './fixtures.ts';
import { GOLDEN } from './golden.ts';
import { get, png, sha256 } from './helpers.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
});

let renders = 0;
/**
 * A render of its own: a new app with its own model store (it loads the generator again, as a fresh
 * isolate does) under an origin no other request used, so the edge cache cannot answer it.
 */
async function freshRender(path: string) {
  const ctx = createExecutionContext();
  const response = await createApp().fetch(new Request(`https://render-${++renders}.gan.test${path}`), env, ctx);
  await waitOnExecutionContext(ctx);
  expect(response.headers.get('X-Cache'), path).toBe('MISS');
  return png(response);
}

describe('image.png', () => {
  it('is a valid PNG at the native size by default, greyscale or RGB as the model', async () => {
    const grey = await png(await get('/v1/models/digits/image.png?seed=alice'));
    expect(grey.image).toMatchObject({ width: 16, height: 16, channels: 1, depth: 8 });
    const rgb = await png(await get('/v1/models/blobs/image.png?seed=alice'));
    expect(rgb.image).toMatchObject({ width: 16, height: 16, channels: 3, depth: 8 });
    // Not a blank image: the generator ran.
    expect(new Set(rgb.image.data).size).toBeGreaterThan(10);
  });

  it.each([8, 37, 512])('resizes to size=%i', async (size) => {
    const { image } = await png(await get(`/v1/models/blobs/image.png?seed=bob&size=${size}`));
    expect([image.width, image.height]).toEqual([size, size]);
  });

  it('nearest upscaling repeats pixels exactly (pixel art)', async () => {
    const native = (await png(await get('/v1/models/blobs/image.png?seed=px'))).image;
    const big = (await png(await get('/v1/models/blobs/image.png?seed=px&size=64&filter=nearest'))).image;
    for (const [y, x] of [
      [0, 0],
      [5, 9],
      [15, 15],
    ]) {
      for (let dy = 0; dy < 4; dy++)
        for (let dx = 0; dx < 4; dx++)
          for (let ch = 0; ch < 3; ch++) {
            expect(big.data[((y * 4 + dy) * 64 + (x * 4 + dx)) * 3 + ch]).toBe(native.data[(y * 16 + x) * 3 + ch]);
          }
    }
  });

  it('is deterministic: two renders of the same request give the same bytes, other seeds or truncation others', async () => {
    const first = await freshRender('/v1/models/blobs/image.png?seed=carol&size=40');
    const again = await freshRender('/v1/models/blobs/image.png?seed=carol&size=40');
    expect(again.bytes).toEqual(first.bytes);
    const other = await freshRender('/v1/models/blobs/image.png?seed=dave&size=40');
    expect(other.bytes).not.toEqual(first.bytes);
    const truncated = await freshRender('/v1/models/blobs/image.png?seed=carol&size=40&truncation=0.5');
    expect(truncated.bytes).not.toEqual(first.bytes);
  });

  it('a random image carries its seed, and replaying that seed renders the same bytes', async () => {
    const random = await get('/v1/models/blobs/image.png?size=24');
    const seed = decodeURIComponent(random.headers.get('X-Seed') ?? '');
    expect(seed).toMatch(/^[0-9a-z]{12}$/);
    const randomBytes = (await png(random)).bytes;
    // The seeded request is rendered afresh (a cache miss), not served from the random response.
    const replay = await get(`/v1/models/blobs/image.png?size=24&seed=${seed}`);
    expect(replay.headers.get('X-Cache')).toBe('MISS');
    expect((await png(replay)).bytes).toEqual(randomBytes);
  });

  it('ten random requests give ten different images', async () => {
    const hashes = new Set<string>();
    for (let i = 0; i < 10; i++) hashes.add(await sha256((await png(await get('/v1/models/digits/image.png'))).bytes));
    expect(hashes.size).toBe(10);
  });

  it('takes a class by name or by index, with the same result', async () => {
    const byName = await png(await get('/v1/models/digits/image.png?seed=erin&class=two'));
    const byIndex = await png(await get('/v1/models/digits/image.png?seed=erin&class=2'));
    expect(byIndex.bytes).toEqual(byName.bytes);
    const otherClass = await png(await get('/v1/models/digits/image.png?seed=erin&class=0'));
    expect(otherClass.bytes).not.toEqual(byName.bytes);
  });

  it('accepts unicode seeds up to 128 characters', async () => {
    const seed = encodeURIComponent('🦊'.repeat(128));
    const response = await get(`/v1/models/blobs/image.png?seed=${seed}`);
    await png(response);
    expect(decodeURIComponent(response.headers.get('X-Seed')!)).toBe('🦊'.repeat(128));
  });
});

describe('grid.png', () => {
  it('lays out rows x cols cells of size with padding', async () => {
    const { image } = await png(await get('/v1/models/blobs/grid.png?seed=g&rows=2&cols=3&size=20&padding=4'));
    expect([image.width, image.height]).toEqual([3 * 20 + 4 * 4, 2 * 20 + 3 * 4]);
    // The padding is white.
    expect(Array.from(image.data.slice(0, 12))).toEqual(new Array(12).fill(255));
  });

  it('defaults to 4 x 4 native cells with 2 px padding', async () => {
    const { image } = await png(await get('/v1/models/digits/grid.png?seed=g'));
    expect([image.width, image.height]).toEqual([4 * 16 + 5 * 2, 4 * 16 + 5 * 2]);
  });

  it('cell i is the image of seed "<seed>#i"', async () => {
    const grid = (await png(await get('/v1/models/blobs/grid.png?seed=cells&rows=1&cols=2&padding=0'))).image;
    const cell1 = (await png(await get(`/v1/models/blobs/image.png?seed=${encodeURIComponent('cells#1')}`))).image;
    // Same latent, different batch: equal up to float rounding in the last bit.
    let maxDiff = 0;
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16 * 3; x++)
        maxDiff = Math.max(maxDiff, Math.abs(grid.data[y * 32 * 3 + 16 * 3 + x] - cell1.data[y * 16 * 3 + x]));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it('class=each gives one row per class', async () => {
    const { image } = await png(await get('/v1/models/digits/grid.png?seed=each&class=each&cols=5&padding=1'));
    expect([image.width, image.height]).toEqual([5 * 16 + 6, 3 * 16 + 4]);
  });

  it('is deterministic: two renders give the same bytes', async () => {
    const a = await freshRender('/v1/models/digits/grid.png?seed=det&rows=3&cols=3&class=one');
    const b = await freshRender('/v1/models/digits/grid.png?seed=det&rows=3&cols=3&class=one');
    expect(b.bytes).toEqual(a.bytes);
  });

  it('renders the largest allowed grid (16 x 16 cells) without leaking tensors', async () => {
    const { image } = await png(await get('/v1/models/blobs/grid.png?seed=big&rows=16&cols=16&size=64&padding=0'));
    expect([image.width, image.height]).toEqual([1024, 1024]);
    const health = await (await get('/healthz')).json<{ memory: { tensors: number } }>();
    const before = health.memory.tensors;
    await png(await get('/v1/models/blobs/grid.png?seed=big2&rows=16&cols=16&size=8'));
    const after = (await (await get('/healthz')).json<{ memory: { tensors: number } }>()).memory.tensors;
    expect(after).toBe(before);
  });
});

describe('determinism across isolates', () => {
  it('renders the pinned bytes here too (another runtime than determinism.test.ts, other models loaded first)', async () => {
    for (const [path, expected] of [...GOLDEN].reverse()) {
      expect(await sha256((await png(await get(path))).bytes), path).toBe(expected);
    }
  });
});
