/**
 * The Worker's configuration, parsed once per isolate from its environment (wrangler.toml [vars]),
 * with every default in one place. A var that is absent, empty or not a non-negative number takes its
 * default: a typo in a deployment must not take the images down.
 */
import { z } from 'zod';

/** The defaults; wrangler.toml [vars] states the deployed values. */
export const CONFIG_DEFAULTS = {
  /** How long an isolate trusts models/<name>/current.json. */
  currentPointerTtlSeconds: 30,
  /** Loaded generators (folded weights, and their versions' upscalers) kept per isolate. */
  modelMemoryBudgetMb: 48,
  /** Deadline of one R2 call, body included. */
  r2TimeoutMs: 10_000,
} as const;

/**
 * The periods of wrangler.toml's [[ratelimits]] (a binding cannot tell its own): the Retry-After of
 * a 429. tests/worker/ratelimit.test.ts checks them against wrangler.toml.
 */
export const RATE_LIMIT_PERIOD_SECONDS = {
  /** RATE_LIMITER: every request. */
  requests: 60,
  /** GRID_RATE_LIMITER: grid, walk and morph requests. */
  grids: 60,
} as const;

const nonNegativeVar = (fallback: number) =>
  z
    .preprocess((value) => (value === undefined || value === '' ? fallback : Number(value)), z.number().finite().nonnegative())
    .catch(fallback);

export const WorkerConfigSchema = z
  .object({
    CURRENT_POINTER_TTL_SECONDS: nonNegativeVar(CONFIG_DEFAULTS.currentPointerTtlSeconds),
    MODEL_MEMORY_BUDGET_MB: nonNegativeVar(CONFIG_DEFAULTS.modelMemoryBudgetMb),
  })
  .transform((vars) => ({
    /** How long a read of current.json is trusted. */
    pointerTtlMs: vars.CURRENT_POINTER_TTL_SECONDS * 1000,
    /** Bytes of folded weights (and upscaler weights) kept loaded at most. */
    byteBudget: vars.MODEL_MEMORY_BUDGET_MB * 1024 * 1024,
    r2TimeoutMs: CONFIG_DEFAULTS.r2TimeoutMs as number,
  }));
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

/**
 * The configuration an environment's vars give (bindings are read where they are used); `{}` gives
 * the defaults. Takes any object (the Env, a test's vars) so that this module does not depend on the Env type.
 */
export function parseWorkerConfig(vars: object): WorkerConfig {
  return WorkerConfigSchema.parse(vars);
}
