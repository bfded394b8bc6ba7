import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPREVIOUS } from '../../../local/simulation/index.js';
import { playScenario, type RunParameters } from '../../support/scenario/actions.js';
import { checkInvariants } from '../../support/scenario/invariants.js';
import { Scenario, USER_NAME } from '../../support/scenario/scenario.js';

const failureMessages = (scenario: Scenario): string[] =>
  scenario.sim.invocations
    .filter((invocation) => invocation.outcome === 'failed')
    .map((invocation) => (invocation.error instanceof Error ? invocation.error.message : ''));

/**
 * The run parameters of a scenario the random-seed soak found, as the property prints them:
 * one attempt, a new token on retry, no duplicate step, no propagation delay, no test version,
 * no listing lag and no grace period unless given.
 */
const soakParameters = (
  parameters: Pick<RunParameters, 'start'> & Partial<RunParameters>,
): RunParameters => ({
  seed: 1,
  maxAttempts: 1,
  reuseToken: false,
  duplicateStep: 'none',
  propagationDelayMs: 0,
  testVersionValue: 'none',
  listPropagationDelayMs: 0,
  gracePeriodSeconds: 0,
  ...parameters,
});

describe('Rotation: against the simulated AWS', () => {
  describe('Bootstrap', () => {
    it('creates the first key of a secret that holds only the user name', async () => {
      await Scenario.run({ start: 'empty' }, async (scenario) => {
        await scenario.rotateNow();

        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(scenario.keys().map((key) => key.accessKeyId)).toEqual([
          scenario.storedKeyId(AWSCURRENT),
        ]);
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('keeps a key the user had before the secret at the first rotation and retires it at the second', async () => {
      await Scenario.run({ start: 'pre-existing-key' }, async (scenario) => {
        const [preExisting = ''] = [...scenario.preExistingKeyIds];

        await scenario.rotateNow();

        expect(scenario.sim.accessKey(preExisting)?.status).toBe('Active');
        expect(checkInvariants(scenario)).toEqual([]);

        await scenario.runScheduledRotation();

        expect(scenario.sim.accessKey(preExisting)).toBeUndefined();
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('removes a key made by hand when a given-up rotation is resumed with its stored key', async () => {
      // Found by the property test: the resumed createSecret found its key and returned early,
      // leaving the hand-made key unreferenced after the rotation completed.
      await playScenario(soakParameters({ start: 'empty' }), [
        { kind: 'out-of-band', change: 'delete-current-key' },
        { kind: 'fault', fault: 'throttling', nth: 7, times: 3 },
        { kind: 'scheduled-rotation' },
        { kind: 'out-of-band', change: 'create-key' },
      ]);
    });

    it('keeps, at a rotation that finds the secret emptied by hand, a key left by an abandoned rotation, as a first rotation keeps keys while there is room', async () => {
      // Found by the random-seed soak: an attacker's value abandoned a rotation after it had
      // stored its key, and later values emptied the secret; the rotation that followed found no
      // key in the secret, so (as at a first rotation) it kept the key that was already there.
      await playScenario(soakParameters({ start: 'empty', listPropagationDelayMs: 1_500 }), [
        { kind: 'out-of-band-during-rotation', change: 'retag-secret-to-other-user', atCall: 10 },
        { kind: 'out-of-band', change: 'deactivate-previous-key' },
        { kind: 'out-of-band', change: 'put-value-by-hand' },
      ]);
    });

    it('refuses the promotion when a value put by hand lands between finishSecret’s guard and its move', async () => {
      // Found by the random-seed soak: the move names the version it replaces, so it fails.
      await playScenario(soakParameters({ start: 'empty' }), [
        { kind: 'scheduled-rotation' },
        { kind: 'out-of-band-during-rotation', change: 'retag-secret-to-other-user', atCall: 20 },
      ]);
    });

    it('leaves a key that IAM did not list yet to the next rotation', async () => {
      // Found by the random-seed soak: an abandoned rotation's key, created moments before the
      // next rotation listed the user's keys, was not listed yet; with room for the new key
      // nothing revealed it. The recovery's rotation (hours later) removes it.
      await playScenario(
        soakParameters({ start: 'pre-existing-key', listPropagationDelayMs: 1_500 }),
        [
          { kind: 'out-of-band', change: 'delete-current-key' },
          { kind: 'out-of-band-during-rotation', change: 'put-value-by-hand', atCall: 11 },
          { kind: 'concurrent-rotate-secret', atCall: 1 },
        ],
      );
    });

    it('never deletes the key an operator rolls back to while a step of a rotation is running', async () => {
      // Found by the random-seed soak: a rollback during createSecret reactivated and promoted
      // the very key createSecret was about to delete as AWSPREVIOUS. The documented rollback
      // now waits out the function's timeout after stopping a rotation.
      await playScenario(soakParameters({ start: 'empty' }), [
        { kind: 'scheduled-rotation' },
        { kind: 'out-of-band', change: 'rollback' },
        { kind: 'out-of-band-during-rotation', change: 'rollback', atCall: 3 },
      ]);
    });

    it('deactivates the key it replaced although a value put by hand unlabelled it during finishSecret', async () => {
      // Found by the random-seed soak: invariant 8 took the replaced key, unlabelled by the
      // value put by hand, for a key the secret does not hold.
      await playScenario(soakParameters({ start: 'empty', listPropagationDelayMs: 1_500 }), [
        { kind: 'fault', fault: 'throttling', nth: 24, times: 1 },
        { kind: 'out-of-band-during-rotation', change: 'retag-secret-to-other-user', atCall: 23 },
      ]);
    });

    it('never deactivates the key rolled back to while a throttled deactivation waits to be retried', async () => {
      // Found by the random-seed soak: the SDK's retry of a throttled UpdateAccessKey came
      // after the rollback, which waits out the function's timeout; Lambda had ended the
      // invocation by then, so the retry was never sent (invariant 4 now says so).
      await playScenario(soakParameters({ start: 'empty', gracePeriodSeconds: 3_600 }), [
        { kind: 'rotate-secret' },
        { kind: 'fault', fault: 'throttling', nth: 7, times: 1 },
        { kind: 'out-of-band-during-rotation', change: 'rollback', atCall: 5 },
      ]);
    });

    it('never deletes the key rolled back to while a throttled delete waits to be retried', async () => {
      // Found by the random-seed soak: as above, with the delete that follows the deactivation.
      await playScenario(soakParameters({ start: 'empty', gracePeriodSeconds: 3_600 }), [
        { kind: 'scheduled-rotation' },
        { kind: 'fault', fault: 'throttling', nth: 8, times: 1 },
        { kind: 'out-of-band-during-rotation', change: 'rollback', atCall: 6 },
      ]);
    });

    it('keeps a rollback made while finishSecret retries a move of AWSCURRENT whose answer was lost', async () => {
      // Found by the random-seed soak: the rollback saw AWSPENDING only on the AWSCURRENT version
      // and did not wait; the SDK's retry of finishSecret's move then undid it. The rollback now
      // stops a finishing rotation too and waits out the function's timeout.
      await playScenario(soakParameters({ start: 'empty' }), [
        { kind: 'fault', fault: 'timeout-after-effect', nth: 21, times: 1 },
        { kind: 'out-of-band-during-rotation', change: 'rollback', atCall: 21 },
      ]);
    });

    it('makes room again after each of two CreateAccessKey answers lost in one step', async () => {
      // Found by the random-seed soak: two timeouts after IAM created the key, in one
      // createSecret, met the two-key limit twice; the step reconciled only once and failed.
      await playScenario(soakParameters({ start: 'pre-existing-key' }), [
        { kind: 'fault', fault: 'timeout-after-effect', nth: 18, times: 1 },
        { kind: 'fault', fault: 'timeout-after-effect', nth: 10, times: 1 },
        { kind: 'out-of-band-during-rotation', change: 'retag-secret-to-other-user', atCall: 4 },
      ]);
    });

    it('removes the key a retried CreateAccessKey created alongside the new one', async () => {
      await Scenario.run({ start: 'empty' }, async (scenario) => {
        scenario.sim.injectFault({
          kind: 'timeout-after-effect',
          match: { operation: 'CreateAccessKey', insideInvocation: true },
        });

        await scenario.rotateNow();

        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(
          scenario.sim
            .callsWhere({ operation: 'CreateAccessKey', outcome: 'success' })
            .filter((call) => call.invocationId !== undefined),
        ).toHaveLength(1);
        expect(scenario.keys().map((key) => key.accessKeyId)).toEqual([
          scenario.storedKeyId(AWSCURRENT),
        ]);
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Steady state', () => {
    it('ends every rotation with the AWSCURRENT key Active and the AWSPREVIOUS key Inactive', async () => {
      await Scenario.run({ start: 'stored-key' }, async (scenario) => {
        for (let i = 0; i < 3; i += 1)
          await scenario.runScheduledRotation().catch(() => scenario.rotateNow());

        const current = scenario.sim.accessKey(scenario.storedKeyId(AWSCURRENT) ?? '');
        const previous = scenario.sim.accessKey(scenario.storedKeyId(AWSPREVIOUS) ?? '');
        expect(scenario.sim.rotations.map((r) => r.status)).toEqual([
          'succeeded',
          'succeeded',
          'succeeded',
        ]);
        expect([current?.status, previous?.status]).toEqual(['Active', 'Inactive']);
        expect(scenario.keys()).toHaveLength(2);
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('fails when a second RotateSecret comes while a rotation is incomplete', async () => {
      await Scenario.run({ rotation: { retry: { maxAttempts: 1 } } }, async (scenario) => {
        scenario.sim.setPropagationDelay(60_000);
        await scenario.rotateNow();
        expect(scenario.lastRotation?.status).toBe('failed');

        const second = await scenario.rotateNow();

        expect(second).toMatchObject({ accepted: false, errorName: 'InvalidRequestException' });
        expect(checkInvariants(scenario)).toEqual([]);
        await scenario.sim.clock.sleep(3_600_000);
        expect((await scenario.runScheduledRotation()).status).toBe('succeeded');
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Changes by hand', () => {
    it('removes a key created by hand at the next rotation', async () => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();
        await scenario.applyOutOfBand('create-key');
        const handMade = scenario
          .keys()
          .find((key) => key.accessKeyId !== scenario.storedKeyId(AWSCURRENT));
        expect(handMade).toBeDefined();

        await scenario.runScheduledRotation();

        expect(scenario.sim.accessKey(handMade?.accessKeyId ?? '')).toBeUndefined();
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('leaves no unreferenced key when the AWSCURRENT key was deleted by hand', async () => {
      await Scenario.run({ start: 'pre-existing-key' }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.applyOutOfBand('delete-current-key');

        await scenario.runScheduledRotation();

        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(scenario.keys().map((key) => key.accessKeyId)).toEqual([
          scenario.storedKeyId(AWSCURRENT),
        ]);
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('fails clearly without touching the secret when the user was deleted, and recovers once it is recreated', async () => {
      await Scenario.run({ rotation: { retry: { maxAttempts: 2 } } }, async (scenario) => {
        await scenario.rotateNow();
        const current = scenario.storedKeyId(AWSCURRENT);
        await scenario.applyOutOfBand('delete-user');

        const failed = await scenario.runScheduledRotation();

        expect(failed.status).toBe('failed');
        expect(failureMessages(scenario).at(-1)).toBe(
          `createSecret failed: NoSuchEntityException: The user with name ${USER_NAME} cannot be found.`,
        );
        expect(scenario.storedKeyId(AWSCURRENT)).toBe(current);
        expect(checkInvariants(scenario)).toEqual([]);

        await scenario.applyOutOfBand('recreate-user');
        const recovered = await scenario.runScheduledRotation();

        expect(recovered).toMatchObject({ status: 'succeeded', tokens: failed.tokens });
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });
});
