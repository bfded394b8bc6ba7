import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  actionArbitrary,
  parametersArbitrary,
  playScenario,
} from '../../support/scenario/actions.js';

/**
 * Runs per property: 2,000 scenarios of up to eight actions take about three minutes on a
 * two-core machine (a rotation through the real SDK clients costs about 20 ms). Set
 * ROTATION_PROPERTY_RUNS for a quicker run or a longer soak.
 */
const RUNS = Number(process.env.ROTATION_PROPERTY_RUNS ?? '2000');

/**
 * A fixed seed keeps CI reproducible: a failure there replays exactly. Set
 * ROTATION_PROPERTY_SEED (any integer, or `random`) to explore other scenarios.
 */
const SEED_SETTING = process.env.ROTATION_PROPERTY_SEED ?? '20261128';
const SEED = SEED_SETTING === 'random' ? undefined : Number(SEED_SETTING);

describe('Rotation: random scenarios (property)', () => {
  it(
    'keeps every invariant through rotations, concurrent RotateSecret calls, faults and changes by hand, and recovers',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          parametersArbitrary,
          fc.array(actionArbitrary, { maxLength: 8 }),
          async (parameters, actions) => {
            await playScenario(parameters, actions);
          },
        ),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
    },
    RUNS * 1_000,
  );
});
