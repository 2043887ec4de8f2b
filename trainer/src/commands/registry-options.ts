import { type Command, InvalidArgumentError } from 'commander';
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
    .option('--local', "the local R2 that `wrangler dev` serves instead of the real bucket")
    .option('--persist-to <dir>', 'with --local: the directory given to `wrangler dev --persist-to` (default .wrangler/state beside wrangler.toml)')
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

/**
 * Runs a command's action and turns its errors into one line on stderr and exit code 1 (2 for bad
 * usage): the registry's errors say what went wrong; a stack trace would not help the reader.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const e = error as Error;
      process.stderr.write(`error: ${e.message ?? String(error)}\n`);
      process.exitCode = e instanceof InvalidArgumentError || e instanceof UsageError ? 2 : 1;
    }
  };
}

/** Bad usage that commander cannot see (flags that depend on each other, values out of range). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseNonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 0`);
    return n;
  };
}
