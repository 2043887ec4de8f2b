import type { Command } from 'commander';
import { pullCheckpoint, pushCheckpoint } from '../train/remote-checkpoint.ts';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

export function register(program: Command): Command {
  const checkpoint = program
    .command('checkpoint')
    .description('Keep training runs in R2 (checkpoints/<name>/) so a scheduled retrain continues where the last one stopped');
  withStorageOptions(
    checkpoint
      .command('push')
      .description('Upload a run directory as the latest checkpoint of <name> (the previous one is kept as well)')
      .argument('<name>', 'model name'),
  )
    .requiredOption('--run <dir>', 'run directory (gan train --out)')
    .action(async (name: string, flags: StorageFlags & { run: string }) => {
      const index = await withStorage(flags, (storage) => pushCheckpoint(storage, name, flags.run, { log }));
      process.stdout.write(`${name}: checkpoint ${index.id} pushed (${index.files.length} files)\n`);
    });
  withStorageOptions(
    checkpoint
      .command('pull')
      .description("Download <name>'s latest checkpoint into a run directory; without one, say so and succeed")
      .argument('<name>', 'model name'),
  )
    .requiredOption('--run <dir>', 'run directory to fill (gan train --resume --out)')
    .action(async (name: string, flags: StorageFlags & { run: string }) => {
      const index = await withStorage(flags, (storage) => pullCheckpoint(storage, name, flags.run, { log }));
      process.stdout.write(
        index
          ? `${name}: checkpoint ${index.id} pulled into ${flags.run} (${index.files.length} files)\n`
          : `${name}: no checkpoint yet; training starts fresh\n`,
      );
    });
  return checkpoint;
}
