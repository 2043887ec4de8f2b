/**
 * The R2 layout, in one place: the worker reads and the publisher writes exactly these keys.
 * Only zod and core: the worker bundles this module (import it as `@gan/registry/layout`, not through
 * the package index, which also holds the Node-only storage adapters).
 */
import { z } from 'zod';
import { ModelVersionSchema } from '@gan/core/manifest';

/**
 * Version files never change once published: caches may keep them for good. The worker's responses
 * for a pinned `name@version` say the same.
 */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** current.json moves: never cache it without revalidating. */
export const POINTER_CACHE_CONTROL = 'no-cache';

/** `models/<name>/current.json`: which version `models/<name>` means now. Written last on publish. */
export const CurrentPointerSchema = z
  .object({
    version: ModelVersionSchema,
    publishedAt: z.string().datetime(),
  })
  .strict();
export type CurrentPointer = z.infer<typeof CurrentPointerSchema>;

/** R2 keys: `models/<name>/current.json` and each version's files under `models/<name>/<version>/`. */
export const registryKeys = {
  prefix: 'models/',
  current: (name: string) => `models/${name}/current.json`,
  versionDir: (name: string, version: string) => `models/${name}/${version}/`,
  file: (name: string, version: string, path: string) => `models/${name}/${version}/${path}`,
  manifest: (name: string, version: string) => `models/${name}/${version}/manifest.json`,
};

/**
 * R2 keys of training data sets (`gan dataset push`): `datasets/<name>/manifest.json` lists each file's
 * path, size and sha256; the bytes are stored once per content under `datasets/<name>/objects/<sha256>`.
 */
export const datasetKeys = {
  prefix: 'datasets/',
  manifest: (name: string) => `datasets/${name}/manifest.json`,
  object: (name: string, sha256: string) => `datasets/${name}/objects/${sha256}`,
  objects: (name: string) => `datasets/${name}/objects/`,
};
