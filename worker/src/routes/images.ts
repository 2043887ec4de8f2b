/** GET /v1/models/:model/image.png, grid.png, walk.gif (an animated latent walk) and morph.png (a still one). */
import { Hono, type Context } from 'hono';
import { randomSeed } from '@gan/core/prng';
import type { AppEnv } from '../app-env.ts';
import { CURRENT, IMMUTABLE, NO_STORE, cacheKey, cacheMatch, cachePut, etagFor, matchesIfNoneMatch } from '../http-cache.ts';
import type { ResolvedModel } from '../model-store.ts';
import { contentTypeOf, render as renderBytes } from '../render.ts';
import {
  type RenderRequest,
  parseGridQuery,
  parseImageQuery,
  parseModelRef,
  parseMorphQuery,
  parseWalkQuery,
  resolveGridRequest,
  resolveImageRequest,
  resolveMorphRequest,
  resolveWalkRequest,
} from '../validation.ts';

/**
 * Cache-Control of a seeded answer from the embedded version standing in for a current version that
 * is still loading (model-store.ts): labelled as itself, and cached only briefly, since the next
 * answer for the same URL will come from the version current.json names.
 */
export const STAND_IN_MAX_AGE_SECONDS = 5;
export const STAND_IN = `public, max-age=${STAND_IN_MAX_AGE_SECONDS}`;

/**
 * A rendering route: parse the query (400 before the model is touched), then resolve it against the
 * model's manifest; a request without a seed gets one random seed, the same for a fallback version.
 */
function renderRoute<Query>(
  parseQuery: (url: URL) => Query,
  resolve: (query: Query, manifest: ResolvedModel['manifest'], seed: () => string) => RenderRequest,
) {
  return async (c: Context<AppEnv>) => {
    const ref = parseModelRef(c.req.param('model') ?? '');
    const query = parseQuery(new URL(c.req.url));
    // Drawn only for a request without a seed, and once (a fallback version gets the same one).
    let seed: string | undefined;
    const random = () => (seed ??= randomSeed());
    return serve(c, await c.var.store.resolve(ref), (model) => resolve(query, model.manifest, random));
  };
}

export const imageRoutes = new Hono<AppEnv>()
  .get('/v1/models/:model/image.png', renderRoute(parseImageQuery, resolveImageRequest))
  .get('/v1/models/:model/grid.png', renderRoute(parseGridQuery, resolveGridRequest))
  .get('/v1/models/:model/walk.gif', renderRoute(parseWalkQuery, resolveWalkRequest))
  .get('/v1/models/:model/morph.png', renderRoute(parseMorphQuery, resolveMorphRequest));

/**
 * Validates the request against the model (400 before any work) and responds; if the current
 * version cannot be loaded, the store's last good version of the model answers instead, validated
 * and labelled (X-Model-Version, ETag, cache key) as itself.
 */
async function serve(c: Context<AppEnv>, model: ResolvedModel, requestFor: (model: ResolvedModel) => RenderRequest): Promise<Response> {
  // The current version loads after this response (in the same invocation, so within its CPU limit).
  if (model.standIn) waitUntil(c, model.standIn.loading);
  try {
    return await respond(c, model, requestFor(model));
  } catch (error) {
    const fallback = c.var.store.fallbackFor(model, error);
    if (!fallback) throw error;
    return respond(c, fallback, requestFor(fallback));
  }
}

async function respond(c: Context<AppEnv>, model: ResolvedModel, request: RenderRequest): Promise<Response> {
  const headers: Record<string, string> = {
    'Content-Type': contentTypeOf(request),
    'X-Model-Version': model.version,
    'X-Seed': encodeURIComponent(request.seed),
  };
  // Server-Timing shows the generator's share of a response. Locally the clock runs during CPU work;
  // in production Workers it only advances on I/O, so there it reads 0.
  const render = async () => {
    const started = performance.now();
    let renderMs = 0;
    const body = await c.var.store.use(model, (loaded) => {
      const t = performance.now();
      const bytes = renderBytes(loaded, request);
      renderMs = performance.now() - t;
      return bytes;
    });
    headers['Server-Timing'] = `render;dur=${renderMs.toFixed(1)}, total;dur=${(performance.now() - started).toFixed(1)}`;
    return body;
  };

  if (!request.seeded) {
    return new Response(await render(), { headers: { ...headers, 'Cache-Control': NO_STORE } });
  }
  headers.ETag = await etagFor(model, request);
  headers['Cache-Control'] = model.standIn ? STAND_IN : model.pinned ? IMMUTABLE : CURRENT;
  if (matchesIfNoneMatch(c.req.header('If-None-Match'), headers.ETag)) {
    return new Response(null, { status: 304, headers: withoutContentType(headers) });
  }
  const key = cacheKey(new URL(c.req.url).origin, model, request);
  const cached = await cacheMatch(key);
  if (cached) return new Response(cached, { headers: { ...headers, 'X-Cache': 'HIT' } });
  const body = await render();
  waitUntil(c, cachePut(key, body, headers.ETag, headers['Content-Type']));
  return new Response(body, { headers: { ...headers, 'X-Cache': 'MISS' } });
}

/** Finishes work after the response where the platform allows it (it always does in Workers). */
function waitUntil(c: Context<AppEnv>, work: Promise<void>) {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (app.request in a plain test): the promise still runs on its own.
  }
}

function withoutContentType(headers: Record<string, string>): Record<string, string> {
  const { 'Content-Type': _, ...rest } = headers;
  return rest;
}
