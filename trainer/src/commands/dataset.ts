/** `gan dataset push|pull`: training images kept in the bucket (datasets/<name>/), so they need not be committed. */
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { ModelNameSchema } from '@gan/core/manifest';
import { pullDataset, pushDataset } from '@gan/registry';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

const datasetName = (value: string): string => {
  const parsed = ModelNameSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`must be ${parsed.error.issues[0].message}`);
  return value;
};

/** Where `gan dataset pull <name>` puts the files unless told: runs/datasets/<name> (runs/ is not committed). */
export const defaultDatasetDir = (name: string) => path.join('runs', 'datasets', name);

export function register(program: Command): Command {
  const dataset = program
    .command('dataset')
    .description('Keep training images in the bucket (datasets/<name>/, a manifest of sha256s) so they need not be committed');
  withStorageOptions(
    dataset
      .command('push')
      .description('Upload a folder (every file that is not hidden) as data set <name>; files already there are not sent again')
      .argument('<folder>', 'the folder of images (sub-folders are classes)'),
  )
    .requiredOption('--name <name>', 'data set name: a lower-case slug', datasetName)
    .action(async (folder: string, flags: StorageFlags & { name: string }) => {
      const manifest = await withStorage(flags, (storage) => pushDataset(storage, flags.name, folder, { log }));
      process.stdout.write(`${flags.name}: ${manifest.files.length} files pushed (datasets/${flags.name}/manifest.json)\n`);
    });
  withStorageOptions(
    dataset
      .command('pull')
      .description('Download data set <name> and check every file against its sha256')
      .argument('<name>', 'data set name', datasetName),
  )
    .option('--out <dir>', 'folder to fill: empty, or an earlier pull (default runs/datasets/<name>)')
    .action(async (name: string, flags: StorageFlags & { out?: string }) => {
      const out = flags.out ?? defaultDatasetDir(name);
      const manifest = await withStorage(flags, (storage) => pullDataset(storage, name, out, { log }));
      process.stdout.write(`${name}: ${manifest.files.length} files verified in ${out} (train with --data folder:${out})\n`);
    });
  return dataset;
}
