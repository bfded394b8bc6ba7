import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../support/scenario/effects.js';
import { playPropertyRunsInProcesses } from '../../support/scenario/property-processes.js';
import { playPropertyRuns } from '../../support/scenario/property-runs.js';

/**
 * Runs per property: CI (`npm test`) plays RUNS_IN_CI scenarios of up to eight actions, about
 * half of them with a grace period (a parameter of each run), and checks that they made the
 * function do each of EXPECTED_EFFECTS. `npm run test:long` plays 20,000 (the soak). Set
 * ROTATION_PROPERTY_RUNS for another number; below RUNS_IN_CI the effects are printed, not
 * checked (a handful of runs cannot reach them all).
 */
const RUNS_IN_CI = 300;
const RUNS = Number(process.env.ROTATION_PROPERTY_RUNS ?? String(RUNS_IN_CI));

/**
 * A fixed seed keeps CI reproducible: a failure there replays exactly. Set
 * ROTATION_PROPERTY_SEED (any integer, or `random`) to explore other scenarios.
 */
const SEED_SETTING = process.env.ROTATION_PROPERTY_SEED ?? '20261128';
const SEED =
  SEED_SETTING === 'random' ? Math.floor(Math.random() * 0x7fffffff) : Number(SEED_SETTING);

/**
 * Processes that play the runs at once, each its share of the same seeded sequence (see
 * playPropertyRuns): one in CI, where the other test files keep both cores busy; one per core
 * from 2,000 runs (the soak). Set ROTATION_PROPERTY_PROCESSES to choose.
 */
const PROCESSES = Number(
  process.env.ROTATION_PROPERTY_PROCESSES ?? String(RUNS >= 2_000 ? availableParallelism() : 1),
);

/**
 * What the runs must have made the function do at least once: otherwise the property would
 * pass without ever exercising the behaviour it is there to check.
 */
const EXPECTED_EFFECTS: readonly Effect[] = [
  'compensating delete after a failed PutSecretValue',
  'testSecret retried after InvalidClientTokenId',
  'testSecret retried after Throttling',
  'testSecret retried after TimeoutError',
  'deactivated before deleting',
  'rotation given up',
  'refused to delete a key in use',
  'deleted a key unused for staleKeyDays',
  'refused a user owned by another secret',
  'refused a look-alike secret',
  'refused to promote an unproven version',
  'marked a proven version',
  'refused a cancelled rotation',
  'listed again to confirm a missing key',
  'configuration test passed',
  'operator rolled back',
  'grace period: retirement scheduled',
  'grace period: previous key retired',
  'grace period: retirement after a rollback did nothing',
  'grace period: retirement after a newer rotation did nothing',
  'grace period: old key still used',
  'grace period: newer rotation deleted the Active previous key',
];

describe('Rotation: random scenarios (property)', () => {
  it(
    'keeps every invariant through rotations, concurrent RotateSecret calls, faults, operators and attackers (look-alike secrets, retagged users, forged steps), and recovers',
    async () => {
      const options = { runs: RUNS, seed: SEED };
      const { effects } =
        PROCESSES > 1
          ? await playPropertyRunsInProcesses(options, PROCESSES)
          : await playPropertyRuns(options);
      const total = new Map(effects);
      console.info(
        `Effects over ${RUNS} runs (seed ${SEED}, ${PROCESSES} process(es)): ${[...total].map(([effect, count]) => `${effect}: ${count}`).join('; ')}`,
      );
      if (RUNS >= RUNS_IN_CI) {
        for (const effect of EXPECTED_EFFECTS) {
          expect(
            total.get(effect) ?? 0,
            `runs that made the function do: ${effect}`,
          ).toBeGreaterThan(0);
        }
      }
    },
    RUNS * 1_000,
  );
});
