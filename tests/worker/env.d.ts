/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The bindings tests see through `cloudflare:workers`: the Worker's own Env.
import type { Env as WorkerEnv } from '@gan/worker/env';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** The tests always bind one (Miniflare's local R2); a deployment may not. */
      MODELS_BUCKET: R2Bucket;
      /** Test-only limiters with small limits (tests/vitest.worker.config.ts). */
      STRICT_RATE_LIMITER: RateLimit;
      STRICT_GRID_RATE_LIMITER: RateLimit;
      /** wrangler.toml's own limits, under other names (tests/vitest.worker.config.ts). */
      DEPLOYED_RATE_LIMITER: RateLimit;
      DEPLOYED_GRID_RATE_LIMITER: RateLimit;
      /** The files under models/ (GET /<model>/<file>), read from the disk by the test runner. */
      SHIPPED_MODELS: Fetcher;
      /** wrangler.toml's [[ratelimits]] tables, as JSON. */
      DEPLOYED_RATE_LIMITS: string;
    }
  }
}
