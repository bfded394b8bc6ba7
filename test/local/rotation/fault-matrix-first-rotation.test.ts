import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../../local/simulation/index.js';
import {
  CONFIGS,
  FULL_FAULT_MATRIX,
  SETUPS,
  buildMatrix,
  faultCases,
  runFaultCase,
} from '../../support/scenario/fault-matrix.js';

// By default given up after one attempt, so every fault that the SDK's own retries do not
// absorb leaves the rotation to the next scheduled one, which reattempts it with the same token
// as a retry would. The steady-state matrix covers the retry configurations.
const matrix = await buildMatrix(
  SETUPS.filter((setup) => setup.rotationsBefore === 0),
  FULL_FAULT_MATRIX ? CONFIGS : CONFIGS.filter((config) => !config.retried),
);

describe('Rotation: a single fault at every call of the first rotation', () => {
  describe.each(matrix)('Setup: $setup.name; $config.name', (entry) => {
    const { calls } = entry;
    it('makes the calls a rotation needs, with testSecret waiting for propagation', () => {
      expect(calls[0]).toBe('createSecret DescribeSecret');
      expect(calls).toContain('createSecret CreateAccessKey');
      expect(calls).toContain('finishSecret UpdateSecretVersionStage');
      expect(
        calls.filter((call) => call === 'testSecret GetCallerIdentity').length,
      ).toBeGreaterThan(1);
    });

    it('tries every fault kind (all of them at every call with ROTATION_FULL_FAULT_MATRIX=1)', () => {
      expect(new Set(faultCases(calls).map((faultCase) => faultCase.kind))).toEqual(
        new Set(FAULT_KINDS),
      );
    });

    it.each(faultCases(calls))(
      'keeps every invariant and rotates next time with $kind at call $position ($call)',
      async (faultCase) => {
        await runFaultCase(entry, faultCase);
      },
    );
  });
});
