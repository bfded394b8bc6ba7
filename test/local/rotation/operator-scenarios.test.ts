import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../../local/simulation/index.js';
import { BoundaryScheduler } from '../../support/explorer/boundary-scheduler.js';
import { errorText } from '../../support/scenario/actions.js';
import { checkInvariants } from '../../support/scenario/invariants.js';
import {
  runOperatorCommand,
  SCENARIO_STEP_TIMEOUT_MS,
} from '../../support/scenario/operator-cli.js';
import {
  CLAIMANT_SECRET_NAME,
  OTHER_SECRET_NAME,
  OTHER_USER_NAME,
  Scenario,
} from '../../support/scenario/scenario.js';

/** What operators and attackers do, played against the simulated AWS with the real handler. */
const failures = (scenario: Scenario, secretName?: string): string[] =>
  scenario.sim.invocations
    .filter(
      (invocation) =>
        invocation.outcome === 'failed' &&
        (secretName === undefined || invocation.secretArn === scenario.secretArns.get(secretName)),
    )
    .map((invocation) => errorText(invocation.error));

describe('Rotation: operators and attackers against the simulated AWS', () => {
  describe('Rollback', () => {
    it('keeps a rollback: the next rotation starts from the rolled-back-to key and retires the one rolled back from', async () => {
      await Scenario.run({ start: 'stored-key' }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.runScheduledRotation();
        const rolledBackFrom = scenario.storedKeyId(AWSCURRENT);
        await scenario.applyOutOfBand('rollback');
        const rolledBackTo = scenario.storedKeyId(AWSCURRENT);
        expect(scenario.sim.accessKey(rolledBackTo ?? '')?.status).toBe('Active');
        expect(scenario.sim.accessKey(rolledBackFrom ?? '')?.status).toBe('Active');

        const next = await scenario.runScheduledRotation();

        expect(next.status).toBe('succeeded');
        expect(scenario.storedKeyId(AWSPREVIOUS)).toBe(rolledBackTo);
        expect(scenario.sim.accessKey(rolledBackFrom ?? '')).toBeUndefined();
        expect(scenario.hasIncompleteRotation()).toBe(false);
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('stops a rotation in flight when the operator rolls back, and the next one succeeds', async () => {
      await Scenario.run({ start: 'stored-key' }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.runScheduledRotation();
        // The rollback (the command's own code) runs to its end while createSecret is held
        // before its first request: it removes AWSPENDING, waits out the function's timeout,
        // then reactivates the previous key and moves AWSCURRENT back. The held step then finds
        // its version no longer pending.
        const rolledBackTo = scenario.storedKeyId(AWSPREVIOUS);
        const scheduler = new BoundaryScheduler(scenario.sim);
        scheduler.holdAt(
          (actor) => actor === scenario.rotations[2]?.invocations[0]?.id,
          { phase: 'before', request: 0 },
          () => scenario.applyOutOfBand('rollback'),
        );

        const interrupted = await scenario.runScheduledRotation();
        scheduler.detach();

        expect(scenario.labelMoves.map((move) => move.action)).toEqual(['rollback']);
        expect(interrupted.status).not.toBe('succeeded');
        // Held past the function's timeout: killed at its deadline, or (released at the deadline
        // itself) refused by its guard; Secrets Manager's retries then find the version cancelled.
        expect(['timed-out', 'failed']).toContain(interrupted.invocations[0]?.outcome);
        for (const retry of failures(scenario)) expect(retry).toMatch(/its rotation was cancelled/);
        expect(scenario.storedKeyId(AWSCURRENT)).toBe(rolledBackTo);
        expect(scenario.sim.accessKey(rolledBackTo ?? '')?.status).toBe('Active');
        expect(checkInvariants(scenario)).toEqual([]);
        scenario.sim.setPropagationDelay(1_000);
        expect((await scenario.runScheduledRotation()).status).toBe('succeeded');
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('refuses, when a rotation in flight deleted the AWSPREVIOUS key while the rollback began, and changes no key', async () => {
      await Scenario.run({ start: 'stored-key' }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.runScheduledRotation();
        const current = scenario.storedKeyId(AWSCURRENT);
        // The rollback starts while createSecret runs (its guard already passed): createSecret
        // makes room by deleting the AWSPREVIOUS key before the rollback removes AWSPENDING.
        const before = scenario.sim.callCount;
        let answer: Awaited<ReturnType<typeof runOperatorCommand>> | undefined;
        scenario.interleaveAt(before + 2, async () => {
          answer = await runOperatorCommand(scenario, 'rollback', {
            stepTimeoutMs: SCENARIO_STEP_TIMEOUT_MS,
          });
        });

        const interrupted = await scenario.runScheduledRotation();

        // Whether it saw the key already gone (refused, nothing changed) or saw it go while it
        // stopped the rotation (stopped after removing AWSPENDING), it touched no key and
        // AWSCURRENT stays. (Which of the two depends on how many requests each side makes.)
        expect(answer?.exitCode).toBe(1);
        expect(answer?.error instanceof Error ? answer.error.message : '').toMatch(
          /access key \w+, which AWSPREVIOUS holds, no longer exists for IAM user alice/,
        );
        expect(interrupted.status).not.toBe('running');
        // The rollback never moved AWSCURRENT; the rotation either gave way or completed.
        expect(scenario.labelMoves).toEqual([]);
        const now = scenario.storedKeyId(AWSCURRENT);
        if (interrupted.status !== 'succeeded') expect(now).toBe(current);
        expect(scenario.sim.accessKey(now ?? '')?.status).toBe('Active');
        expect(checkInvariants(scenario)).toEqual([]);
        scenario.sim.setPropagationDelay(1_000);
        expect((await scenario.runScheduledRotation()).status).toBe('succeeded');
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Values put by hand', () => {
    it('never undoes a value put by hand: the next rotation replaces it with a new version', async () => {
      await Scenario.run({ start: 'stored-key' }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.applyOutOfBand('put-value-by-hand');
        const byHand = scenario.sim.versionWithStage(scenario.secretId, AWSCURRENT)?.versionId;

        await scenario.runScheduledRotation();

        expect(scenario.sim.versionWithStage(scenario.secretId, AWSPREVIOUS)?.versionId).toBe(
          byHand,
        );
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Ownership', () => {
    it('refuses a secret retagged to another user, touching neither user, until the binding is restored', async () => {
      await Scenario.run({ rotation: { retry: { maxAttempts: 2 } } }, async (scenario) => {
        await scenario.rotateNow();
        const bobKeys = scenario.keys(OTHER_USER_NAME);
        await scenario.applyOutOfBand('retag-secret-to-other-user');

        const refused = await scenario.runScheduledRotation();

        expect(refused.status).toBe('failed');
        expect(failures(scenario).at(-1)).toMatch(
          /SecretBindingError: Secret arn:\S+:secret:iam-key-rotation\/alice-\w+ is named after IAM user alice, but its tag iam-key-rotation:user names bob; the name decides, the tag must agree: refusing to touch any key, nothing was changed/,
        );
        expect(scenario.keys(OTHER_USER_NAME)).toEqual(bobKeys);
        expect(checkInvariants(scenario)).toEqual([]);

        await scenario.applyOutOfBand('restore-binding');
        expect((await scenario.runScheduledRotation()).status).toBe('succeeded');
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('refuses a second secret that claims bob, whatever the function rotates, and bob keeps his key', async () => {
      await Scenario.run({}, async (scenario) => {
        const bobCurrent = scenario.storedKeyId(AWSCURRENT, OTHER_SECRET_NAME);

        await scenario.applyOutOfBand('claim-other-user');
        await scenario.settle();
        await scenario.sim.runScheduledRotation(CLAIMANT_SECRET_NAME);
        await scenario.settle();

        expect(failures(scenario, CLAIMANT_SECRET_NAME).length).toBeGreaterThan(0);
        for (const failure of failures(scenario, CLAIMANT_SECRET_NAME)) {
          expect(failure).toMatch(
            /ForeignSecretError: Secret arn:\S+:secret:iam-key-rotation-elsewhere\/bob-\w+ was not created by this function's stack arn:aws:cloudformation:\S+: its tag aws:cloudformation:stack-id is absent/,
          );
        }
        expect(scenario.keys(OTHER_USER_NAME).map((key) => [key.accessKeyId, key.status])).toEqual([
          [bobCurrent, 'Active'],
        ]);
        expect(scenario.storedKeyId(AWSPENDING, CLAIMANT_SECRET_NAME)).toBeUndefined();
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('refuses a user whose ownership tag was removed, and resumes the same rotation once it is back', async () => {
      await Scenario.run({ rotation: { retry: { maxAttempts: 1 } } }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.applyOutOfBand('remove-owner-tag');

        const refused = await scenario.runScheduledRotation();

        expect(failures(scenario).at(-1)).toMatch(
          /IAM user alice has no tag iam-key-rotation:secret/,
        );
        expect(scenario.hasIncompleteRotation()).toBe(true);
        await scenario.applyOutOfBand('restore-owner-tag');
        const resumed = await scenario.runScheduledRotation();
        expect(resumed).toMatchObject({ status: 'succeeded', tokens: refused.tokens });
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Keys in use', () => {
    it('refuses the first rotation of a user whose two keys both sign requests, and succeeds once one is deactivated', async () => {
      await Scenario.run({ start: 'two-keys-in-use' }, async (scenario) => {
        const outcome = await scenario.rotateNow();

        expect(outcome.accepted).toBe(true);
        expect(failures(scenario)[0]).toMatch(
          /AccessKeyInUseError: createSecret: IAM user alice holds 2 access keys and none may be deleted/,
        );
        expect(scenario.keys().every((key) => key.status === 'Active')).toBe(true);
        expect(scenario.hasIncompleteRotation()).toBe(false);
        expect(checkInvariants(scenario)).toEqual([]);

        const [older] = [...scenario.preExistingKeyIds];
        scenario.sim.setAccessKeyStatus(older ?? '', 'Inactive');
        expect((await scenario.rotateNow()).accepted).toBe(true);
        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(scenario.sim.accessKey(older ?? '')).toBeUndefined();
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });

    it('deletes the key that never signed anything, keeps the one in use, and deletes that one once idle for staleKeyDays', async () => {
      await Scenario.run({ start: 'two-keys-one-unused' }, async (scenario) => {
        const [used, unused] = [...scenario.preExistingKeyIds];

        await scenario.rotateNow();

        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(scenario.sim.accessKey(unused ?? '')).toBeUndefined();
        expect(scenario.sim.accessKey(used ?? '')?.status).toBe('Active');
        expect(checkInvariants(scenario)).toEqual([]);

        await scenario.sim.clock.sleep(8 * 86_400_000);
        expect((await scenario.runScheduledRotation()).status).toBe('succeeded');
        expect(scenario.sim.accessKey(used ?? '')).toBeUndefined();
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });

  describe('Configuration test (RotateImmediately=false)', () => {
    it.each(['none', 'copy-current'] as const)(
      'passes on a secret that never rotated when the test version holds %s, and changes nothing',
      async (testVersionValue) => {
        await Scenario.run({ rotation: { testVersionValue } }, async (scenario) => {
          const versions = scenario.versionIds();

          const outcome = await scenario.rotateSecret(scenario.secretId, {
            rotateImmediately: false,
          });
          await scenario.settle();

          expect(outcome.accepted).toBe(true);
          expect(scenario.lastRotation).toMatchObject({ kind: 'test', status: 'succeeded' });
          expect(scenario.versionIds()).toEqual(versions);
          expect(scenario.keys()).toEqual([]);
        });
      },
    );
  });

  describe('IAM listings that lag', () => {
    it('makes room for a key created by hand a moment ago, which IAM counts but does not list yet', async () => {
      await Scenario.run(
        { start: 'empty', rotation: { retry: { maxAttempts: 1 } } },
        async (scenario) => {
          await scenario.rotateNow();
          scenario.sim.setListPropagationDelay(1_500);
          await scenario.applyOutOfBand('create-key');
          const handMade = scenario.keys().find((key) => !key.listed)?.accessKeyId;
          expect(handMade).toBeDefined();

          const rotation = await scenario.runScheduledRotation();

          expect(rotation.status).toBe('succeeded');
          expect(scenario.sim.accessKey(handMade ?? '')).toBeUndefined();
          expect(checkInvariants(scenario)).toEqual([]);
        },
      );
    });

    it('does not give a rotation up when its new key is missing from ListAccessKeys for a while', async () => {
      await Scenario.run({ start: 'stored-key', propagationDelayMs: 0 }, async (scenario) => {
        scenario.sim.setListPropagationDelay(2_500);

        await scenario.rotateNow();

        expect(scenario.lastRotation?.status).toBe('succeeded');
        expect(scenario.logs.entries.map((entry) => entry.message)).toContain(
          'setSecret: access key not listed yet; listing again to confirm',
        );
        expect(checkInvariants(scenario)).toEqual([]);
      });
    });
  });
});
