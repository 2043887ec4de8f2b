/** `gan sample`: one image from an exported model, through core's render pipeline (the worker's). */
import type { Command } from 'commander';
import { classOf, imagePng } from '@gan/core';
import { type RenderCommandFlags, classChoiceOf, registerRenderCommand } from './render-flags.ts';

export function register(program: Command): void {
  registerRenderCommand<RenderCommandFlags>(
    program,
    {
      name: 'sample',
      description: "Generate one PNG from an exported model: the same bytes as the worker's image.png for the same seed.",
      seed: 'any text; the same seed always gives the same image (default: random, printed)',
      class: 'class name or index (conditional models; default: drawn from the seed)',
      size: "output edge in pixels (default: the model's own)",
      out: ['--out <file.png>', 'where to write the PNG'],
    },
    (flags, { seed, filter, truncation, manifest, generator }) => {
      const choice = classChoiceOf(manifest, flags.class);
      const classIndex = classOf(seed, 0, manifest.classes.length, choice);
      return {
        bytes: imagePng(generator, { seed, classIndex }, { size: flags.size, filter, truncation }),
        details: typeof choice === 'number' ? `, class ${manifest.classes[choice]}` : '',
      };
    },
  );
}
