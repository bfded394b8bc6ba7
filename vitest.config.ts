import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The first CDK synth in a worker takes several seconds; moto-backed suites start a server.
    testTimeout: 60_000,
    // Both cores: vitest's default leaves one of the two idle, and the suite is CPU-bound.
    maxWorkers: 2,
    hookTimeout: 60_000,
    setupFiles: ['test/support/setup.ts'],
  },
});
