import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration, pruneVersions } from '@gan/registry';
import { integer } from './common.ts';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

/** Pinned image URLs live in caches and pages for a while: versions younger than this stay by default. */
export const DEFAULT_MIN_AGE = '30d';

function parseMinAge(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30d, 12h or 0');
  return ms;
}

export function register(program: Command): Command {
  return withStorageOptions(
    program
      .command('prune')
      .description('Delete old versions; never the current one, never one younger than --min-age')
      .argument('<name>', 'model name'),
  )
    .requiredOption('--keep <n>', 'newest complete versions to keep besides the current one', integer(0))
    .option('--min-age <duration>', 'keep every version published less than this long ago', parseMinAge, parseMinAge(DEFAULT_MIN_AGE))
    .option('--dry-run', 'say what would be deleted, delete nothing')
    .action(async (name: string, flags: StorageFlags & { keep: number; minAge: number; dryRun?: boolean }) => {
      const decisions = await withStorage(flags, (storage) =>
        pruneVersions(storage, name, {
          keep: flags.keep,
          minAgeMs: flags.minAge,
          dryRun: flags.dryRun,
          log: (line) => process.stdout.write(`${line}\n`),
        }),
      );
      const deleted = decisions.filter((d) => d.action === 'delete').length;
      process.stdout.write(`${name}: ${flags.dryRun ? 'would delete' : 'deleted'} ${deleted}, kept ${decisions.length - deleted}\n`);
    });
}
