/** GET /healthz: the backend that serves (WASM, SIMD) and what this isolate has loaded. */
import { Hono } from 'hono';
import * as tf from '@tensorflow/tfjs-core';
import type { AppEnv } from '../app-env.ts';
import { BackendUnavailableError } from '../errors.ts';
import { NO_STORE } from '../http-cache.ts';
import { embeddedStartup } from '../embedded-models.ts';
import { initBackend, wasmHeapBytes } from '../tf-backend.ts';

export const healthRoutes = new Hono<AppEnv>().get('/healthz', async (c) => {
  const backend = await initBackend().catch((error: unknown) => {
    throw new BackendUnavailableError(error instanceof Error ? error.message : 'unknown error');
  });
  const store = c.var.store.status();
  const memory = tf.memory();
  return c.json(
    {
      status: 'ok',
      backend: backend.backend,
      simd: backend.simd,
      threads: backend.threads,
      tfjs: backend.tfjsVersion,
      models: store.models,
      versions: store.models.map((m) => `${m.name}@${m.version}`),
      memory: {
        modelBytes: store.usedBytes,
        budgetBytes: store.budgetBytes,
        tensors: memory.numTensors,
        tensorBytes: memory.numBytes,
        wasmHeapBytes: wasmHeapBytes() ?? null,
      },
      // The models in the bundle: built while the isolate started (atGlobalScope), and how long that took.
      embedded: embeddedStartup() ?? null,
      registry: store.registry,
      r2Reads: store.reads,
      // Current versions that could not be served, and the last good version serving in their place.
      fallbacks: store.fallbacks,
    },
    200,
    { 'Cache-Control': NO_STORE },
  );
});
