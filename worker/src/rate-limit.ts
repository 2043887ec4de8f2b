/**
 * Per-client rate limiting with the Workers rate-limiting binding (`[[ratelimits]]` in wrangler.toml).
 *
 * The key is the client's address as Cloudflare saw it (CF-Connecting-IP, which clients cannot set
 * through Cloudflare). The binding counts per Cloudflare location and is eventually consistent: it
 * bounds abuse, it is not an exact quota. Requests over the limit get 429 with Retry-After before
 * any other work (no R2 read, no render); CORS headers are added by the app like on every response.
 *
 * Without the binding (a deployment that leaves it out) nothing is limited. If the binding itself
 * fails, the request is served: a limiter outage must not take the images down with it.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';
import type { Env } from './env.ts';
import { TooManyRequestsError } from './errors.ts';

/** The periods the binding supports. */
export const RATE_LIMIT_PERIODS = [10, 60] as const;

export interface RateLimitOptions {
  /** The binding for a request's environment (`undefined`: not configured, nothing is limited). */
  binding: (env: Env) => RateLimit | undefined;
  /** The binding's period in seconds (wrangler.toml `simple.period`): the Retry-After of a 429. */
  periodSeconds: (typeof RATE_LIMIT_PERIODS)[number];
  /** Which requests count; all by default. */
  applies?: (c: Context<AppEnv>) => boolean;
  /** What is limited, for the error message ("requests", "grids"). */
  what: string;
}

/** The client a request is counted against. */
export function clientKey(c: Context<AppEnv>): string {
  const ip = c.req.header('CF-Connecting-IP')?.trim();
  // Always present behind Cloudflare; absent only in local tools and service-binding calls, which
  // then share one bucket.
  return ip ? `ip:${ip.slice(0, 64)}` : 'ip:unknown';
}

export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  if (!RATE_LIMIT_PERIODS.includes(options.periodSeconds)) {
    throw new TypeError(`rate limit period must be one of ${RATE_LIMIT_PERIODS.join(', ')} seconds`);
  }
  const applies = options.applies ?? (() => true);
  return async (c, next) => {
    const limiter = options.binding(c.env);
    if (limiter && c.req.method !== 'OPTIONS' && applies(c)) {
      let success = true;
      try {
        ({ success } = await limiter.limit({ key: clientKey(c) }));
      } catch (error) {
        console.error('rate limiter failed; serving the request', error instanceof Error ? error.message : error);
      }
      if (!success) throw new TooManyRequestsError(options.what, options.periodSeconds);
    }
    await next();
  };
}
