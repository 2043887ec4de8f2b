import type { ModelStore } from './model-store.ts';

/** The Worker's bindings (wrangler.toml). */
export interface Env {
  /** Read-only in use: generators published under models/. */
  MODELS_BUCKET: R2Bucket;
  /** Seconds an isolate trusts models/<name>/current.json (default 30). */
  CURRENT_POINTER_TTL_SECONDS?: string;
  /** Megabytes of loaded generators kept per isolate (default 48). */
  MODEL_MEMORY_BUDGET_MB?: string;
  /** Every request, per client (wrangler.toml [[ratelimits]]; absent: not limited). */
  RATE_LIMITER?: RateLimit;
  /** grid.png requests, per client, on top of RATE_LIMITER: a grid is up to 256 images' work. */
  GRID_RATE_LIMITER?: RateLimit;
}

export type AppEnv = { Bindings: Env; Variables: { store: ModelStore } };
