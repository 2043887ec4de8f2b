/// <reference types="vite/client" />
/**
 * README.md shows a grid of each shipped model (docs/<model>-grid.png) and says which `grid.png?…` URL
 * of the model it is. That URL, read from README.md itself, served by the worker in workerd from the
 * shipped exports in R2, must give the picture's bytes, and the model's own sample.png: the README, its
 * pictures and the exports cannot drift apart. The files are read when the test runs (models/emoji is
 * re-exported from time to time), nothing is pinned here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { get, png, sha256 } from './helpers.ts';
import { publishShippedModels, shippedFile } from './shipped.ts';

// workerd cannot read the disk: Vite reads README.md and the pictures into the test module.
const readme = Object.values(import.meta.glob<string>('../../README.md', { query: '?raw', import: 'default', eager: true }))[0];
const pictures = import.meta.glob<string>('../../docs/*-grid.png', { query: '?inline', import: 'default', eager: true });

/** A picture as Vite inlines it (a base64 data URL), back to its bytes. */
function pictureBytes(model: string): Uint8Array {
  const dataUrl = pictures[`../../docs/${model}-grid.png`];
  expect(dataUrl, `docs/${model}-grid.png`).toMatch(/^data:image\/png;base64,/);
  return Uint8Array.from(atob(dataUrl.slice(dataUrl.indexOf(',') + 1)), (c) => c.charCodeAt(0));
}

/** The models whose grid README.md shows, in its order: `![…](docs/<model>-grid.png)`. */
function picturedModels(text: string): string[] {
  return Array.from(text.matchAll(/!\[[^\]]*\]\(docs\/([a-z0-9-]+)-grid\.png\)/g), (m) => m[1]);
}

/**
 * The URL README.md gives for each pictured grid, from its sentence "The grids are `grid.png?…` (emoji,
 * mnist) and `grid.png?…` (twemoji) …".
 */
function statedUrls(text: string): Map<string, string> {
  const start = text.indexOf('The grids are');
  expect(start, 'README.md: the sentence "The grids are …"').toBeGreaterThanOrEqual(0);
  const paragraph = text.slice(start, text.indexOf('\n\n', start));
  const urls = new Map<string, string>();
  for (const [, url, models] of paragraph.matchAll(/`(grid\.png\?[^`]+)`\s*\(([^)]+)\)/g)) {
    for (const model of models.split(/,\s*/)) urls.set(model.trim(), url);
  }
  return urls;
}

const models = picturedModels(readme);
const urls = statedUrls(readme);

describe("README.md's grids", () => {
  beforeAll(async () => {
    await publishShippedModels(models);
  });

  it('are pictured for each shipped model, each with the URL that makes it', () => {
    expect(models.length).toBeGreaterThan(0);
    expect([...urls.keys()].sort()).toEqual([...models].sort());
  });

  it.each(models)("%s: the stated URL gives the README's picture and the export's sample.png, byte for byte", async (model) => {
    const served = await sha256((await png(await get(`/v1/models/${model}/${urls.get(model)}`))).bytes);
    expect(served, `docs/${model}-grid.png`).toBe(await sha256(pictureBytes(model)));
    expect(served, `models/${model}/sample.png`).toBe(await sha256(new Uint8Array(await shippedFile(model, 'sample.png'))));
  });
});
