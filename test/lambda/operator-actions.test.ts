import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotationStateError } from '../../lambda/errors.js';
import { ROTATION_STEPS } from '../../lambda/event.js';
import { ROLLBACK_STAGE, TESTED_STAGE } from '../../lambda/rotation/binding.js';
import { FakeAws } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import { createTestRotation, type TestRotation } from '../support/rotation-harness.js';

/**
 * What operators do by hand to a rotated secret (roll back, put a value, cancel), and what the
 * function must never do afterwards: resume a rotation that completed or was superseded, undo a
 * label move, or deactivate the key an operator rolled back to.
 */
const USER = 'ses-smtp-sender';
const SECRET = 'iam-key-rotation/ses-smtp-sender';

let fake: FakeAws;
let rotation: TestRotation;
let logs: LogCapture;

beforeEach(() => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(USER);
  fake.addSecret(SECRET, USER);
  rotation = createTestRotation(fake, SECRET);
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

const stagesOf = (versionId: string): string[] =>
  [...fake.version(SECRET, versionId).stages].sort();

const keyOf = (stage: string): string | undefined => fake.valueOf(SECRET, stage)?.AccessKeyId;

const statusOf = (accessKeyId: string | undefined): string | undefined =>
  fake.userKeys(USER).find((key) => key.accessKeyId === accessKeyId)?.status;

/**
 * The documented rollback: remove AWSPENDING from any version that is not AWSCURRENT, reactivate
 * the AWSPREVIOUS key, move AWSCURRENT back to the AWSPREVIOUS version.
 */
const rollBack = (options: { removePending: boolean }): void => {
  const secret = fake.secret(SECRET);
  const current = fake.versionWith(SECRET, 'AWSCURRENT');
  const previous = fake.versionWith(SECRET, 'AWSPREVIOUS');
  if (current === undefined || previous === undefined) throw new Error('nothing to roll back to');
  if (options.removePending) {
    for (const version of secret.versions.values()) {
      if (!version.stages.has('AWSCURRENT')) version.stages.delete('AWSPENDING');
    }
  }
  const previousKey = fake.userKeys(USER).find((key) => key.accessKeyId === keyOf('AWSPREVIOUS'));
  if (previousKey !== undefined) previousKey.status = 'Active';
  fake.version(SECRET, current).stages.delete('AWSCURRENT');
  fake.version(SECRET, previous).stages.delete('AWSPREVIOUS');
  fake.version(SECRET, previous).stages.add('AWSCURRENT');
  fake.version(SECRET, current).stages.add('AWSPREVIOUS');
};

describe('Function: createHandler, under operator actions', () => {
  describe('Completion', () => {
    it('removes AWSPENDING from the new version in finishSecret: the rotation cannot be resumed', async () => {
      // Act
      await rotation.rotate('token-1');

      // Assert: the label testSecret set stays until the next rotation's testSecret moves it
      expect(stagesOf('token-1')).toEqual(['AWSCURRENT', TESTED_STAGE]);
      expect(stagesOf('initial-version')).toEqual(['AWSPREVIOUS']);
    });

    it.each(ROTATION_STEPS)(
      'returns without any call but DescribeSecret when %s runs for a finished rotation',
      async (step) => {
        // Arrange
        await rotation.rotate('token-1');
        const before = fake.snapshot();
        fake.iam.resetHistory();
        fake.secretsManager.resetHistory();

        // Act
        await rotation.step(step, 'token-1');

        // Assert
        expect(fake.snapshot()).toEqual(before);
        expect(fake.iam.calls()).toHaveLength(0);
        expect(fake.secretsManager.calls()).toHaveLength(1);
      },
    );

    it('completes the cleanup of a finishSecret that died after moving AWSCURRENT', async () => {
      // Arrange: AWSCURRENT moved, the old key still Active, AWSPENDING still on the version
      await rotation.rotate('token-1');
      const first = keyOf('AWSCURRENT');
      fake.startRotation(SECRET, 'token-2');
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, 'token-2');
      }
      fake.version(SECRET, 'token-1').stages.delete('AWSCURRENT');
      fake.version(SECRET, 'token-1').stages.add('AWSPREVIOUS');
      fake.version(SECRET, 'initial-version').stages.delete('AWSPREVIOUS');
      fake.version(SECRET, 'token-2').stages.add('AWSCURRENT');

      // Act
      await rotation.step('finishSecret', 'token-2');

      // Assert
      expect(statusOf(first)).toBe('Inactive');
      expect(stagesOf('token-2')).toEqual(['AWSCURRENT', TESTED_STAGE]);
    });
  });

  describe('Rollback', () => {
    it("changes nothing at createSecret while a rollback's label is on a version: the AWSPREVIOUS key it rolls back to stays", async () => {
      // Arrange: two rotations (AWSPREVIOUS holds an Inactive key); the rollback command wrote its
      // fenced version; a rotation starts after the command's last check (issue 15, H2)
      await rotation.rotate('token-1');
      await rotation.rotate('token-2');
      const rolledBackTo = keyOf('AWSPREVIOUS');
      fake.secret(SECRET).versions.set('rollback-version', {
        value: fake.version(SECRET, 'token-1').value,
        stages: new Set([ROLLBACK_STAGE]),
        createdDate: fake.tick(),
      });
      fake.startRotation(SECRET, 'token-3');
      const keysBefore = JSON.stringify(fake.userKeys(USER));

      // Act
      const outcome = rotation.step('createSecret', 'token-3');

      // Assert
      await expect(outcome).rejects.toThrow(RotationStateError);
      await expect(outcome).rejects.toThrow(
        `a rollback is in progress (version rollback-version of secret ${fake.secret(SECRET).arn} carries ${ROLLBACK_STAGE}); no key was changed, and AWSPENDING was removed from version token-3, so this rotation ends here`,
      );
      await expect(outcome).rejects.toThrow(
        `--version-stage ${ROLLBACK_STAGE} --remove-from-version-id rollback-version`,
      );
      expect(JSON.stringify(fake.userKeys(USER))).toBe(keysBefore);
      expect(statusOf(rolledBackTo)).toBe('Inactive');
      expect(stagesOf('token-3')).toEqual([]);
    });

    it('never undoes a rollback: a retried finishSecret of the rolled-back rotation fails and changes nothing', async () => {
      // Arrange: a rotation of an earlier release left AWSPENDING on the new version, then an
      // operator rolled back by moving the labels only
      await rotation.rotate('token-1');
      await rotation.rotate('token-2');
      fake.version(SECRET, 'token-2').stages.add('AWSPENDING');
      rollBack({ removePending: false });
      expect(stagesOf('token-2')).toEqual(['AWSPENDING', 'AWSPREVIOUS', TESTED_STAGE]);
      const rolledBackTo = keyOf('AWSCURRENT');
      const before = fake.snapshot();

      // Act: Secrets Manager's retry, or anyone's invocation
      const outcome = rotation.step('finishSecret', 'token-2');

      // Assert
      await expect(outcome).rejects.toThrow(RotationStateError);
      await expect(outcome).rejects.toThrow(
        /version token-2 is AWSPREVIOUS: its rotation completed and AWSCURRENT has since moved to version token-1 .* refusing to resume it, nothing was changed. It still carries a stale AWSPENDING, which blocks new rotations; remove it with: aws secretsmanager update-secret-version-stage --secret-id arn:\S+ --version-stage AWSPENDING --remove-from-version-id token-2/,
      );
      expect(fake.snapshot()).toEqual(before);
      expect(statusOf(rolledBackTo)).toBe('Active');
    });

    it.each(['createSecret', 'setSecret', 'testSecret'] as const)(
      'refuses %s for a rolled-back version and changes nothing',
      async (step) => {
        // Arrange
        await rotation.rotate('token-1');
        await rotation.rotate('token-2');
        rollBack({ removePending: true });
        const before = fake.snapshot();

        // Act / Assert
        await expect(rotation.step(step, 'token-2')).rejects.toThrow(/is AWSPREVIOUS/);
        expect(fake.snapshot()).toEqual(before);
      },
    );

    it('leaves the key rolled back from Active until the next rotation, which deletes it and keeps the rolled-back-to key current', async () => {
      // Arrange
      await rotation.rotate('token-1');
      await rotation.rotate('token-2');
      rollBack({ removePending: true });
      const rolledBackTo = keyOf('AWSCURRENT');
      const rolledBackFrom = keyOf('AWSPREVIOUS');
      expect(statusOf(rolledBackFrom)).toBe('Active');

      // Act
      await rotation.rotate('token-3');

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).not.toContain(rolledBackFrom);
      expect(keyOf('AWSPREVIOUS')).toBe(rolledBackTo);
      expect(statusOf(rolledBackTo)).toBe('Inactive');
      expect(statusOf(keyOf('AWSCURRENT'))).toBe('Active');
    });

    it('stops a rotation in flight when the operator rolls back with the documented procedure', async () => {
      // Arrange: a rotation is between testSecret and finishSecret
      await rotation.rotate('token-1');
      await rotation.rotate('token-2');
      fake.startRotation(SECRET, 'token-3');
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, 'token-3');
      }
      rollBack({ removePending: true });
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('finishSecret', 'token-3');

      // Assert
      await expect(outcome).rejects.toThrow(
        /version token-3 is not AWSPENDING; it carries \[IAM_KEY_ROTATION_TESTED\]: its rotation was cancelled/,
      );
      expect(fake.snapshot()).toEqual(before);
    });

    it.each(['setSecret', 'testSecret', 'finishSecret'] as const)(
      'gives way in %s when AWSCURRENT moved after createSecret (a value put by hand that left AWSPENDING): the operator’s version stays',
      async (step) => {
        // Arrange: a rotation stored its key (and, before finishSecret, proved it); then an
        // operator put the current value again
        await rotation.rotate('token-1');
        fake.startRotation(SECRET, 'token-2');
        await rotation.step('createSecret', 'token-2');
        if (step === 'finishSecret') {
          await rotation.step('setSecret', 'token-2');
          await rotation.step('testSecret', 'token-2');
        }
        const pending = keyOf('AWSPENDING');
        const current = keyOf('AWSCURRENT');
        const value = JSON.stringify(fake.valueOf(SECRET, 'AWSCURRENT'));
        for (const version of fake.secret(SECRET).versions.values()) {
          version.stages.delete('AWSPREVIOUS');
          if (version.stages.delete('AWSCURRENT')) version.stages.add('AWSPREVIOUS');
        }
        fake.secret(SECRET).versions.set('by-hand', {
          value,
          stages: new Set(['AWSCURRENT']),
          createdDate: fake.tick(),
        });

        // Act
        const outcome = rotation.step(step, 'token-2');

        // Assert
        await expect(outcome).rejects.toThrow(
          /gave up this rotation: AWSCURRENT moved from version token-1, which this rotation replaces, to version by-hand since the rotation began \(a rollback or a value put by hand\); the rotation gives way to it. Deleted access key AKIA\w+ and removed AWSPENDING from version token-2/,
        );
        expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe('by-hand');
        expect(statusOf(current)).toBe('Active');
        expect(statusOf(pending)).toBeUndefined();
        expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
      },
    );

    it('fails the promotion when AWSCURRENT moved after the step began (the move names the old current version)', async () => {
      // Arrange
      await rotation.rotate('token-1');
      fake.startRotation(SECRET, 'token-2');
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, 'token-2');
      }
      // An operator's label move lands between the step's DescribeSecret and its move
      fake.interceptNext('UpdateSecretVersionStage', () => {
        rollBack({ removePending: false });
        throw Object.assign(new Error('Version stage AWSCURRENT not found in version token-1'), {
          name: 'InvalidParameterException',
          $metadata: { httpStatusCode: 400 },
        });
      });
      const currentAfterRollback = (): string | undefined => fake.versionWith(SECRET, 'AWSCURRENT');

      // Act / Assert: the failed move is not retried; the labels read again say why
      await expect(rotation.step('finishSecret', 'token-2')).rejects.toThrow(
        /AWSCURRENT of secret .* moved from version token-1 to initial-version while the step ran .* AWSCURRENT was not moved/,
      );
      expect(currentAfterRollback()).toBe('initial-version');
      expect(
        fake.secretsManager
          .commandCalls(UpdateSecretVersionStageCommand)
          .filter((call) => call.args[0].input.VersionStage === 'AWSCURRENT'),
      ).toHaveLength(2); // token-1's promotion and this one attempt
    });
  });

  describe('Values put by hand', () => {
    it('never undoes a value put by hand after a rotation', async () => {
      // Arrange: the operator re-puts the current key as a new AWSCURRENT version
      await rotation.rotate('token-1');
      const value = JSON.stringify(fake.valueOf(SECRET, 'AWSCURRENT'));
      for (const version of fake.secret(SECRET).versions.values()) {
        version.stages.delete('AWSPREVIOUS');
        if (version.stages.delete('AWSCURRENT')) version.stages.add('AWSPREVIOUS');
      }
      fake.secret(SECRET).versions.set('by-hand', {
        value,
        stages: new Set(['AWSCURRENT']),
        createdDate: fake.tick(),
      });
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('finishSecret', 'token-1');

      // Assert
      await expect(outcome).rejects.toThrow(/version token-1 is AWSPREVIOUS/);
      expect(fake.snapshot()).toEqual(before);
      expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe('by-hand');
    });

    it('fails createSecret, changing nothing, when AWSPENDING holds a value without a key (put by hand)', async () => {
      // Arrange
      fake.startRotation(SECRET, 'token-1');
      fake.version(SECRET, 'token-1').value = JSON.stringify({ UserName: USER });
      const before = fake.snapshot();

      // Act / Assert
      await expect(rotation.step('createSecret', 'token-1')).rejects.toThrow(
        /already holds a value without an access key, which no rotation stores .* Nothing was changed; to start over remove the label/,
      );
      expect(fake.snapshot()).toEqual(before);
    });
  });

  describe('Configuration test (RotateImmediately=false)', () => {
    it.each([
      ['no value', undefined],
      [
        '{"UserName"} alone (a copy of a secret that never rotated)',
        JSON.stringify({ UserName: USER }),
      ],
    ])(
      'succeeds on a secret that never rotated when the test version holds %s',
      async (_label, value) => {
        // Arrange
        fake.startRotation(SECRET, 'test-token');
        fake.version(SECRET, 'test-token').value = value;
        const before = fake.snapshot();

        // Act
        await rotation.step('testSecret', 'test-token');

        // Assert
        expect(fake.snapshot()).toEqual(before);
        expect(fake.iam.calls().map((call) => call.args[0].constructor.name)).toEqual([
          'GetUserCommand',
        ]);
        expect(logs.text).toContain('AWSPENDING holds no access key and AWSCURRENT holds none yet');
      },
    );

    it('tests the AWSCURRENT key when the test version holds a copy of it, and touches no key', async () => {
      // Arrange
      await rotation.rotate('token-1');
      fake.startRotation(SECRET, 'test-token');
      fake.version(SECRET, 'test-token').value = JSON.stringify(fake.valueOf(SECRET, 'AWSCURRENT'));
      const before = fake.snapshot();

      // Act
      await rotation.step('testSecret', 'test-token');

      // Assert
      expect(fake.snapshot()).toEqual(before);
    });
  });

  describe('finishSecret validates before it moves a label', () => {
    it('fails, changing nothing, when the AWSCURRENT value it would retire is malformed', async () => {
      // Arrange
      await rotation.rotate('token-1');
      fake.startRotation(SECRET, 'token-2');
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, 'token-2');
      }
      fake.version(SECRET, 'token-1').value = '{"UserName": 42}';
      const before = fake.snapshot();

      // Act / Assert
      await expect(rotation.step('finishSecret', 'token-2')).rejects.toThrow(
        /version token-1 \(AWSCURRENT\): field UserName must be a non-empty string, got number/,
      );
      expect(fake.snapshot()).toEqual(before);
    });

    it('completes a retried finishSecret despite a malformed AWSPREVIOUS, with a warning', async () => {
      // Arrange: AWSCURRENT moved, then the old version was overwritten by hand
      await rotation.rotate('token-1');
      fake.startRotation(SECRET, 'token-2');
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, 'token-2');
      }
      fake.version(SECRET, 'token-1').stages.delete('AWSCURRENT');
      fake.version(SECRET, 'token-1').stages.add('AWSPREVIOUS');
      fake.version(SECRET, 'initial-version').stages.delete('AWSPREVIOUS');
      fake.version(SECRET, 'token-2').stages.add('AWSCURRENT');
      fake.version(SECRET, 'token-1').value = 'not json';

      // Act
      await rotation.step('finishSecret', 'token-2');

      // Assert
      expect(stagesOf('token-2')).toEqual(['AWSCURRENT', TESTED_STAGE]);
      expect(logs.text).toContain('AWSPREVIOUS holds no readable key');
      expect(logs.text).not.toContain('not json');
    });

    it('gives the rotation up instead of promoting a pending key deleted after testSecret', async () => {
      // Arrange
      await rotation.rotate('token-1');
      const current = keyOf('AWSCURRENT');
      fake.startRotation(SECRET, 'token-2');
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, 'token-2');
      }
      const pending = fake.valueOf(SECRET, 'AWSPENDING')?.AccessKeyId;
      fake.userKeys(USER).splice(
        fake.userKeys(USER).findIndex((key) => key.accessKeyId === pending),
        1,
      );

      // Act / Assert
      await expect(rotation.step('finishSecret', 'token-2')).rejects.toThrow(
        /gave up this rotation: access key AKIA\w+ stored in AWSPENDING no longer exists/,
      );
      expect(keyOf('AWSCURRENT')).toBe(current);
      expect(statusOf(current)).toBe('Active');
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
    });
  });
});
