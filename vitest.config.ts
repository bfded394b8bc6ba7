import { defineConfig } from 'vitest/config';
import { SlowestFirstSequencer } from './test/support/slowest-first-sequencer.js';

/**
 * `npm test` (CI) runs every kind of test: each fault class, the property suite, the moto suite,
 * the bundle checks. `npm run test:long` (IAM_KEY_ROTATION_LONG_TESTS=1) adds the long tails:
 * the full fault matrix (every fault kind at every call of every setup and retry configuration),
 * the 20,000-scenario soak of the property suite, the interleaving explorer's whole set, and the
 * `*.long.test.ts` files (the 1,000-user synth). A variable set by hand wins over these.
 */
const LONG = process.env.IAM_KEY_ROTATION_LONG_TESTS === '1';
if (LONG) {
  process.env.ROTATION_FULL_FAULT_MATRIX ??= '1';
  process.env.ROTATION_PROPERTY_RUNS ??= '20000';
  process.env.ROTATION_FULL_INTERLEAVINGS ??= '1';
}

const EXCLUDE = LONG ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/**/*.long.test.ts'];

/**
 * Test files that each get fresh modules: those that start processes and servers (moto, the
 * built command, `cdk synth`, `npm start`) or import bundles, whose own time dwarfs a module
 * load. Every other file shares its worker's loaded modules with the files before it (vitest's
 * `isolate: false`): loading aws-cdk-lib, the SDK clients and the simulation once per worker
 * instead of once per file more than halves the time of test/lib and test/lambda. Such a file
 * must leave no global behind: an aws-sdk-client-mock it creates is restored in `afterAll`.
 */
const ISOLATED = [
  'test/integration/**/*.test.ts',
  'test/cli/*-over-moto.test.ts',
  'test/docs/readme-commands.test.ts',
  'test/local/start.test.ts',
  'test/scripts/**/*.test.ts',
];

export default defineConfig({
  test: {
    // The first CDK synth in a worker takes several seconds; moto-backed suites start a server.
    testTimeout: 60_000,
    // Both cores: vitest's default leaves one of the two idle, and the suite is CPU-bound.
    maxWorkers: 2,
    // A moto suite's beforeAll runs `npx cdk synth` with bundling (two esbuild passes: the
    // asset is split into chunks by NodejsFunction's afterBundling hook): about 10 s on an idle
    // machine, over 60 s when several run beside other work on a shared one.
    hookTimeout: 180_000,
    // Builds the command the CLI tests start (dist/cli), as `npm ci` does, when it is missing
    // or was built from other sources than today's (scripts/build-command.ts, isBuildCurrent).
    globalSetup: ['test/support/global-setup.ts'],
    // The longest files first, so that no long file starts last (test/support/slowest-first-sequencer.ts).
    sequence: { sequencer: SlowestFirstSequencer },
    setupFiles: ['test/support/setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: [...EXCLUDE, ...ISOLATED],
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: 'isolated', include: ISOLATED, exclude: EXCLUDE },
      },
    ],
  },
});
