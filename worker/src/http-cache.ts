/**
 * HTTP caching of generated images: strong ETags, If-None-Match, Cache-Control per case, and the
 * Workers Cache API so a repeated seeded request skips the generator.
 *
 * - Seeded, pinned (`name@version`): immutable for a year.
 * - Seeded, current version: a short max-age (the pointer may move), with X-Model-Version.
 * - Random (no seed): `no-store`, never cached anywhere.
 * The ETag hashes the model version and the normalised parameters, so it names the bytes exactly.
 */
import { sha256Hex } from '@gan/core';
import { IMMUTABLE_CACHE_CONTROL } from '@gan/registry/layout';
import type { ResolvedModel } from './model-store.ts';
import { type RenderRequest, canonicalParams } from './validation.ts';

/** Pinned versions never change: the same Cache-Control as their files in R2. */
export const IMMUTABLE = IMMUTABLE_CACHE_CONTROL;
export const CURRENT_MAX_AGE_SECONDS = 60;
export const CURRENT = `public, max-age=${CURRENT_MAX_AGE_SECONDS}`;
export const NO_STORE = 'no-store';

export async function etagFor(model: ResolvedModel, r: RenderRequest): Promise<string> {
  const identity = `${model.name}@${model.version}/${r.kind}?${canonicalParams(r)}`;
  return `"${(await sha256Hex(new TextEncoder().encode(identity))).slice(0, 32)}"`;
}

/** If-None-Match (weak comparison, as RFC 9110 asks for this header). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** The Cache API key: this origin, the resolved version and the canonical parameters. */
export function cacheKey(origin: string, model: ResolvedModel, r: RenderRequest): Request {
  return new Request(
    `${origin}/__image-cache/${model.name}@${model.version}/${r.kind}.${r.kind === 'walk' ? 'gif' : 'png'}?${canonicalParams(r)}`,
  );
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
