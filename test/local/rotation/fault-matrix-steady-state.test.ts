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

// Retried with the same token, and given up after one attempt (then the next scheduled
// rotation). A retry with a new token is covered by the property tests.
const matrix = await buildMatrix(
  SETUPS.filter((setup) => setup.rotationsBefore > 0),
  FULL_FAULT_MATRIX
    ? CONFIGS
    : CONFIGS.filter((config) => config.rotation.retry?.reuseToken !== false),
);

describe('Rotation: a single fault at every call of a steady-state rotation', () => {
  describe.each(matrix)('Setup: $setup.name; $config.name', (entry) => {
    const { setup, calls } = entry;
    it('makes the calls a rotation needs, retiring the AWSPREVIOUS key', () => {
      expect(calls[0]).toBe('createSecret DescribeSecret');
      expect(calls).toContain('createSecret DeleteAccessKey');
      expect(calls).toContain('createSecret CreateAccessKey');
      if (setup.gracePeriodSeconds === undefined) {
        expect(calls).toContain('finishSecret UpdateAccessKey');
      } else {
        // The previous key stays Active: finishSecret schedules its retirement, which the
        // schedule's invocation performs when the grace period ends.
        expect(calls).not.toContain('finishSecret UpdateAccessKey');
        expect(calls).toContain('finishSecret CreateSchedule');
        expect(calls).toContain('scheduled UpdateAccessKey');
      }
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
