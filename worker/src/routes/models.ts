/** GET /v1/models and /v1/models/:model */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { CURRENT, IMMUTABLE } from '../http-cache.ts';
import { filtersOf, parseModelRef } from '../validation.ts';

export const modelRoutes = new Hono<AppEnv>()
  .get('/v1/models', async (c) => {
    const store = c.var.store;
    const names = await store.listNames();
    const models = await Promise.all(
      names.map(async (name) => {
        try {
          const { version, manifest } = await store.resolve({ name }, { standIn: false });
          return {
            name,
            version,
            imageSize: manifest.imageSize,
            channels: manifest.channels,
            classes: manifest.classes,
            latentSize: manifest.latentSize,
            trainedAt: manifest.createdAt,
            dataset: manifest.dataset.name,
            metrics: manifest.metrics,
            // What a page can offer for `filter`: `learned` only where this version ships an upscaler.
            ...filtersOf(manifest),
            available: true,
          };
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          return { name, available: false, error: error.body().error };
        }
      }),
    );
    return c.json({ models }, 200, { 'Cache-Control': CURRENT });
  })
  .get('/v1/models/:model', async (c) => {
    const model = await c.var.store.resolve(parseModelRef(c.req.param('model')), { standIn: false });
    return c.json(model.manifest, 200, {
      'Cache-Control': model.pinned ? IMMUTABLE : CURRENT,
      'X-Model-Version': model.version,
    });
  });
