import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { publishStandardFixtures } from './fixtures.ts';
import { GOLDEN_WALKS } from './golden-walk.ts';
import { get, sha256 } from './helpers.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
});

describe('walks and morphs in a fresh isolate', () => {
  it.each(GOLDEN_WALKS)('%s has the pinned bytes', async (path, expected) => {
    const response = await get(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('X-Cache')).toBe('MISS'); // rendered here, not replayed
    expect(await sha256(new Uint8Array(await response.arrayBuffer()))).toBe(expected);
  });
});
