/** The worker's configuration from its vars: deployed values, defaults, and bad values that fall back. */
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, parseWorkerConfig } from '@gan/worker/config';
import type { Env } from '@gan/worker/env';

const envWith = (vars: Record<string, unknown>) => ({ MODELS_BUCKET: {} as R2Bucket, ...vars }) as Env;
const MB = 1024 * 1024;

describe('worker configuration', () => {
  it('reads the TTL and the memory budget from the vars', () => {
    expect(parseWorkerConfig(envWith({ CURRENT_POINTER_TTL_SECONDS: '5', MODEL_MEMORY_BUDGET_MB: '0.5' }))).toEqual({
      pointerTtlMs: 5000,
      byteBudget: 0.5 * MB,
      r2TimeoutMs: CONFIG_DEFAULTS.r2TimeoutMs,
    });
    // wrangler.toml may give a var as a number; 0 is a valid TTL (the tests' own).
    expect(parseWorkerConfig(envWith({ CURRENT_POINTER_TTL_SECONDS: 0, MODEL_MEMORY_BUDGET_MB: 64 }))).toMatchObject({
      pointerTtlMs: 0,
      byteBudget: 64 * MB,
    });
  });

  it.each([undefined, '', 'soon', '-1', 'Infinity'])('%j takes the defaults', (value) => {
    expect(parseWorkerConfig(envWith({ CURRENT_POINTER_TTL_SECONDS: value, MODEL_MEMORY_BUDGET_MB: value }))).toMatchObject({
      pointerTtlMs: CONFIG_DEFAULTS.currentPointerTtlSeconds * 1000,
      byteBudget: CONFIG_DEFAULTS.modelMemoryBudgetMb * MB,
    });
  });
});
