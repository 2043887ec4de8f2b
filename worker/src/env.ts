/** The Worker's bindings (wrangler.toml); the vars are parsed once into a WorkerConfig (config.ts). */
export interface Env {
  /**
   * Read-only in use: generators published under models/ (`gan publish`). Absent (no [[r2_buckets]]
   * in the deployment): the models embedded in the bundle serve, and only those.
   */
  MODELS_BUCKET?: R2Bucket;
  /** Seconds an isolate trusts models/<name>/current.json (default: config.ts). */
  CURRENT_POINTER_TTL_SECONDS?: string;
  /** Megabytes of loaded generators kept per isolate (default: config.ts). */
  MODEL_MEMORY_BUDGET_MB?: string;
  /** Every request, per client (wrangler.toml [[ratelimits]]; absent: not limited). */
  RATE_LIMITER?: RateLimit;
  /** grid.png, walk.gif and morph.png requests, per client, on top of RATE_LIMITER: each is up to 256 images' work. */
  GRID_RATE_LIMITER?: RateLimit;
}
