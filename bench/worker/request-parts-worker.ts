/**
 * A benchmark-only Worker: the parts of an image request, on the worker's own code and embedded
 * models, each run on its own so that bench/request-parts.ts can read workerd's process CPU around
 * it. GET /?part=<name>&model=mnist&reps=N runs part <name> N times (GET /parts lists them):
 *
 * - app:*: a whole request through the worker's Hono app, no R2 bound (the embedded model serves):
 *   routing, middleware, validation, render and headers;
 * - the steps of a render: validation, latent, forward, pixels, PNG; the ETag; the Cache API's match
 *   and put (Miniflare's emulation locally, not the edge's cache).
 */
import { encodePng, toPixels } from '@gan/core/image';
import { generatorInput } from '@gan/core/inference';
import { pointOfCell } from '@gan/core/render';
import { createApp } from '@gan/worker/app';
import { type EmbeddedModel, embeddedModels } from '@gan/worker/embedded-models';
import { cacheKey, etagFor } from '@gan/worker/http-cache';
import { render } from '@gan/worker/render';
import { parseImageQuery, parseModelRef, resolveImageRequest } from '@gan/worker/validation';

embeddedModels().catch(() => {});
const app = createApp({ embedded: async () => (await embeddedModels()).models });
/** A counter across calls, so that every fresh seed is new. */
let fresh = 0;
const setUp = new Map<string, Record<string, Part>>();

type Part = (i: number) => unknown;

function partsFor(model: EmbeddedModel, env: Record<string, unknown>, ctx: ExecutionContext): Record<string, Part> {
  const { generator, manifest, name } = model;
  const noBucket = { ...env, MODELS_BUCKET: undefined };
  const request = async (path: string) => (await app.fetch(new Request(`https://bench.test${path}`), noBucket, ctx)).arrayBuffer();
  const url = (i: number) => new URL(`https://bench.test/v1/models/${name}/image.png?seed=x${i}`);
  const imageRequest = resolveImageRequest(parseImageQuery(url(0)), manifest, () => 's');
  const cell = { seed: 'x', classIndex: manifest.classes.length > 0 ? 0 : undefined };
  const point = pointOfCell(generator.config, cell);
  const input = generatorInput(generator.config, [point.latent], [0]);
  const images = generator.forward(input);
  const pixels = toPixels(images);
  const png = encodePng(pixels.size, pixels.size, pixels.channels, pixels.data) as Uint8Array<ArrayBuffer>;
  const resolved = { name, version: model.version, pinned: false, manifest };
  const cache = (globalThis as unknown as { caches: { default: Cache } }).caches.default;
  return {
    none: () => undefined,
    'app: /healthz': () => request('/healthz'),
    'app: image.png (random)': () => request(`/v1/models/${name}/image.png`),
    'app: image.png?seed=<fresh>': (i) => request(`/v1/models/${name}/image.png?seed=fresh-${fresh++}`),
    'app: image.png?seed=<repeated> (Cache API hit)': () => request(`/v1/models/${name}/image.png?seed=repeated`),
    'app: image.png?seed=<fresh>&size=128': (i) => request(`/v1/models/${name}/image.png?seed=big-${fresh++}&size=128`),
    'render (latent → PNG, worker render())': (i) =>
      render(
        model,
        resolveImageRequest(parseImageQuery(url(i)), manifest, () => 's'),
      ),
    'validation (model ref, query, request)': (i) => {
      parseModelRef(name);
      return resolveImageRequest(parseImageQuery(url(i)), manifest, () => 's');
    },
    'latent (seed → generator input)': (i) =>
      generatorInput(generator.config, [pointOfCell(generator.config, { ...cell, seed: `x${i}` }).latent], [0]).dispose(),
    'forward (generator, batch 1)': () => generator.forward(input).dispose(),
    'pixels (tensor → bytes)': () => toPixels(images),
    'PNG (encode)': () => encodePng(pixels.size, pixels.size, pixels.channels, pixels.data),
    'ETag (sha256)': () => etagFor(resolved, imageRequest),
    'Cache API match, miss (local emulation)': (i) =>
      cache.match(cacheKey('https://bench.test', resolved, { ...imageRequest, seed: `miss-${fresh++}` })),
    'Cache API put (local emulation)': (i) =>
      cache.put(cacheKey('https://bench.test', resolved, { ...imageRequest, seed: `put-${fresh++}` }), new Response(png)),
    'Response with headers': () => new Response(png, { headers: { 'Content-Type': 'image/png', 'X-Seed': 'x', ETag: '"x"' } }),
  };
}

export default {
  async fetch(req: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(req.url);
    const models = (await embeddedModels()).models;
    const model = models.get(url.searchParams.get('model') ?? 'mnist');
    if (!model) return new Response('no such embedded model', { status: 404 });
    if (!setUp.has(model.name)) setUp.set(model.name, partsFor(model, env, ctx));
    const parts = setUp.get(model.name)!;
    if (url.pathname === '/parts') return Response.json(Object.keys(parts));
    const part = parts[url.searchParams.get('part') ?? ''];
    if (url.pathname !== '/' || !part) return new Response('not found', { status: 404 });
    const reps = Number(url.searchParams.get('reps') ?? '100');
    for (let i = 0; i < reps; i++) await part(i);
    return new Response('ok');
  },
};
