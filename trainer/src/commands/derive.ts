/** `gan derive`: a new version of an exported model with the same generator and an addition (derive/derive.ts). */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MAX_CANDIDATES } from '@gan/core/sampling';
import { readExportedModel } from '@gan/registry';
import { deriveVersion, type VersionAddition } from '../derive/derive.ts';
import { scorerAddition } from '../derive/scorer-addition.ts';
import { upscalerAddition } from '../upscale/derive-addition.ts';
import { UsageError, info, integer } from './common.ts';
import { type IgnoredBackendFlags, activateRenderBackend, ignoredBackendOptions } from './render-flags.ts';

interface DeriveFlags extends IgnoredBackendFlags {
  model: string;
  out: string;
  scorer?: string;
  candidates?: number;
  upscaler?: string;
  upscalerDefault: boolean;
  version?: string;
  cardNotes?: string;
}

export function register(program: Command): void {
  program
    .command('derive')
    .description(
      'Make a new version of an exported model: the same generator files plus an addition (--scorer: candidate sampling), with its own version name, manifest and card.',
    )
    .requiredOption('--model <dir>', 'exported model directory to derive from (left unchanged)')
    .requiredOption('--out <dir>', 'directory to write the new version to (created; an earlier export there is replaced)')
    .option(
      '--scorer <dir>',
      'a scorer directory (gan train-scorer --out <run>: <run>/scorer): sample each image as the best of --candidates',
    )
    .option('--candidates <k>', `latents drawn per image with --scorer (1 to ${MAX_CANDIDATES})`, integer(1, MAX_CANDIDATES))
    .option('--upscaler <dir>', 'an upscaler export (gan upscaler export --out <dir>): filter=learned through it')
    .option('--upscaler-default', 'with --upscaler: learned is the default filter above the model size', false)
    .option('--version <version>', 'version name (default: UTC time and the sha256 of the files served from)')
    .option('--card-notes <file>', 'a Markdown file appended to the model card (e.g. the figures of the sampling trade-off)')
    .addOption(ignoredBackendOptions()[0])
    .addOption(ignoredBackendOptions()[1])
    .action(async (flags: DeriveFlags) => {
      if (flags.scorer !== undefined && flags.candidates === undefined) throw new UsageError('--candidates', 'is needed with --scorer');
      if (flags.candidates !== undefined && flags.scorer === undefined) throw new UsageError('--scorer', 'is needed with --candidates');
      let cardNotes: string | undefined;
      if (flags.cardNotes !== undefined) {
        try {
          cardNotes = await readFile(flags.cardNotes, 'utf8');
        } catch (err) {
          throw new UsageError('--card-notes', `cannot read ${flags.cardNotes}: ${(err as Error).message}`);
        }
      }
      // sample.png is rendered through the new version on the serving path, as gan export renders its own.
      await activateRenderBackend('derive', flags);
      const { manifest } = await readExportedModel(flags.model);
      const additions: VersionAddition[] = [];
      if (flags.scorer !== undefined) {
        const command = `gan derive --model <${manifest.name}@${manifest.version}> --scorer ${flags.scorer} --candidates ${flags.candidates}`;
        additions.push(await scorerAddition(manifest, flags.scorer, flags.candidates!, command));
      }
      if (flags.upscaler !== undefined) {
        const command = `gan derive --model <${manifest.name}@${manifest.version}> --upscaler ${flags.upscaler}${flags.upscalerDefault ? ' --upscaler-default' : ''}`;
        additions.push(await upscalerAddition(manifest, flags.upscaler, flags.upscalerDefault, command));
      }
      if (additions.length === 0) throw new UsageError('--scorer', 'name at least one addition (--scorer, --upscaler)');
      const result = await deriveVersion({ model: flags.model, out: flags.out, additions, version: flags.version, cardNotes });
      info(
        `derived ${result.manifest.name} ${result.manifest.version} from ${manifest.version} to ${result.outDir}: ${result.files.join(', ')}`,
      );
    });
}
