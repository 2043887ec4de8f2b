/** `gan sample`: one image from an exported model, by the worker's code path. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { randomSeed, MAX_SEED_LENGTH } from '@gan/core';
import { loadExportedGenerator } from '../export/load.ts';
import { ClassNameError, resolveClass, samplePng } from '../export/sample.ts';
import { UsageError, activateBackend, backendOption, threadsOption, info, integer, type BackendFlags } from './common.ts';

interface SampleFlags extends BackendFlags {
  model: string;
  seed?: string;
  class?: string;
  size?: number;
  filter: string;
  truncation: string;
  out: string;
}

export function register(program: Command): void {
  program
    .command('sample')
    .description("Generate one PNG from an exported model: the same bytes as the worker's image.png for the same seed.")
    .requiredOption('--model <dir>', 'exported model directory (written by gan export)')
    .option('--seed <s>', 'any text; the same seed always gives the same image (default: random, printed)')
    .option('--class <c>', 'class name or index (conditional models; default: drawn from the seed)')
    .option('--size <n>', 'output edge in pixels (default: the model\'s own)', integer(8, 1024))
    .option('--filter <f>', 'resize filter: bilinear or nearest', 'bilinear')
    .option('--truncation <t>', 'scale the latent by t in (0, 1]: less variety, more typical images', '1')
    .requiredOption('--out <file.png>', 'where to write the PNG')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: SampleFlags) => {
      const seed = flags.seed ?? randomSeed();
      if (seed.length === 0 || seed.length > MAX_SEED_LENGTH) throw new UsageError('--seed', `must be 1 to ${MAX_SEED_LENGTH} characters`);
      if (flags.filter !== 'bilinear' && flags.filter !== 'nearest') throw new UsageError('--filter', 'must be bilinear or nearest');
      const truncation = Number(flags.truncation);
      if (!(truncation > 0 && truncation <= 1)) throw new UsageError('--truncation', 'must be a number in (0, 1]');
      await activateBackend(flags, info);
      const { manifest, generator } = await loadExportedGenerator(flags.model);
      try {
        let classIndex: number | undefined;
        try {
          classIndex = resolveClass(manifest, flags.class);
        } catch (err) {
          if (err instanceof ClassNameError) throw new UsageError('--class', err.message);
          throw err;
        }
        const png = samplePng(manifest, generator, { seed, classIndex, size: flags.size, filter: flags.filter, truncation });
        await writeFile(flags.out, png);
        info(`wrote ${flags.out} (${manifest.name} ${manifest.version}, seed ${JSON.stringify(seed)}${classIndex !== undefined ? `, class ${manifest.classes[classIndex]}` : ''})`);
      } finally {
        generator.dispose();
      }
    });
}
