/**
 * The Worker's entry point. The embedded models are built here, at global scope: while the isolate
 * starts (CPU only, before its first request), not in a visitor's request.
 */
import { createApp } from './app.ts';
import { embeddedModels } from './embedded-models.ts';
import { warmUp } from './warm-up.ts';

embeddedModels().then(
  ({ models }) => warmUp(models),
  () => {
    // Logged there; the first request that needs them builds them again.
  },
);

export default createApp({ embedded: async () => (await embeddedModels()).models });
