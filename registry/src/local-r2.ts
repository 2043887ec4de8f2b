import path from 'node:path';
import { type ObjectStorage, type ObjectWithEtag, type PutOptions, PreconditionFailedError, type StoredObjectInfo } from './storage.ts';
import { MODELS_BINDING, readModelsBucket } from './wrangler-config.ts';

export interface LocalR2Options {
  /** wrangler.toml (default: the nearest one from the current directory up). */
  configPath?: string;
  /**
   * The directory `wrangler dev --persist-to` would be given. Default: `.wrangler/state` beside the
   * configuration, which is where `wrangler dev` keeps its local R2 unless told otherwise.
   */
  persistTo?: string;
  binding?: string;
}

/**
 * The local R2 bucket that `wrangler dev` serves, opened through wrangler's own `getPlatformProxy`
 * (Miniflare in workerd) with the same configuration and persistence directory, so what is written
 * here is exactly what the worker reads under `wrangler dev` and `npm run dev`.
 */
export async function openLocalR2(options: LocalR2Options = {}): Promise<ObjectStorage> {
  const binding = options.binding ?? MODELS_BINDING;
  const { configPath, bucketName } = await readModelsBucket(options.configPath, binding);
  const persistRoot = path.resolve(options.persistTo ?? path.join(path.dirname(configPath), '.wrangler/state'));
  const { getPlatformProxy } = await import('wrangler');
  const proxy = await getPlatformProxy<Record<string, R2Bucket>>({
    configPath,
    persist: { path: path.join(persistRoot, 'v3') }, // wrangler dev appends v3 to its persist root too
    remoteBindings: false,
  });
  const bucket = proxy.env[binding];
  const getWithEtag = async (key: string): Promise<ObjectWithEtag | null> => {
    const object = await bucket.get(key);
    return object ? { bytes: new Uint8Array(await object.arrayBuffer()), etag: object.etag } : null;
  };
  const info = (o: R2Object): StoredObjectInfo => ({ key: o.key, size: o.size, uploaded: new Date(o.uploaded) });
  return {
    description: `local R2 ${bucketName} (${path.relative(process.cwd(), persistRoot) || '.'})`,
    async get(key) {
      return (await getWithEtag(key))?.bytes ?? null;
    },
    getWithEtag,
    async put(key, bytes, opts: PutOptions = {}) {
      const onlyIf = !opts.onlyIf ? undefined : 'etag' in opts.onlyIf ? { etagMatches: opts.onlyIf.etag } : { etagDoesNotMatch: '*' };
      const written = await bucket.put(key, bytes, {
        httpMetadata: { contentType: opts.contentType, cacheControl: opts.cacheControl },
        onlyIf,
      });
      // The binding answers a failed condition with null instead of an object.
      if (written === null) throw new PreconditionFailedError(key);
    },
    async head(key) {
      const object = await bucket.head(key);
      return object ? info(object) : null;
    },
    async list(prefix) {
      const all: StoredObjectInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix, cursor });
        all.push(...page.objects.map(info));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async delete(keys) {
      for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
    },
    async close() {
      await proxy.dispose();
    },
  };
}
