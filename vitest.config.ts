import { defineConfig } from 'vitest/config';

// Two kinds of test: unit and integration tests in Node (core, trainer, registry, integration, the page in Chromium),
// and worker tests that run inside workerd through @cloudflare/vitest-pool-workers.
export default defineConfig({
  test: {
    projects: ['tests/vitest.node.config.ts', 'tests/vitest.worker.config.ts'],
  },
});
