import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { publishStandardFixtures } from './fixtures.ts';
import { GOLDEN } from './golden.ts';
import { get, png, sha256 } from './helpers.ts';

beforeAll(async () => {
  await publishStandardFixtures(env.MODELS_BUCKET);
});

describe('determinism in a fresh isolate', () => {
  it.each(GOLDEN)('%s has the pinned bytes', async (path, expected) => {
    const response = await get(path);
    expect(response.headers.get('X-Cache')).toBe('MISS'); // rendered here, not replayed
    const hash = await sha256((await png(response)).bytes);
    expect(hash).toBe(expected);
  });
});
