import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineProject } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

// Worker tests run inside workerd (Miniflare), with the real wrangler.toml: R2 is Miniflare's local R2,
// the SIMD .wasm is imported as a compiled module exactly as in the deployed bundle. Each test file
// gets its own runtime, so each file is also a fresh isolate with empty storage.
export default defineProject({
  plugins: [
    cloudflareTest({
      main: `${root}worker/src/index.ts`,
      wrangler: { configPath: `${root}wrangler.toml` },
      // Tests move current.json and expect the next request to see it.
      miniflare: { bindings: { CURRENT_POINTER_TTL_SECONDS: '0' } },
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
