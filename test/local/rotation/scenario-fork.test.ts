import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPREVIOUS, Simulation } from '../../../local/simulation/index.js';
import { checkInvariants } from '../../support/scenario/invariants.js';
import { Scenario } from '../../support/scenario/scenario.js';
import { copySimulationState } from '../../support/scenario/simulation-fork.js';

/** The fault matrices start every case from a fork of a prepared scenario (Scenario.fork). */
describe('Class: Scenario', () => {
  describe('Method: fork', () => {
    it('starts where the base is, and goes on without changing it', async () => {
      // Arrange: a base after one rotation.
      const base = await Scenario.create({ start: 'stored-key', propagationDelayMs: 300 });
      try {
        await base.rotateNow();
        const baseKeys = base.keys();
        const baseCurrent = base.currentKeyId;

        // Act
        const fork = await Scenario.fork(base);
        try {
          // Assert: the same world, the same records.
          expect(fork.keys()).toEqual(baseKeys);
          expect(fork.currentKeyId).toBe(baseCurrent);
          expect(fork.versionIds()).toEqual(base.versionIds());
          expect(fork.sim.callCount).toBe(base.sim.callCount);
          expect(fork.sim.clock.now()).toBe(base.sim.clock.now());
          expect(fork.rotations.map((rotation) => rotation.status)).toEqual(['succeeded']);
          expect([...fork.sensitiveValues]).toEqual([...base.sensitiveValues]);
          expect(fork.logs.text).toBe(base.logs.text);

          // The fork rotates on, with its own new function instance; the base stays as it was.
          const record = await fork.runScheduledRotation();
          expect(record.status).toBe('succeeded');
          expect(checkInvariants(fork)).toEqual([]);
          expect(fork.storedKeyId(AWSPREVIOUS)).toBe(baseCurrent);
          expect(fork.storedKeyId(AWSCURRENT)).not.toBe(baseCurrent);
          expect(base.keys()).toEqual(baseKeys);
          expect(base.currentKeyId).toBe(baseCurrent);
          expect(base.rotations).toHaveLength(1);
        } finally {
          fork.dispose();
        }
      } finally {
        base.dispose();
      }
    });

    it('fails when the base runs a replaced rotation function, which may hold state', async () => {
      // Arrange
      await Scenario.run({ rotationFunction: (real) => real }, async (base) => {
        // Act / Assert
        await expect(Scenario.fork(base)).rejects.toThrow(/replaced rotation function/);
      });
    });

    it('gives the fork a new instance of a replaced rotation function said to keep no state', async () => {
      // Arrange
      const instances: Scenario[] = [];
      const { base } = await Scenario.prepared(
        {
          rotationFunction: (real, scenario) => {
            instances.push(scenario);
            return real;
          },
        },
        (scenario) => scenario.rotateNow(),
      );

      // Act
      const refused = await Scenario.fork(base).catch((error: unknown) => error);
      const fork = await Scenario.fork(base, { statelessRotationFunction: true });
      try {
        const rotation = await fork.runScheduledRotation();

        // Assert
        expect(refused).toBeInstanceOf(Error);
        expect(rotation.status).toBe('succeeded');
        expect(instances).toHaveLength(2);
        expect(instances[0]).toBe(base);
        expect(instances[1]).toBe(fork);
      } finally {
        fork.dispose();
      }
    });
  });
});

describe('Function: copySimulationState', () => {
  it('fails when the state holds a function it cannot copy (a propagation delay rule)', () => {
    // Arrange
    const from = new Simulation();
    const to = new Simulation();
    from.setPropagationDelay(() => 1_000);

    // Act / Assert
    expect(() => {
      copySimulationState(from, to);
    }).toThrow(/iam.propagationDelay is a function/);
    from.dispose();
    to.dispose();
  });
});
