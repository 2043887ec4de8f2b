/**
 * The registry's two stores as the tests open them: R2's S3 API on the test S3 server
 * (tests/helpers/s3-server.ts), and the local R2 of `wrangler dev` kept in a temporary directory; and a
 * bucket snapshot to compare before and after.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from '@gan/core/manifest';
import { type ObjectStorage, openS3Storage } from '@gan/registry';
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, type TestS3Server } from './s3-server.ts';

/** The registry's S3 client on a test server; no retries, so that a refusal shows at once. */
export function openTestS3Storage(server: TestS3Server, secretAccessKey = S3_SECRET_ACCESS_KEY): ObjectStorage {
  return openS3Storage({
    endpoint: server.endpoint,
    bucket: server.bucket,
    accessKeyId: S3_ACCESS_KEY_ID,
    secretAccessKey,
    retries: 0,
  });
}

/** Where a local R2 lives: what openLocalR2 takes, and `gan … --local --config <configPath> --persist-to <persistTo>`. */
export interface TestLocalR2 {
  configPath: string;
  persistTo: string;
}

/**
 * A local R2 under `dir`: a wrangler.toml binding MODELS_BUCKET like the project's, and its state in
 * `dir/state`.
 */
export async function testLocalR2(dir: string, bucketName = 'gan-models'): Promise<TestLocalR2> {
  await mkdir(dir, { recursive: true });
  const configPath = path.join(dir, 'wrangler.toml');
  await writeFile(
    configPath,
    `name = "registry-test"\ncompatibility_date = "2026-04-20"\n\n[[r2_buckets]]\nbinding = "MODELS_BUCKET"\nbucket_name = "${bucketName}"\n`,
  );
  return { configPath, persistTo: path.join(dir, 'state') };
}

/** Every object under a prefix with its sha256: a bucket snapshot to compare before and after. */
export async function bucketSnapshot(storage: ObjectStorage, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of await storage.list(prefix)) out[o.key] = await sha256Hex((await storage.get(o.key))! as Uint8Array<ArrayBuffer>);
  return out;
}
