import { existsSync } from 'node:fs';
import path from 'node:path';

/** The R2 binding the worker reads models from (wrangler.toml `[[r2_buckets]] binding`). */
export const MODELS_BINDING = 'MODELS_BUCKET';
export const DEFAULT_BUCKET_NAME = 'gan-models';
const CONFIG_NAMES = ['wrangler.toml', 'wrangler.jsonc', 'wrangler.json'];

/** The wrangler configuration nearest to `from` (this directory or a parent), as wrangler itself looks. */
export function findWranglerConfig(from = process.cwd()): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    for (const name of CONFIG_NAMES) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** No wrangler configuration, or it binds no models bucket. */
export class WranglerConfigError extends Error {
  override name = 'WranglerConfigError';
}

export interface ModelsBucket {
  configPath: string;
  binding: string;
  bucketName: string;
}

/** Reads the bucket behind `binding` from the wrangler configuration, with wrangler's own parser. */
export async function readModelsBucket(configPath: string | undefined, binding = MODELS_BINDING): Promise<ModelsBucket> {
  const resolved = configPath ? path.resolve(configPath) : findWranglerConfig();
  if (!resolved || !existsSync(resolved)) {
    throw new WranglerConfigError(
      `no wrangler configuration found${configPath ? ` at ${configPath}` : ' (looked for wrangler.toml from the current directory up)'}`,
    );
  }
  const { unstable_readConfig } = await import('wrangler');
  const config = unstable_readConfig({ config: resolved }, { hideWarnings: true });
  const bucket = (config.r2_buckets as { binding: string; bucket_name?: string }[]).find((b) => b.binding === binding);
  if (!bucket?.bucket_name) {
    throw new WranglerConfigError(`${resolved} binds no R2 bucket as ${binding}`);
  }
  return { configPath: resolved, binding, bucketName: bucket.bucket_name };
}
