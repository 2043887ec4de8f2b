/**
 * The Worker's Hono app: small route modules assembled here, CORS on every response (errors and
 * preflights included), one error handler that turns ApiErrors into their JSON body and anything
 * unexpected into a 500 without details.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { RATE_LIMIT_PERIOD_SECONDS, parseWorkerConfig } from './config.ts';
import type { AppEnv } from './app-env.ts';
import type { Env } from './env.ts';
import { type EmbeddedModels, requestStarted } from './embedded-models.ts';
import { ApiError, MethodNotAllowedError, RouteNotFoundError } from './errors.ts';
import { NO_STORE } from './http-cache.ts';
import { ModelStore } from './model-store.ts';
import { rateLimit } from './rate-limit.ts';
import { healthRoutes } from './routes/health.ts';
import { imageRoutes } from './routes/images.ts';
import { modelRoutes } from './routes/models.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { pageRoutes } from './routes/page.ts';

export interface AppOptions {
  /** The model store for a request's environment; by default one per isolate, built from env vars. */
  storeFor?: (env: Env) => ModelStore;
  /** The models in the bundle (index.ts starts building them at global scope); default none. */
  embedded?: () => Promise<EmbeddedModels>;
}

/** One store per isolate: the bucket binding and vars are the same for every request of an isolate. */
export function isolateStore(embedded?: () => Promise<EmbeddedModels>): (env: Env) => ModelStore {
  let store: ModelStore | undefined;
  return (env) => (store ??= new ModelStore(env.MODELS_BUCKET, parseWorkerConfig(env), { embedded }));
}

export function createApp(options: AppOptions = {}) {
  const storeFor = options.storeFor ?? isolateStore(options.embedded);
  const app = new Hono<AppEnv>();

  app.use(
    '*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'HEAD', 'OPTIONS'],
      exposeHeaders: ['ETag', 'X-Seed', 'X-Model-Version', 'X-Cache', 'Retry-After', 'Server-Timing'],
      maxAge: 86400,
    }),
  );
  app.use('*', async (c, next) => {
    requestStarted();
    c.set('store', storeFor(c.env));
    await next();
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
  });
  // Before anything that reads R2 or renders.
  app.use('*', rateLimit({ binding: (env) => env.RATE_LIMITER, periodSeconds: RATE_LIMIT_PERIOD_SECONDS.requests, what: 'requests' }));
  app.use(
    '/v1/models/:model/grid.png',
    rateLimit({ binding: (env) => env.GRID_RATE_LIMITER, periodSeconds: RATE_LIMIT_PERIOD_SECONDS.grids, what: 'grid requests' }),
  );
  // A walk or a morph strip is up to a grid's work: they count against the same per-client limit.
  for (const path of ['/v1/models/:model/walk.gif', '/v1/models/:model/morph.png']) {
    app.use(
      path,
      rateLimit({
        binding: (env) => env.GRID_RATE_LIMITER,
        periodSeconds: RATE_LIMIT_PERIOD_SECONDS.grids,
        what: 'grid, walk or morph requests',
      }),
    );
  }

  app.route('/', pageRoutes);
  app.route('/', healthRoutes);
  app.route('/', openApiRoutes);
  app.route('/', modelRoutes);
  app.route('/', imageRoutes);
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '*', (c) => {
    throw new MethodNotAllowedError(c.req.method);
  });

  app.notFound((c) => {
    const error = new RouteNotFoundError(c.req.method, new URL(c.req.url).pathname);
    return c.json(error.body(), 404, { 'Cache-Control': NO_STORE });
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) {
      return c.json(error.body(), error.status, { ...error.headers, 'Cache-Control': NO_STORE });
    }
    if (error instanceof HTTPException) {
      return c.json({ error: { code: 'http_error', message: error.message } }, error.status, { 'Cache-Control': NO_STORE });
    }
    console.error('unhandled error', error instanceof Error ? `${error.name}: ${error.message}` : error);
    return c.json({ error: { code: 'internal_error', message: 'internal error' } }, 500, { 'Cache-Control': NO_STORE });
  });

  return app;
}
