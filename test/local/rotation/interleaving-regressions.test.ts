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
});
