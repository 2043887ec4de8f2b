/** `gan walk`: an animated latent walk from an exported model, through core's render pipeline (the worker's walk.gif). */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { WALK_DEFAULTS, walkGif, walkKeys } from '@gan/core';
import { loadExportedGenerator } from '../export/load.ts';
import { UsageError, activateBackend, backendOption, threadsOption, info, integer, type BackendFlags } from './common.ts';
import { type RenderFlags, classChoiceOf, filterOption, renderSettings, truncationOption } from './render-flags.ts';

interface WalkFlags extends BackendFlags, RenderFlags {
  model: string;
  keys?: number;
  frames: number;
  fps: number;
  out: string;
}

export function register(program: Command): void {
  program
    .command('walk')
    .description(
      "Write an animated GIF that walks the latent space through key images: the same bytes as the worker's walk.gif for the same parameters.",
    )
    .requiredOption('--model <dir>', 'exported model directory (written by gan export)')
    .option('--seed <s>', 'key k is cell k of grid.png with this seed (default: random, printed)')
    .option('--keys <n>', `key images, 2–16 (default: ${WALK_DEFAULTS.keys}; with --class each, the number of classes)`, integer(2, 16))
    .option('--frames <n>', 'frames per key-to-key transition, 1–30', integer(1, 30), WALK_DEFAULTS.frames)
    .option('--fps <n>', 'frames per second, 1–30', integer(1, 30), WALK_DEFAULTS.fps)
    .option(
      '--class <c>',
      "class name or index for every key, or each: key k is class k (conditional models; default: drawn from each key's seed)",
    )
    .option('--size <n>', "frame edge in pixels (default: the model's own)", integer(8, 1024))
    .addOption(filterOption())
    .addOption(truncationOption())
    .requiredOption('--out <file.gif>', 'where to write the GIF')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: WalkFlags) => {
      const { seed, filter, truncation } = renderSettings(flags);
      await activateBackend(flags, info);
      const { manifest, generator } = await loadExportedGenerator(flags.model);
      try {
        const numClasses = manifest.classes.length;
        const choice = classChoiceOf(manifest, flags.class, true);
        if (choice === 'each' && (flags.keys ?? numClasses) > Math.min(numClasses, 16)) {
          throw new UsageError(
            flags.keys === undefined ? '--class' : '--keys',
            `with --class each key k is class k: at most ${Math.min(numClasses, 16)} keys`,
          );
        }
        const keys = flags.keys ?? (choice === 'each' ? numClasses : WALK_DEFAULTS.keys);
        if (keys < 2) throw new UsageError('--class', 'a walk needs at least 2 keys');
        const gif = walkGif(generator, walkKeys(seed, keys, numClasses, choice), {
          size: flags.size,
          filter,
          truncation,
          frames: flags.frames,
          fps: flags.fps,
        });
        await writeFile(flags.out, gif);
        info(
          `wrote ${flags.out} (${manifest.name} ${manifest.version}, seed ${JSON.stringify(seed)}, ${keys} keys × ${flags.frames} frames at ${flags.fps} fps)`,
        );
      } finally {
        generator.dispose();
      }
    });
}
