/**
 * The resized-image path warmed at global scope, once the embedded models are built (each build has
 * already rendered one native-size image): a visitor's first `size=` request then finds the resize
 * kernels compiled and their memory set up.
 *
 * Global scope allows no I/O, no timers, no random values, and no `new Response()` either (workerd
 * refuses it), so this goes to core's render pipeline directly, not through the app: an app request
 * cannot finish there and only logs errors.
 */
import { imagePng } from '@gan/core/render';
import type { EmbeddedModels } from './embedded-models.ts';

export function warmUp(models: EmbeddedModels): void {
  const [first] = models.values();
  if (!first) return;
  try {
    imagePng(first.generator, { seed: 'warm-up', classIndex: first.manifest.classes.length > 0 ? 0 : undefined }, { size: 128 });
  } catch (error) {
    console.error('warm-up render failed', error instanceof Error ? error.message : error);
  }
}
