/**
 * HTTP caching of generated images: strong ETags, If-None-Match, Cache-Control per case, and the
 * Workers Cache API so a repeated seeded request skips the generator.
 *
 * - Seeded, pinned (`name@version`): immutable for a year.
 * - Seeded, current version: a short max-age (the pointer may move), with X-Model-Version.
 * - Random (no seed): `no-store`, never cached anywhere.
 * The ETag hashes the render version (core's RENDER_VERSION), the model version and the normalised
 * parameters, so it names the bytes exactly; the edge cache key holds the same three.
 */
import { RENDER_VERSION, sha256Hex } from '@gan/core';
import { IMMUTABLE_CACHE_CONTROL } from '@gan/registry/layout';
import type { ResolvedModel } from './model-store.ts';
import { type RenderRequest, canonicalParams } from './validation.ts';

/** Pinned versions never change: the same Cache-Control as their files in R2. */
export const IMMUTABLE = IMMUTABLE_CACHE_CONTROL;
export const CURRENT_MAX_AGE_SECONDS = 60;
export const CURRENT = `public, max-age=${CURRENT_MAX_AGE_SECONDS}`;
export const NO_STORE = 'no-store';

/** What the bytes of a response are made from: the render version, the model version and the request. */
function identityOf(model: ResolvedModel, r: RenderRequest, renderVersion: number): string {
  return `r${renderVersion}/${model.name}@${model.version}/${r.kind}.${r.kind === 'walk' ? 'gif' : 'png'}?${canonicalParams(r)}`;
}

/** The strong ETag of a response (`renderVersion` is core's RENDER_VERSION but in tests). */
export async function etagFor(model: ResolvedModel, r: RenderRequest, renderVersion = RENDER_VERSION): Promise<string> {
  const identity = identityOf(model, r, renderVersion);
  return `"${(await sha256Hex(new TextEncoder().encode(identity))).slice(0, 32)}"`;
}

/** If-None-Match (weak comparison, as RFC 9110 asks for this header). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** The Cache API key: this origin, the render version, the resolved model version and the canonical parameters. */
export function cacheKey(origin: string, model: ResolvedModel, r: RenderRequest, renderVersion = RENDER_VERSION): Request {
  return new Request(`${origin}/__image-cache/${identityOf(model, r, renderVersion)}`);
}

/** caches.default where it exists; the cache is an optimisation, so its failures are ignored. */
export async function cacheMatch(key: Request): Promise<ArrayBuffer | undefined> {
  try {
    const hit = await defaultCache()?.match(key);
    return hit ? await hit.arrayBuffer() : undefined;
  } catch {
    return undefined;
  }
}

export async function cachePut(key: Request, body: Uint8Array<ArrayBuffer>, etag: string, contentType = 'image/png'): Promise<void> {
  try {
    await defaultCache()?.put(
      key,
      new Response(body, { headers: { 'Content-Type': contentType, 'Cache-Control': IMMUTABLE, ETag: etag } }),
    );
  } catch {
    // Not cached this time: the next request renders again.
  }
}

function defaultCache(): Cache | undefined {
  return (globalThis as { caches?: { default?: Cache } }).caches?.default;
}
