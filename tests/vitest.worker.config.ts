import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { parse as parseToml } from 'smol-toml';
import { defineProject } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

// The models under models/ are embedded in the worker (as wrangler.toml's [build] does before a deploy):
// checked against their manifests and written to worker/src/embedded-models.gen.js.
execFileSync(process.execPath, ['--import', 'tsx', `${root}worker/scripts/embed-models.ts`], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});

/** wrangler.toml's [[ratelimits]], as deployed: tests/worker/ratelimit.test.ts runs the worker with them. */
const deployed = parseToml(readFileSync(`${root}wrangler.toml`, 'utf8')) as {
  ratelimits: { name: string; namespace_id: string; simple: { limit: number; period: number } }[];
};
const deployedLimit = (name: string) => ({ simple: deployed.ratelimits.find((r) => r.name === name)!.simple });

// Worker tests run inside workerd (Miniflare), with the real wrangler.toml: R2 is Miniflare's local R2,
// the SIMD .wasm is imported as a compiled module exactly as in the deployed bundle. Each test file
// gets its own runtime, so each file is also a fresh isolate with empty storage.
export default defineProject({
  plugins: [
    cloudflareTest({
      main: `${root}worker/src/index.ts`,
      wrangler: { configPath: `${root}wrangler.toml` },
      // Tests move current.json and expect the next request to see it.
      miniflare: {
        // The shipped exports under models/, for tests/worker/shipped-models.test.ts to put into R2
        // (workerd cannot read the disk): GET /<model>/<file>.
        serviceBindings: {
          SHIPPED_MODELS: async (request: Request) => {
            const models = path.join(root, 'models');
            const file = path.resolve(models, decodeURIComponent(new URL(request.url).pathname).slice(1));
            if (!file.startsWith(`${models}${path.sep}`)) return new Response('outside models/', { status: 400 });
            try {
              return new Response(await readFile(file));
            } catch {
              return new Response('not found', { status: 404 });
            }
          },
        },
        bindings: { CURRENT_POINTER_TTL_SECONDS: '0', DEPLOYED_RATE_LIMITS: JSON.stringify(deployed.ratelimits) },
        // The suite sends thousands of requests from one client: the bindings of wrangler.toml get
        // limits it cannot reach, and tests/worker/ratelimit.test.ts runs the worker with the strict
        // ones below, or with wrangler.toml's own (DEPLOYED_*), in their place.
        ratelimits: {
          RATE_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
          GRID_RATE_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
          STRICT_RATE_LIMITER: { simple: { limit: 5, period: 60 } },
          STRICT_GRID_RATE_LIMITER: { simple: { limit: 2, period: 60 } },
          DEPLOYED_RATE_LIMITER: deployedLimit('RATE_LIMITER'),
          DEPLOYED_GRID_RATE_LIMITER: deployedLimit('GRID_RATE_LIMITER'),
        },
      },
    }),
  ],
  test: {
    name: 'worker',
    root,
    include: ['tests/worker/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
