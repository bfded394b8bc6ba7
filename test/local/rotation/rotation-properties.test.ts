import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  actionArbitrary,
  parametersArbitrary,
  playScenario,
} from '../../support/scenario/actions.js';
import { addTally, type Effect } from '../../support/scenario/effects.js';

/**
 * Runs per property: CI (`npm test`) plays 250 scenarios of up to eight actions, about half of
 * them with a grace period (a parameter of each run), in about a minute on an idle two-core
 * machine, so that the whole CI stays within 5 minutes. `npm run test:long` plays 20,000 (the
 * soak), and from 500 runs on the test also checks that the runs made the function do each of
 * EXPECTED_EFFECTS. Set ROTATION_PROPERTY_RUNS for another number.
 */
const RUNS = Number(process.env.ROTATION_PROPERTY_RUNS ?? '250');

/**
 * A fixed seed keeps CI reproducible: a failure there replays exactly. Set
 * ROTATION_PROPERTY_SEED (any integer, or `random`) to explore other scenarios.
 */
const SEED_SETTING = process.env.ROTATION_PROPERTY_SEED ?? '20261128';
const SEED = SEED_SETTING === 'random' ? undefined : Number(SEED_SETTING);

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
      const total = new Map<Effect, number>();
      await fc.assert(
        fc.asyncProperty(
          parametersArbitrary,
          fc.array(actionArbitrary, { maxLength: 8 }),
          async (parameters, actions) => {
            addTally(total, await playScenario(parameters, actions));
          },
        ),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
      console.info(
        `Effects over ${RUNS} runs: ${[...total].map(([effect, count]) => `${effect}: ${count}`).join('; ')}`,
      );
      if (RUNS >= 500) {
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
