/**
 * One request per embedded model through the app (and one resized image), made at global scope once
 * the models are built:
 * the code of an image request (routing, validation, the store, rendering, headers) runs once before
 * a visitor's first request, so that request finds it compiled and its one-time set-up done.
 *
 * Global scope allows no I/O and no random values: the warm-up app has a store of its own with no
 * bucket (the embedded models only) and no bindings at all, and asks for a seeded image, whose
 * Cache API calls fail quietly there (the cache is an optimisation; http-cache.ts ignores failures).
 * The requests' answers are dropped. A failure is logged and changes nothing.
 */
import { createApp } from './app.ts';
import { parseWorkerConfig } from './config.ts';
import type { EmbeddedModels } from './embedded-models.ts';
import { ModelStore } from './model-store.ts';

export async function warmUp(models: EmbeddedModels): Promise<void> {
  const store = new ModelStore(undefined, parseWorkerConfig({}), { embedded: async () => models });
  const app = createApp({ storeFor: () => store });
  // Every model at its native size; then one resized image (the resize kernels' first use).
  const paths = [...models.keys()].map((name) => `/v1/models/${name}/image.png?seed=warm-up`);
  const [first] = models.keys();
  if (first) paths.push(`/v1/models/${first}/image.png?seed=warm-up&size=128`);
  for (const path of paths) {
    try {
      const response = await app.fetch(new Request(`https://warm-up.invalid${path}`), {});
      if (!response.ok) console.error(`warm-up request ${path}: HTTP ${response.status}`);
    } catch (error) {
      console.error(`warm-up request ${path} failed`, error instanceof Error ? error.message : error);
    }
  }
}
