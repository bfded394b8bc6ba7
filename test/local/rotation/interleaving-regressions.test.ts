import { describe, expect, it } from 'vitest';
import { EXPLORER_SEED, replayAt } from '../../support/explorer/plan.js';

/**
 * Interleavings the explorer found breaking an invariant (FINDINGS, issue 15), replayed by name
 * once fixed. Each names the boundary by the held actor's request there.
 */
describe('Interleavings found by the explorer, replayed', () => {
  describe('race 3: a duplicate finishSecret never undoes a rollback', () => {
    it.each([false, true])(
      'a delivery whose AWSCURRENT move took effect but lost its answer, held before it retries while a second delivery completes and the operator rolls back, leaves the rollback in place (grace period: %s)',
      async (grace) => {
        const result = await replayAt(
          {
            activity: { kind: 'stalled', step: 'finishSecret' },
            command: 'rollback',
            direction: 'command-in-activity',
            grace,
            seed: EXPLORER_SEED,
          },
          'secretsmanager.UpdateSecretVersionStage',
        );

        expect(result.reached).toBe(true);
        expect(result.commandExitCode).toBe(0);
        expect(result.violations).toEqual([]);
      },
    );

    it.each([false, true])(
      'a delivery held before it re-reads the labels, while a second delivery completes and the operator rolls back, leaves the rollback in place (grace period: %s)',
      async (grace) => {
        const result = await replayAt(
          {
            activity: { kind: 'duplicate', step: 'finishSecret' },
            command: 'rollback',
            direction: 'command-in-activity',
            grace,
            seed: EXPLORER_SEED,
          },
          'secretsmanager.DescribeSecret',
          2,
        );

        expect(result.reached).toBe(true);
        expect(result.commandExitCode).toBe(0);
        expect(result.violations).toEqual([]);
      },
    );

    it.each([false, true])(
      'a delivery held after its re-read, right before its AWSCURRENT move, while a second delivery completes and the operator rolls back, cannot move AWSCURRENT back (the rollback wrote a new version; grace period: %s)',
      async (grace) => {
        const result = await replayAt(
          {
            activity: { kind: 'duplicate', step: 'finishSecret' },
            command: 'rollback',
            direction: 'command-in-activity',
            grace,
            seed: EXPLORER_SEED,
          },
          'secretsmanager.UpdateSecretVersionStage',
        );

        expect(result.reached).toBe(true);
        expect(result.commandExitCode).toBe(0);
        expect(result.violations).toEqual([]);
      },
    );
  });

  describe('rollback racing createSecret', () => {
    it('createSecret held after its reads, right before it deletes the AWSPREVIOUS key to make room, while the operator rolls back: the key rolled back to is neither deleted nor deactivated (F1: the wait outlasts the step)', async () => {
      const result = await replayAt(
        {
          activity: { kind: 'step', step: 'createSecret' },
          command: 'rollback',
          direction: 'command-in-activity',
          grace: false,
          seed: EXPLORER_SEED,
        },
        'iam.DeleteAccessKey',
      );

      expect(result.reached).toBe(true);
      expect(result.violations).toEqual([]);
    });

    it('createSecret deleting the AWSPREVIOUS key after rollback read it (grace period: still Active) does not leave AWSCURRENT on the deleted key (F3)', async () => {
      const result = await replayAt(
        {
          activity: { kind: 'step', step: 'createSecret' },
          command: 'rollback',
          direction: 'activity-in-command',
          grace: true,
          seed: EXPLORER_SEED,
        },
        'secretsmanager.UpdateSecretVersionStage',
      );

      expect(result.reached).toBe(true);
      expect(result.violations).toEqual([]);
    });
  });

  describe('race 1: rollback racing the retirement', () => {
    it('the retirement held between its last re-read and its UpdateAccessKey while the operator rolls back to its key: the key rolled back to stays Active', async () => {
      const result = await replayAt(
        {
          activity: { kind: 'retirement' },
          command: 'rollback',
          direction: 'command-in-activity',
          grace: true,
          seed: EXPLORER_SEED,
        },
        'iam.UpdateAccessKey',
      );

      expect(result.reached).toBe(true);
      expect(result.commandExitCode).toBe(0);
      expect(result.violations).toEqual([]);
    });
  });

  describe('races 2 and 5: cancel is final', () => {
    it('finishSecret held right before its AWSCURRENT move while the operator cancels: AWSCURRENT never lands on the deleted key, and cancel never claims what did not happen', async () => {
      const result = await replayAt(
        {
          activity: { kind: 'step', step: 'finishSecret' },
          command: 'cancel',
          direction: 'command-in-activity',
          grace: false,
          seed: EXPLORER_SEED,
        },
        'secretsmanager.UpdateSecretVersionStage',
      );

      expect(result.reached).toBe(true);
      expect(result.violations).toEqual([]);
    });

    it.each([false, true])(
      'createSecret held right before its PutSecretValue while the operator cancels: the rotation does not come back, no key of it remains (grace period: %s)',
      async (grace) => {
        const result = await replayAt(
          {
            activity: { kind: 'step', step: 'createSecret' },
            command: 'cancel',
            direction: 'command-in-activity',
            grace,
            seed: EXPLORER_SEED,
          },
          'secretsmanager.PutSecretValue',
        );

        expect(result.reached).toBe(true);
        expect(result.violations).toEqual([]);
      },
    );
  });

  describe('F2: the commands read a secret whose labels move', () => {
    it.each(['rollback', 'cancel'] as const)(
      '%s reads on when finishSecret moves AWSCURRENT between its DescribeSecret and its first GetSecretValue, instead of crashing with a raw InvalidRequestException',
      async (command) => {
        const result = await replayAt(
          {
            activity: { kind: 'step', step: 'finishSecret' },
            command,
            direction: 'activity-in-command',
            grace: false,
            seed: EXPLORER_SEED,
          },
          'secretsmanager.GetSecretValue',
        );

        expect(result.reached).toBe(true);
        expect(result.violations).toEqual([]);
      },
    );
  });
});
