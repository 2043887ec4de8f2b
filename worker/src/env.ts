import type { ModelStore } from './model-store.ts';

/** The Worker's bindings (wrangler.toml). */
export interface Env {
  /** Read-only in use: generators published under models/. */
  MODELS_BUCKET: R2Bucket;
  /** Seconds an isolate trusts models/<name>/current.json (default 30). */
  CURRENT_POINTER_TTL_SECONDS?: string;
  /** Megabytes of loaded generators kept per isolate (default 48). */
  MODEL_MEMORY_BUDGET_MB?: string;
}

export type AppEnv = { Bindings: Env; Variables: { store: ModelStore } };
