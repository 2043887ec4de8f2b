import type { Command } from 'commander';
import { type ObjectStorage, openRegistryStorage, type StorageChoice } from '@gan/registry';

export interface StorageFlags {
  local?: boolean;
  persistTo?: string;
  config?: string;
  bucket?: string;
}

/** The flags that choose the bucket, shared by publish, rollback, list, prune, checkpoint and gate. */
export function withStorageOptions(command: Command): Command {
  return command
    .option('--local', 'the local R2 that `wrangler dev` serves instead of the real bucket')
    .option(
      '--persist-to <dir>',
      'with --local: the directory given to `wrangler dev --persist-to` (default .wrangler/state beside wrangler.toml)',
    )
    .option('--config <path>', 'wrangler configuration naming the bucket (default: nearest wrangler.toml)')
    .option('--bucket <name>', 'remote bucket name (default: R2_BUCKET, else the MODELS_BUCKET binding of wrangler.toml)');
}

export function storageChoice(flags: StorageFlags): StorageChoice {
  return { local: flags.local, persistTo: flags.persistTo, configPath: flags.config, bucket: flags.bucket };
}

/** Opens the chosen bucket, runs `work`, and always releases the storage. */
export async function withStorage<T>(flags: StorageFlags, work: (storage: ObjectStorage) => Promise<T>): Promise<T> {
  const storage = await openRegistryStorage(storageChoice(flags));
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}
