/**
 * The models this repository ships (models/emoji, models/mnist, models/twemoji: float16 exports, what `npm run dev`
 * serves and the README shows) served by the worker in workerd: every file of each export put into
 * Miniflare's R2 as `gan publish` lays it out, then images and grids of the sizes the manifest says.
 */
import type { Manifest } from '@gan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { get, png } from './helpers.ts';
import { publishShippedModels } from './shipped.ts';

const SHIPPED = ['emoji', 'mnist', 'twemoji'];
let manifests: Map<string, Manifest>;

beforeAll(async () => {
  manifests = await publishShippedModels(SHIPPED);
});

describe('the shipped models serve in workerd', () => {
  it.each(SHIPPED)('%s: float16 weights, listed with its version', async (model) => {
    const manifest = manifests.get(model)!;
    expect(manifest.weightsFormat).toBe('float16');
    const listing = await (await get('/v1/models')).json<{ models: { name: string; version: string }[] }>();
    expect(listing.models).toContainEqual(expect.objectContaining({ name: model, version: manifest.version }));
  });

  it.each(SHIPPED)("%s: image.png at the native size and resized, with the model's channels", async (model) => {
    const { architecture, version, classes } = manifests.get(model)!;
    const classParam = classes.length > 0 ? `&class=${classes[7]}` : '';
    const native = await get(`/v1/models/${model}/image.png?seed=alice${classParam}`);
    expect(native.headers.get('X-Model-Version')).toBe(version);
    const { image } = await png(native);
    expect(image).toMatchObject({
      width: architecture.imageSize,
      height: architecture.imageSize,
      channels: architecture.channels,
      depth: 8,
    });
    // A generated picture, not a constant.
    expect(new Set(image.data).size).toBeGreaterThan(16);
    const big = (await png(await get(`/v1/models/${model}/image.png?seed=alice${classParam}&size=128`))).image;
    expect([big.width, big.height]).toEqual([128, 128]);
  });

  it.each(SHIPPED)("%s: the README's grid.png?seed=preview, 4 x 4 native cells", async (model) => {
    const { architecture } = manifests.get(model)!;
    const { image } = await png(await get(`/v1/models/${model}/grid.png?seed=preview`));
    const edge = 4 * architecture.imageSize + 5 * 2;
    expect([image.width, image.height]).toEqual([edge, edge]);
  });

  it('emoji: class=each gives one row per style, and styles are chosen by name', async () => {
    const grid = (await png(await get('/v1/models/emoji/grid.png?seed=each&class=each&cols=2&padding=0'))).image;
    expect([grid.width, grid.height]).toEqual([2 * 32, 8 * 32]);
    const noto = await get('/v1/models/emoji/image.png?seed=alice&class=noto');
    expect(noto.status).toBe(200);
    expect((await png(noto)).image.channels).toBe(3);
  });

  it('mnist: class=each gives one row per digit', async () => {
    const grid = (await png(await get('/v1/models/mnist/grid.png?seed=each&class=each&cols=3&padding=0'))).image;
    expect([grid.width, grid.height]).toEqual([3 * 32, 10 * 32]);
  });
});
