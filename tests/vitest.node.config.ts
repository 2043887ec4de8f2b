import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'node',
    include: ['tests/{core,trainer,registry,integration,e2e}/**/*.test.ts'],
    root: new URL('..', import.meta.url).pathname,
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Training tests are CPU-bound: on a 2-core machine, parallel files only fight for the cores.
    fileParallelism: false,
  },
});
