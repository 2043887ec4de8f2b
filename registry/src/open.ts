import { openLocalR2 } from './local-r2.ts';
import { openS3Storage, s3OptionsFromEnv } from './s3.ts';
import type { ObjectStorage } from './storage.ts';
import { readModelsBucket } from './wrangler-config.ts';

export interface StorageChoice {
  /** The local R2 of `wrangler dev` instead of the real bucket. */
  local?: boolean;
  /** wrangler.toml (default: the nearest from the current directory up). */
  configPath?: string;
  /** Local only: wrangler's `--persist-to` directory (default `.wrangler/state` beside wrangler.toml). */
  persistTo?: string;
  /** Remote only: bucket name (default: `R2_BUCKET`, else the bucket wrangler.toml binds as MODELS_BUCKET). */
  bucket?: string;
  env?: NodeJS.ProcessEnv;
}

/** Opens the bucket the worker reads: the real one through R2's S3 API, or wrangler dev's local one. */
export async function openRegistryStorage(choice: StorageChoice): Promise<ObjectStorage> {
  if (choice.local) return openLocalR2({ configPath: choice.configPath, persistTo: choice.persistTo });
  const env = choice.env ?? process.env;
  const bucket = choice.bucket ?? env.R2_BUCKET ?? (await readModelsBucket(choice.configPath)).bucketName;
  return openS3Storage(s3OptionsFromEnv(env, bucket));
}
