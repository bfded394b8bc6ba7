import { IAMClient, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { METRICS, RETIRE_OPERATION } from '../../../lambda/observability.js';
import { AWSCURRENT, AWSPREVIOUS } from '../../../local/simulation/index.js';
import { checkGracePeriod, checkInvariants } from '../../support/scenario/invariants.js';
import { Scenario, USER_NAME } from '../../support/scenario/scenario.js';

const GRACE_SECONDS = 3_600;
const GRACE_MS = GRACE_SECONDS * 1_000;

const status = (scenario: Scenario, accessKeyId: string | undefined): string | undefined =>
  accessKeyId === undefined ? undefined : scenario.sim.accessKey(accessKeyId)?.status;

/** Two rotations: the second leaves the first one's key Active as AWSPREVIOUS. */
const rotateTwice = async (scenario: Scenario): Promise<{ previous: string; current: string }> => {
  await scenario.rotateNow();
  const previous = scenario.storedKeyId(AWSCURRENT) ?? '';
  await scenario.runScheduledRotation();
  return { previous, current: scenario.storedKeyId(AWSCURRENT) ?? '' };
};

describe('Rotation with a grace period (simulation)', () => {
  it('keeps the previous key Active until its schedule fires at the end of the grace period, then deactivates it', async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      const { previous, current } = await rotateTwice(scenario);
      expect(status(scenario, previous)).toBe('Active');
      expect(scenario.sim.schedules).toHaveLength(1);

      await scenario.sim.clock.sleep(GRACE_MS / 2);
      expect(await scenario.runDueSchedules()).toEqual([]);
      expect(status(scenario, previous)).toBe('Active');
      expect(checkInvariants(scenario)).toEqual([]);

      await scenario.sim.clock.sleep(GRACE_MS / 2 + 1_000);
      const fired = await scenario.runDueSchedules();

      expect(fired.map((invocation) => invocation.outcome)).toEqual(['succeeded']);
      expect(status(scenario, previous)).toBe('Inactive');
      expect(status(scenario, current)).toBe('Active');
      expect(scenario.sim.schedules).toEqual([]); // ActionAfterCompletion: DELETE
      expect(checkInvariants(scenario)).toEqual([]);
      const retireMetrics = scenario.logs.metricEntries.filter(
        (entry) => entry.operation === RETIRE_OPERATION,
      );
      expect(retireMetrics).toHaveLength(1);
      expect(retireMetrics[0]?.[METRICS.oldKeyStillUsed]).toBe(0);
    });
  });

  it('leaves the key alone when the operator rolled back within the grace period (it is AWSCURRENT again)', async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      const { previous, current } = await rotateTwice(scenario);
      await scenario.applyOutOfBand('rollback');
      expect(scenario.storedKeyId(AWSCURRENT)).toBe(previous);

      await scenario.sim.clock.sleep(GRACE_MS + 1_000);
      await scenario.runDueSchedules();

      expect(status(scenario, previous)).toBe('Active');
      expect(status(scenario, current)).toBe('Active');
      // The rollback wrote a new version holding the previous key: the schedule's rotation is
      // no longer AWSCURRENT, and its version no longer AWSPREVIOUS.
      expect(scenario.logs.text).toContain('is no longer AWSPREVIOUS');
      expect(checkInvariants(scenario)).toEqual([]);
    });
  });

  it('lets the next rotation delete the previous key (deactivated first); its schedule then does nothing', async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      const { previous } = await rotateTwice(scenario);
      const callsBefore = scenario.sim.calls.length;

      await scenario.runScheduledRotation();

      const onPrevious = scenario.sim.calls
        .slice(callsBefore)
        .filter((call) => call.params.AccessKeyId === previous && call.outcome === 'success')
        .map((call) => `${String(call.step)} ${call.operation}`);
      expect(onPrevious).toEqual(['createSecret UpdateAccessKey', 'createSecret DeleteAccessKey']);
      await scenario.sim.clock.sleep(GRACE_MS + 1_000);
      const fired = await scenario.runDueSchedules();
      expect(fired.map((invocation) => invocation.outcome)).toEqual(['succeeded', 'succeeded']);
      expect(scenario.logs.text).toContain('is no longer AWSPREVIOUS');
      expect(checkInvariants(scenario)).toEqual([]);
    });
  });

  it('does not cut a later rotation short: an older schedule for a key made AWSPREVIOUS again does nothing', async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      // Rotation 2 makes key A AWSPREVIOUS (schedule 1); the operator rolls back to A; rotation 3
      // (half a grace period later) makes A AWSPREVIOUS again (schedule 2).
      const { previous } = await rotateTwice(scenario);
      await scenario.applyOutOfBand('rollback');
      await scenario.sim.clock.sleep(GRACE_MS / 2);
      await scenario.runScheduledRotation();
      expect(scenario.storedKeyId(AWSPREVIOUS)).toBe(previous);

      await scenario.sim.clock.sleep(GRACE_MS / 2 + 1_000);
      await scenario.runDueSchedules();
      expect(status(scenario, previous)).toBe('Active');

      await scenario.sim.clock.sleep(GRACE_MS / 2);
      await scenario.runDueSchedules();
      expect(status(scenario, previous)).toBe('Inactive');
      expect(checkGracePeriod(scenario)).toEqual([]);
    });
  });

  it('warns, emits OldKeyStillUsed and deactivates when the previous key signed a request during the grace period', async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      const { previous } = await rotateTwice(scenario);
      await scenario.sim.clock.sleep(60_000);
      await scenario.useKey(previous);

      await scenario.sim.clock.sleep(GRACE_MS);
      await scenario.runDueSchedules();

      expect(status(scenario, previous)).toBe('Inactive');
      const warning = scenario.logs.logEntries.find(
        (entry) => entry.level === 'WARN' && String(entry.message).includes('still used'),
      );
      expect(warning).toMatchObject({ serviceName: 'sts', region: 'us-east-1' });
      const metric = scenario.logs.metricEntries.find((e) => e.operation === RETIRE_OPERATION);
      expect(metric?.[METRICS.oldKeyStillUsed]).toBe(1);
    });
  });

  it("retires the key on Lambda's retry when the first invocation of the schedule fails", async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      const { previous } = await rotateTwice(scenario);
      scenario.sim.injectFault({
        kind: 'server-error',
        match: { operation: 'UpdateAccessKey', insideInvocation: true },
        times: 3, // the SDK's three attempts of the first invocation
      });

      await scenario.sim.clock.sleep(GRACE_MS + 1_000);
      const fired = await scenario.runDueSchedules();

      expect(fired.map((invocation) => invocation.outcome)).toEqual(['failed', 'succeeded']);
      expect(status(scenario, previous)).toBe('Inactive');
      expect(checkInvariants(scenario)).toEqual([]);
    });
  });

  describe('Function: checkGracePeriod (10)', () => {
    it('fails when the previous key is deactivated within its grace period', async () => {
      await Scenario.run(
        {
          gracePeriodSeconds: GRACE_SECONDS,
          // A broken function: deactivates the AWSPREVIOUS key right after finishSecret.
          rotationFunction: (real, scenario) => async (event, context) => {
            await real(event, context);
            const previous = scenario.storedKeyId(AWSPREVIOUS);
            if (event.Step !== 'finishSecret' || previous === undefined) return;
            const iam = new IAMClient({ ...scenario.sim.lambdaClientConfig() });
            await iam.send(
              new UpdateAccessKeyCommand({
                UserName: USER_NAME,
                AccessKeyId: previous,
                Status: 'Inactive',
              }),
            );
          },
        },
        async (scenario) => {
          const { previous } = await rotateTwice(scenario);

          expect(checkGracePeriod(scenario)).toEqual([
            expect.stringMatching(
              new RegExp(`^10: call \\d+ UpdateAccessKey .* deactivates ${previous} 0 s after`),
            ),
          ]);
        },
      );
    });

    it('fails when the previous key is still Active after its grace period ended', async () => {
      await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
        const { previous } = await rotateTwice(scenario);
        // The schedule is lost (deleted by someone), so nothing retires the key.
        scenario.sim.scheduler.deleteSchedule(
          scenario.sim.schedules[0]?.name,
          scenario.sim.schedules[0]?.groupName,
        );

        await scenario.sim.clock.sleep(GRACE_MS + 2_000);
        await scenario.runDueSchedules();

        expect(checkGracePeriod(scenario)).toEqual([
          expect.stringMatching(
            new RegExp(`^10: key ${previous}, made AWSPREVIOUS by rot-2, is still Active`),
          ),
        ]);
      });
    });

    it('does not apply without a grace period', async () => {
      await Scenario.run({}, async (scenario) => {
        await rotateTwice(scenario);
        expect(checkGracePeriod(scenario)).toEqual([]);
      });
    });
  });
});
