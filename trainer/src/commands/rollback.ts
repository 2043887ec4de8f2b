import type { Command } from 'commander';
import { rollback } from '@gan/registry';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

export function register(program: Command): Command {
  return withStorageOptions(
    program
      .command('rollback')
      .description('Point models/<name>/current.json back at an earlier version (verified whole first)')
      .argument('<name>', 'model name'),
  )
    .option('--to <version>', 'the version to serve (default: the one published before the current one)')
    .action(async (name: string, flags: StorageFlags & { to?: string }) => {
      const result = await withStorage(flags, (storage) => rollback(storage, name, { to: flags.to }));
      process.stdout.write(`${result.name}: current ${result.from} → ${result.to}\n`);
    });
}
