/** `gan walk`: an animated latent walk from an exported model, through core's render pipeline (the worker's walk.gif). */
import type { Command } from 'commander';
import { WALK_DEFAULTS, walkGif, walkKeys } from '@gan/core';
import { UsageError, integer } from './common.ts';
import { type RenderCommandFlags, classChoiceOf, registerRenderCommand } from './render-flags.ts';

interface WalkFlags extends RenderCommandFlags {
  keys?: number;
  frames: number;
  fps: number;
}

export function register(program: Command): void {
  registerRenderCommand<WalkFlags>(
    program,
    {
      name: 'walk',
      description:
        "Write an animated GIF that walks the latent space through key images: the same bytes as the worker's walk.gif for the same parameters.",
      seed: 'key k is cell k of grid.png with this seed (default: random, printed)',
      options: (command) =>
        command
          .option(
            '--keys <n>',
            `key images, 2–16 (default: ${WALK_DEFAULTS.keys}; with --class each, the number of classes)`,
            integer(2, 16),
          )
          .option('--frames <n>', 'frames per key-to-key transition, 1–30', integer(1, 30), WALK_DEFAULTS.frames)
          .option('--fps <n>', 'frames per second, 1–30', integer(1, 30), WALK_DEFAULTS.fps),
      class: "class name or index for every key, or each: key k is class k (conditional models; default: drawn from each key's seed)",
      size: "frame edge in pixels (default: the model's own)",
      out: ['--out <file.gif>', 'where to write the GIF'],
    },
    (flags, { seed, filter, truncation, manifest, generator }) => {
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
      return {
        bytes: walkGif(generator, walkKeys(seed, keys, numClasses, choice), {
          size: flags.size,
          filter,
          truncation,
          frames: flags.frames,
          fps: flags.fps,
        }),
        details: `, ${keys} keys × ${flags.frames} frames at ${flags.fps} fps`,
      };
    },
  );
}
