/** `gan export`: a run's generator → model.json + shards + manifest + card, as the worker loads it. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_SHARD_BYTES, MIN_SHARD_BYTES, ModelNameSchema } from '@gan/core';
import { exportRun } from '../export/export.ts';
import { UsageError, info, integer } from './common.ts';
import { type IgnoredBackendFlags, activateRenderBackend, ignoredBackendOptions } from './render-flags.ts';

interface ExportFlags extends IgnoredBackendFlags {
  run: string;
  out: string;
  name?: string;
  version?: string;
  shardBytes?: number;
  float16: boolean;
  cardNotes?: string;
}

export function register(program: Command): void {
  const [backendOption, threadsOption] = ignoredBackendOptions();
  program
    .command('export')
    .description(
      "Export a run's generator (newest valid checkpoint) in the tfjs layers format with manifest.json, model card and sample grid.",
    )
    .requiredOption('--run <dir>', 'run directory written by gan train')
    .requiredOption('--out <dir>', 'directory to write (created; an earlier export there is replaced)')
    .option('--name <name>', 'model name, a lower-case slug (default: from the data set)')
    .option('--version <version>', 'version name (default: UTC time and the weights sha256)')
    .option('--shard-bytes <n>', 'largest weight shard in bytes', integer(MIN_SHARD_BYTES), DEFAULT_SHARD_BYTES)
    .option('--float16', 'store weights as half floats (half the size)', false)
    .option('--card-notes <file>', 'a Markdown file appended to the model card (e.g. an ablation or a comparison)')
    .addOption(backendOption)
    .addOption(threadsOption)
    .action(async (flags: ExportFlags) => {
      const name = flags.name === undefined ? undefined : ModelNameSchema.safeParse(flags.name);
      if (name && !name.success) throw new UsageError('--name', `must be ${name.error.issues[0].message}`);
      let cardNotes: string | undefined;
      if (flags.cardNotes !== undefined) {
        try {
          cardNotes = await readFile(flags.cardNotes, 'utf8');
        } catch (err) {
          throw new UsageError('--card-notes', `cannot read ${flags.cardNotes}: ${(err as Error).message}`);
        }
      }
      // The sample grid is rendered here: on the serving path, so it shows the worker's bytes.
      await activateRenderBackend('export', flags);
      const result = await exportRun(flags.run, flags.out, {
        name: flags.name,
        version: flags.version,
        shardBytes: flags.shardBytes,
        float16: flags.float16,
        cardNotes,
      });
      const m = result.manifest;
      info(
        `exported ${m.name} ${m.version} (step ${m.training.steps}, ${m.weightsFormat}) to ${result.outDir}: ${result.files.join(', ')}`,
      );
    });
}
