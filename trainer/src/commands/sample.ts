/** `gan sample`: one image from an exported model, through core's render pipeline (the worker's). */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { classOf, imagePng } from '@gan/core';
import { loadExportedGenerator } from '../export/load.ts';
import { activateBackend, backendOption, threadsOption, info, integer, type BackendFlags } from './common.ts';
import { type RenderFlags, classChoiceOf, filterOption, renderSettings, truncationOption } from './render-flags.ts';

interface SampleFlags extends BackendFlags, RenderFlags {
  model: string;
  out: string;
}

export function register(program: Command): void {
  program
    .command('sample')
    .description("Generate one PNG from an exported model: the same bytes as the worker's image.png for the same seed.")
    .requiredOption('--model <dir>', 'exported model directory (written by gan export)')
    .option('--seed <s>', 'any text; the same seed always gives the same image (default: random, printed)')
    .option('--class <c>', 'class name or index (conditional models; default: drawn from the seed)')
    .option('--size <n>', "output edge in pixels (default: the model's own)", integer(8, 1024))
    .addOption(filterOption())
    .addOption(truncationOption())
    .requiredOption('--out <file.png>', 'where to write the PNG')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: SampleFlags) => {
      const { seed, filter, truncation } = renderSettings(flags);
      await activateBackend(flags, info);
      const { manifest, generator } = await loadExportedGenerator(flags.model);
      try {
        const choice = classChoiceOf(manifest, flags.class);
        const classIndex = classOf(seed, 0, manifest.classes.length, choice);
        const png = imagePng(generator, { seed, classIndex }, { size: flags.size, filter, truncation });
        await writeFile(flags.out, png);
        info(
          `wrote ${flags.out} (${manifest.name} ${manifest.version}, seed ${JSON.stringify(seed)}${typeof choice === 'number' ? `, class ${manifest.classes[choice]}` : ''})`,
        );
      } finally {
        generator.dispose();
      }
    });
}
