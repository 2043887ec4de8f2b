/**
 * The resized-image path, the GIF encoder and a learned upscaler warmed at global scope, once the
 * embedded models are built (each build has already rendered one native-size image): a visitor's
 * first `size=` request then finds the resize kernels compiled and their memory set up, the first
 * `walk.gif` of an isolate does not pay V8's first compilation of the colour quantiser (~60–90 ms of
 * CPU, on top of the up to ~0.45 s that the largest walk costs), and the first `filter=learned` image
 * not its upscaler's first run (~24 ms); bench/cold-start.ts measures the startup it adds.
 *
 * Global scope allows no I/O, no timers, no random values, and no `new Response()` either (workerd
 * refuses it), so this goes to core's render pipeline directly, not through the app: an app request
 * cannot finish there and only logs errors.
 */
import { imagePng, walkGif, walkKeys } from '@gan/core/render';
import type { EmbeddedModels } from './embedded-models.ts';

export function warmUp(models: EmbeddedModels): void {
  const [first] = models.values();
  if (!first) return;
  try {
    const classes = first.manifest.classes.length;
    imagePng(first.generator, { seed: 'warm-up', classIndex: classes > 0 ? 0 : undefined }, { size: 128 });
    // A colour model's walk: greyscale frames need no quantiser.
    const colour = [...models.values()].find((m) => m.manifest.channels === 3) ?? first;
    const colourClasses = colour.manifest.classes.length;
    walkGif(colour.generator, walkKeys('warm-up', 2, colourClasses, colourClasses > 0 ? 0 : 'none'), { frames: 1, fps: 12 });
    // A version with a learned upscaler (the page and the README's tag ask for it): its first run.
    const upscaled = [...models.values()].find((m) => m.manifest.upscaler);
    if (upscaled) {
      const upscaledClasses = upscaled.manifest.classes.length;
      imagePng(upscaled.generator, { seed: 'warm-up', classIndex: upscaledClasses > 0 ? 0 : undefined }, { size: 128, filter: 'learned' });
    }
  } catch (error) {
    console.error('warm-up render failed', error instanceof Error ? error.message : error);
  }
}
