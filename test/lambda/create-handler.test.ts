import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { PutSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STS_ATTEMPT_TIMEOUT_MS } from '../../lambda/aws/sts-caller-identity.js';
import { DEADLINE_SAFETY_MARGIN_MS } from '../../lambda/create-handler.js';
import { KEY_STATE_CHECK_AFTER_MS } from '../../lambda/rotation/test-secret.js';
import {
  AccessKeyTestError,
  InvalidEventError,
  InvalidSecretValueError,
  RotationError,
  RotationGivenUpError,
  RotationStateError,
  SecretBindingError,
} from '../../lambda/errors.js';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import { ACCOUNT, FakeAws } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import {
  createTestRotation,
  ROTATION_TOKEN,
  type TestRotation,
} from '../support/rotation-harness.js';

const USER = 'ses-smtp-sender';
const SECRET = 'iam-key-rotation/ses-smtp-sender';
const TOKEN = '11111111-2222-3333-4444-555555555555';

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

/** Completes one rotation, leaving the secret in the steady state. */
const rotateOnce = async (token: string): Promise<void> => {
  await rotation.rotate(token);
};

const currentKeyId = (): string | undefined => fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId;
const pendingKeyId = (): string | undefined => fake.valueOf(SECRET, 'AWSPENDING')?.AccessKeyId;
const keyStates = (): string[] =>
  fake.userKeys(USER).map((key) => `${key.accessKeyId}:${key.status}`);

const expectCreateAccessKeyAlwaysNamedTheUser = (): void => {
  for (const call of fake.iam.commandCalls(CreateAccessKeyCommand)) {
    expect(call.args[0].input.UserName).toBe(USER);
  }
};

describe('Function: createHandler', () => {
  describe('Event validation', () => {
    it.each([
      ['a string', 'createSecret', /expected an object/],
      ['an array', [], /expected an object.*got array/],
      [
        'no Step',
        { SecretId: 's', ClientRequestToken: 't' },
        /field Step must be one of.*got undefined/,
      ],
      [
        'an unknown Step',
        { Step: 'deleteEverything', SecretId: 's', ClientRequestToken: 't' },
        /field Step must be one of createSecret, setSecret, testSecret, finishSecret, got "deleteEverything"/,
      ],
      [
        'an empty SecretId',
        { Step: 'createSecret', SecretId: '', ClientRequestToken: 't' },
        /field SecretId must be a non-empty string, got an empty string/,
      ],
      [
        'a numeric ClientRequestToken',
        { Step: 'createSecret', SecretId: 's', ClientRequestToken: 7 },
        /field ClientRequestToken must be a non-empty string, got number/,
      ],
      [
        'a non-string RotationToken',
        { Step: 'createSecret', SecretId: 's', ClientRequestToken: 't', RotationToken: {} },
        /field RotationToken must be a non-empty string when present, got object/,
      ],
    ])('fails when the event has %s, and calls nothing', async (_label, event, message) => {
      // Act
      const outcome = rotation.handler(event);

      // Assert
      await expect(outcome).rejects.toThrow(InvalidEventError);
      await expect(outcome).rejects.toThrow(message);
      expect(fake.secretsManager.calls()).toHaveLength(0);
      expect(fake.iam.calls()).toHaveLength(0);
    });

    it('fails without echoing a malformed RotationToken', async () => {
      const outcome = rotation.handler({
        Step: 'createSecret',
        SecretId: 's',
        ClientRequestToken: 't',
        RotationToken: '',
      });
      await expect(outcome).rejects.toThrow(
        /RotationToken must be a non-empty string when present, got an empty string/,
      );
    });
  });

  describe('Guard', () => {
    it('fails when rotation is not enabled (RotationEnabled absent), and changes nothing', async () => {
      // Arrange
      fake.secret(SECRET).rotationEnabled = undefined;
      fake.startRotation(SECRET, TOKEN);
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(RotationStateError);
      await expect(outcome).rejects.toThrow(/not enabled for rotation/);
      expect(fake.snapshot()).toEqual(before);
    });

    it('fails when the token is not a version of the secret', async () => {
      await expect(rotation.step('createSecret', 'no-such-token')).rejects.toThrow(
        /has no version no-such-token \(the ClientRequestToken\) that carries a staging label: .* It has versions initial-version$/,
      );
    });

    it('fails when the token version is AWSPREVIOUS: a completed rotation is never resumed', async () => {
      // Arrange: a completed rotation makes the initial version AWSPREVIOUS
      await rotateOnce(TOKEN);
      const before = fake.snapshot();

      // Act / Assert
      await expect(rotation.step('createSecret', 'initial-version')).rejects.toThrow(
        /version initial-version is AWSPREVIOUS: its rotation completed and AWSCURRENT has since moved to version 11111111-2222-3333-4444-555555555555 .*nothing was changed$/,
      );
      expect(fake.snapshot()).toEqual(before);
    });

    it('fails when the token version no longer carries AWSPENDING (cancelled or abandoned), and changes nothing', async () => {
      // Arrange: the version keeps only a label of someone else's
      fake.startRotation(SECRET, TOKEN);
      const version = fake.version(SECRET, TOKEN);
      version.stages.delete('AWSPENDING');
      version.stages.add('MY-LABEL');
      const before = fake.snapshot();

      // Act / Assert
      await expect(rotation.step('createSecret', TOKEN)).rejects.toThrow(
        /version 11111111-2222-3333-4444-555555555555 is not AWSPENDING; it carries \[MY-LABEL\]: its rotation was cancelled/,
      );
      expect(fake.snapshot()).toEqual(before);
      expect(fake.iam.calls()).toHaveLength(0);
    });

    it.each(['createSecret', 'setSecret', 'testSecret'] as const)(
      'returns without changes when %s runs for a token that is already AWSCURRENT',
      async (step) => {
        // Arrange
        await rotateOnce(TOKEN);
        const before = fake.snapshot();
        fake.iam.resetHistory();

        // Act
        await rotation.step(step, TOKEN);

        // Assert
        expect(fake.snapshot()).toEqual(before);
        expect(fake.iam.calls()).toHaveLength(0);
      },
    );
  });

  describe('Binding and secret value', () => {
    it('fails when the secret has no binding tag, and changes nothing', async () => {
      // Arrange
      Reflect.deleteProperty(fake.secret(SECRET).tags, BINDING_TAG_KEY);
      fake.startRotation(SECRET, TOKEN);
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(SecretBindingError);
      await expect(outcome).rejects.toThrow(`has no tag ${BINDING_TAG_KEY}`);
      expect(fake.snapshot()).toEqual(before);
      expect(fake.iam.calls()).toHaveLength(0);
    });

    it('fails when the AWSCURRENT value names another user, and changes nothing', async () => {
      // Arrange
      fake.addUser('someone-else');
      fake.secrets.clear();
      fake.addSecret(SECRET, USER, { value: JSON.stringify({ UserName: 'someone-else' }) });
      fake.startRotation(SECRET, TOKEN);
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(
        /version AWSCURRENT names UserName someone-else, but the secret is bound to IAM user ses-smtp-sender/,
      );
      expect(fake.snapshot()).toEqual(before);
      expect(fake.iam.commandCalls(CreateAccessKeyCommand)).toHaveLength(0);
    });

    it.each([
      [
        'not JSON',
        '{"UserName": "ses-smtp-sender", "SecretAccessKey": "s3cr3t-not-json',
        /SecretString is not valid JSON/,
      ],
      ['a JSON array', '["s3cr3t"]', /SecretString must be a JSON object, got array/],
      [
        'no UserName',
        '{"AccessKeyId":"AKIA0000000000000000","SecretAccessKey":"s3cr3t"}',
        /field UserName must be a non-empty string, got undefined/,
      ],
      [
        'an AccessKeyId without SecretAccessKey',
        '{"UserName":"ses-smtp-sender","AccessKeyId":"AKIA0000000000000000"}',
        /field SecretAccessKey must be a non-empty string when AccessKeyId is set, got undefined/,
      ],
      [
        'a malformed AccessKeyId',
        '{"UserName":"ses-smtp-sender","AccessKeyId":"AK-1","SecretAccessKey":"s3cr3t"}',
        /field AccessKeyId must be an IAM access key id/,
      ],
    ])(
      'fails when AWSCURRENT holds %s, names the field, and never quotes the value',
      async (_label, value, message) => {
        // Arrange
        fake.secrets.clear();
        fake.addSecret(SECRET, USER, { value });
        fake.startRotation(SECRET, TOKEN);
        const before = fake.snapshot();

        // Act
        const outcome = rotation.step('createSecret', TOKEN);

        // Assert
        await expect(outcome).rejects.toThrow(InvalidSecretValueError);
        await expect(outcome).rejects.toThrow(message);
        await expect(outcome).rejects.not.toThrow(/s3cr3t/);
        expect(fake.snapshot()).toEqual(before);
        expect(logs.text).not.toContain('s3cr3t');
      },
    );

    it('fails when the bound user does not exist in IAM, and changes nothing', async () => {
      // Arrange
      fake.users.delete(USER);
      fake.startRotation(SECRET, TOKEN);
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(
        /createSecret failed: NoSuchEntityException: The user with name ses-smtp-sender cannot be found/,
      );
      expect(fake.snapshot()).toEqual(before);
    });
  });

  describe('Step: createSecret', () => {
    it('bootstraps a secret that holds only the UserName: creates the first key and stores it in AWSPENDING', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      const keys = fake.userKeys(USER);
      expect(keys).toHaveLength(1);
      expect(fake.valueOf(SECRET, 'AWSPENDING')).toEqual({
        UserName: USER,
        AccessKeyId: keys[0]?.accessKeyId,
        SecretAccessKey: keys[0]?.secretAccessKey,
        ReplacesVersionId: 'initial-version',
      });
      expect(fake.secretsManager).toHaveReceivedCommandWith(PutSecretValueCommand, {
        ClientRequestToken: TOKEN,
        VersionStages: ['AWSPENDING'],
        RotationToken: ROTATION_TOKEN,
      });
      expectCreateAccessKeyAlwaysNamedTheUser();
    });

    it('keeps a key the user had before the secret existed and adds the new one', async () => {
      // Arrange
      const existing = fake.addKey(USER, { createDate: new Date('2025-01-01T00:00:00Z') });
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([
        existing.accessKeyId,
        pendingKeyId(),
      ]);
    });

    it('removes an Active key created by hand after the AWSCURRENT version, as an orphan', async () => {
      // Arrange
      const handMade = fake.addKey(USER);
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([pendingKeyId()]);
      expect(pendingKeyId()).not.toBe(handMade.accessKeyId);
    });

    it('retires the AWSPREVIOUS key (already Inactive) to stay within two keys, never the AWSCURRENT key', async () => {
      // Arrange: two rotations leave an Active AWSCURRENT key and an Inactive AWSPREVIOUS key
      await rotateOnce('token-1');
      await rotateOnce('token-2');
      const current = currentKeyId();
      const previous = fake.valueOf(SECRET, 'AWSPREVIOUS')?.AccessKeyId;
      expect(keyStates()).toEqual([`${String(previous)}:Inactive`, `${String(current)}:Active`]);
      fake.iam.resetHistory();
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.iam).toHaveReceivedCommandWith(DeleteAccessKeyCommand, {
        UserName: USER,
        AccessKeyId: previous,
      });
      expect(fake.iam).not.toHaveReceivedCommand(UpdateAccessKeyCommand);
      expect(keyStates()).toEqual([
        `${String(current)}:Active`,
        `${String(pendingKeyId())}:Active`,
      ]);
    });

    it('deactivates, then deletes, an Active key the secret does not know that predates the current version', async () => {
      // Arrange: AWSCURRENT holds key A; the user also has an older hand-made Active key
      const handMade = fake.addKey(USER, { createDate: new Date('2025-01-01T00:00:00Z') });
      await rotateOnce('token-1');
      fake
        .userKeys(USER)
        .splice(
          0,
          fake.userKeys(USER).length,
          ...fake.userKeys(USER).filter((key) => key.accessKeyId !== handMade.accessKeyId),
        );
      fake.userKeys(USER).unshift(handMade);
      const current = currentKeyId();
      fake.iam.resetHistory();
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert: the key was never used, so it may go
      const calls = fake.iam.calls().map((call) => call.args[0].constructor.name);
      expect(calls).toEqual([
        'GetUserCommand',
        'ListAccessKeysCommand',
        'GetAccessKeyLastUsedCommand',
        'UpdateAccessKeyCommand',
        'DeleteAccessKeyCommand',
        'CreateAccessKeyCommand',
      ]);
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([current, pendingKeyId()]);
    });

    it('retires the Inactive one of two keys the secret does not know, at bootstrap', async () => {
      // Arrange
      const active = fake.addKey(USER, { createDate: new Date('2025-01-01T00:00:00Z') });
      const inactive = fake.addKey(USER, {
        status: 'Inactive',
        createDate: new Date('2025-06-01T00:00:00Z'),
      });
      fake.version(SECRET, 'initial-version').createdDate = new Date('2026-01-01T00:00:00Z');
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([
        active.accessKeyId,
        pendingKeyId(),
      ]);
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).not.toContain(inactive.accessKeyId);
    });

    it('retires the oldest of two Active keys the secret does not know, at bootstrap', async () => {
      // Arrange
      const oldest = fake.addKey(USER, { createDate: new Date('2024-01-01T00:00:00Z') });
      const newer = fake.addKey(USER, { createDate: new Date('2025-01-01T00:00:00Z') });
      fake.version(SECRET, 'initial-version').createdDate = new Date('2026-01-01T00:00:00Z');
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      const remaining = fake.userKeys(USER).map((key) => key.accessKeyId);
      expect(remaining).toEqual([newer.accessKeyId, pendingKeyId()]);
      expect(remaining).not.toContain(oldest.accessKeyId);
    });

    it('changes nothing when run a second time with the same token', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      const afterFirst = fake.snapshot();

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.snapshot()).toEqual(afterFirst);
      expect(fake.iam).toHaveReceivedCommandTimes(CreateAccessKeyCommand, 1);
    });

    it('removes the orphan left by a crash between CreateAccessKey and PutSecretValue, then succeeds', async () => {
      // Arrange: one completed rotation, then an attempt that dies right after CreateAccessKey
      await rotateOnce('token-1');
      const current = currentKeyId();
      fake.startRotation(SECRET, TOKEN);
      let orphanId: string | undefined;
      fake.interceptNext('CreateAccessKey', (input: { UserName: string }) => {
        orphanId = fake.addKey(input.UserName).accessKeyId;
        throw new Error('Runtime exited: the process died after CreateAccessKey succeeded');
      });
      await expect(rotation.step('createSecret', TOKEN)).rejects.toThrow(
        /createSecret failed: Error/,
      );
      expect(fake.userKeys(USER)).toHaveLength(2);

      // Act: Secrets Manager retries the step
      await rotation.step('createSecret', TOKEN);

      // Assert
      const remaining = fake.userKeys(USER).map((key) => key.accessKeyId);
      expect(remaining).not.toContain(orphanId);
      expect(remaining).toEqual([current, pendingKeyId()]);
    });

    it('removes an orphan at bootstrap too, where the user is not at the key limit', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      let orphanId: string | undefined;
      fake.interceptNext('CreateAccessKey', (input: { UserName: string }) => {
        orphanId = fake.addKey(input.UserName).accessKeyId;
        throw new Error('Runtime exited');
      });
      await expect(rotation.step('createSecret', TOKEN)).rejects.toThrow();

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([pendingKeyId()]);
      expect(pendingKeyId()).not.toBe(orphanId);
    });

    it('removes the key of a CreateAccessKey attempt whose answer was lost when the SDK retried it', async () => {
      // Arrange: the first attempt created a key but timed out; the SDK's retry created another
      const kept = fake.addKey(USER, { createDate: new Date('2025-01-01T00:00:00Z') });
      fake.startRotation(SECRET, TOKEN);
      let lostKeyId: string | undefined;
      fake.interceptNext('CreateAccessKey', (input: { UserName: string }) => {
        lostKeyId = fake.addKey(input.UserName).accessKeyId;
        const key = fake.addKey(input.UserName);
        return {
          AccessKey: {
            UserName: USER,
            AccessKeyId: key.accessKeyId,
            SecretAccessKey: key.secretAccessKey,
            Status: 'Active',
          },
          $metadata: { httpStatusCode: 200, attempts: 2 },
        };
      });

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert: the lost key is gone, the key the user had before is kept
      const remaining = fake.userKeys(USER).map((key) => key.accessKeyId);
      expect(remaining).toEqual([kept.accessKeyId, pendingKeyId()]);
      expect(remaining).not.toContain(lostKeyId);
    });

    it('deletes the new key and fails when PutSecretValue fails, leaving the keys as they were', async () => {
      // Arrange
      await rotateOnce('token-1');
      fake.startRotation(SECRET, TOKEN);
      expect(keyStates()).toEqual([`${String(currentKeyId())}:Active`]);
      const keysBefore = keyStates();
      fake.interceptNext('PutSecretValue', () => {
        throw Object.assign(
          new Error('User is not authorized to perform secretsmanager:PutSecretValue'),
          { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } },
        );
      });

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(
        /PutSecretValue of version .* failed \(AccessDeniedException\); the new access key AKIA\w+ was deleted/,
      );
      expect(keyStates()).toEqual(keysBefore);
      expect(pendingKeyId()).toBeUndefined();
    });

    it('keeps the key when PutSecretValue reports an error although the value was stored', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      fake.interceptNext('PutSecretValue', (input: { SecretString: string }) => {
        const version = fake.version(SECRET, TOKEN);
        version.value = input.SecretString;
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      });

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([pendingKeyId()]);
    });

    it('reconciles once when CreateAccessKey hits LimitExceeded because a key appeared meanwhile', async () => {
      // Arrange
      await rotateOnce('token-1');
      const current = currentKeyId();
      fake.startRotation(SECRET, TOKEN);
      fake.interceptNext('CreateAccessKey', (input: { UserName: string }) => {
        fake.addKey(input.UserName); // created by hand between ListAccessKeys and CreateAccessKey
        throw Object.assign(new Error('Cannot exceed quota for AccessKeysPerUser: 2'), {
          name: 'LimitExceededException',
          $metadata: { httpStatusCode: 409 },
        });
      });

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).toEqual([current, pendingKeyId()]);
    });

    it('gives the rotation up, removing AWSPENDING, when the stored pending key was deleted out of band', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      const pending = pendingKeyId();
      fake.userKeys(USER).splice(0);

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert: the absence is confirmed by listing again before it counts
      await expect(outcome).rejects.toThrow(RotationGivenUpError);
      await expect(outcome).rejects.toThrow(
        `gave up this rotation: access key ${String(pending)} stored in AWSPENDING no longer exists for IAM user ${USER}`,
      );
      expect(rotation.clock.sleeps).toEqual([1_000, 3_000]);
      expect(fake.iam).toHaveReceivedCommandTimes(ListAccessKeysCommand, 4);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
      expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe('initial-version');
    });
  });

  describe('Step: setSecret', () => {
    beforeEach(async () => {
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
    });

    it('succeeds when the pending key exists and is Active, twice without changes', async () => {
      const before = fake.snapshot();
      await rotation.step('setSecret', TOKEN);
      await rotation.step('setSecret', TOKEN);
      expect(fake.snapshot()).toEqual(before);
    });

    it('gives the rotation up when the pending key is Inactive: deletes it and removes AWSPENDING', async () => {
      // Arrange
      const pending = fake.key(USER, 0);
      pending.status = 'Inactive';

      // Act
      const outcome = rotation.step('setSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(RotationGivenUpError);
      await expect(outcome).rejects.toThrow(
        `access key ${pending.accessKeyId} of IAM user ${USER} is Inactive, expected Active (deactivated by hand?). Deleted access key ${pending.accessKeyId} and removed AWSPENDING from version ${TOKEN}`,
      );
      expect(fake.userKeys(USER)).toEqual([]);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
      expect(fake.iam).not.toHaveReceivedCommand(UpdateAccessKeyCommand);
    });

    it('gives the rotation up when the pending key no longer exists, once listing again confirms it', async () => {
      fake.userKeys(USER).splice(0);
      await expect(rotation.step('setSecret', TOKEN)).rejects.toThrow(
        /gave up this rotation: access key AKIA\w+ stored in AWSPENDING no longer exists for IAM user ses-smtp-sender/,
      );
      expect(rotation.clock.sleeps).toEqual([1_000, 3_000]);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
    });

    it('does not count a key as deleted when a later listing shows it (IAM listings lag)', async () => {
      // Arrange: the first ListAccessKeys misses the new key
      fake.interceptNext('ListAccessKeys', () => ({ AccessKeyMetadata: [], IsTruncated: false }));

      // Act
      await rotation.step('setSecret', TOKEN);

      // Assert
      expect(rotation.clock.sleeps).toEqual([1_000]);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBe(TOKEN);
      expect(fake.userKeys(USER)).toHaveLength(1);
    });

    it('fails when createSecret has not stored a value', async () => {
      fake.startRotation(SECRET, 'token-without-value');
      await expect(rotation.step('setSecret', 'token-without-value')).rejects.toThrow(
        /version token-without-value \(AWSPENDING\) holds no access key/,
      );
    });
  });

  describe('Step: testSecret', () => {
    it('succeeds at once for a key that already authenticates', async () => {
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      await rotation.step('testSecret', TOKEN);
      expect(fake.sts).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 1);
      expect(rotation.clock.sleeps).toEqual([]);
    });

    it('retries with backoff a key that authenticates only after a few rejections', async () => {
      // Arrange
      fake.rejectionsForNewKeys = 5;
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);

      // Act
      await rotation.step('testSecret', TOKEN);

      // Assert
      expect(fake.sts).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 6);
      expect(rotation.clock.sleeps).toEqual([100, 200, 400, 800, 1000]);
    });

    it('times the attempts from the first one, so slow requests do not stretch the schedule', async () => {
      // Arrange: every GetCallerIdentity takes 150 ms; the key works from the fourth attempt
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      const key = fake.key(USER, 0);
      let attempts = 0;
      fake.sts.on(GetCallerIdentityCommand).callsFake(() => {
        rotation.clock.advance(150);
        attempts += 1;
        if (attempts < 4) {
          throw Object.assign(new Error('The security token included in the request is invalid.'), {
            name: 'InvalidClientTokenId',
          });
        }
        return { Arn: `arn:aws:iam::${ACCOUNT}:user/${USER}`, Account: ACCOUNT };
      });
      const startedAt = rotation.clock.now();

      // Act
      await rotation.step('testSecret', TOKEN);

      // Assert: attempts start at 0, 150 (due at 100), 300 (due at 300) and 700 ms
      expect(attempts).toBe(4);
      expect(rotation.clock.sleeps).toEqual([250]);
      expect(rotation.clock.now() - startedAt).toBe(850);
      expect(key.status).toBe('Active');
    });

    it('fails when the key is still rejected at the deadline taken from the remaining time', async () => {
      // Arrange
      fake.rejectionsForNewKeys = 1_000;
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      const before = fake.snapshot();
      const remaining = DEADLINE_SAFETY_MARGIN_MS + STS_ATTEMPT_TIMEOUT_MS + 5_000;

      // Act
      const outcome = rotation.step('testSecret', TOKEN, remaining);

      // Assert
      await expect(outcome).rejects.toThrow(AccessKeyTestError);
      await expect(outcome).rejects.toThrow(
        /still rejected with InvalidClientTokenId after \d+ attempts .*AWSPENDING is kept: IAM may still be propagating the key/,
      );
      // Every attempt started with a whole attempt timeout left before the deadline.
      const waited = rotation.clock.sleeps.reduce((sum, delay) => sum + delay, 0);
      expect(waited).toBeLessThanOrEqual(5_000);
      expect(waited).toBeGreaterThan(3_000);
      expect(fake.snapshot()).toEqual(before);
    });

    it('gives the rotation up at once when the pending key authenticates as another user', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      const pending = pendingKeyId();
      fake.sts
        .on(GetCallerIdentityCommand)
        .resolves({ Arn: `arn:aws:iam::${ACCOUNT}:user/intruder`, Account: ACCOUNT });

      // Act
      const outcome = rotation.step('testSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(
        /gave up this rotation: access key AKIA\w+ authenticates as arn:aws:iam::123456789012:user\/intruder \(account 123456789012\), expected IAM user arn:aws:iam::123456789012:user\/ses-smtp-sender in account 123456789012/,
      );
      expect(fake.userKeys(USER).map((key) => key.accessKeyId)).not.toContain(pending);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
    });

    it('gives the rotation up when the pending key authenticates as the same user name in another account', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      fake.sts
        .on(GetCallerIdentityCommand)
        .resolves({ Arn: `arn:aws:iam::210987654321:user/${USER}`, Account: '210987654321' });

      // Act / Assert
      await expect(rotation.step('testSecret', TOKEN)).rejects.toThrow(
        /authenticates as arn:aws:iam::210987654321:user\/ses-smtp-sender \(account 210987654321\), expected IAM user arn:aws:iam::123456789012:user\/ses-smtp-sender in account 123456789012/,
      );
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
    });

    it('fails when STS names the right user ARN but another account (the account is compared on its own)', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      fake.sts
        .on(GetCallerIdentityCommand)
        .resolves({ Arn: fake.userArn(USER), Account: '210987654321' });

      // Act / Assert
      await expect(rotation.step('testSecret', TOKEN)).rejects.toThrow(
        /\(account 210987654321\), expected IAM user .* in account 123456789012/,
      );
    });

    it('fails at once on an error that waiting cannot fix', async () => {
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      fake.sts
        .on(GetCallerIdentityCommand)
        .rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
      await expect(rotation.step('testSecret', TOKEN)).rejects.toThrow(/failed with AccessDenied/);
      expect(fake.sts).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 1);
    });

    it('tests the AWSCURRENT key when AWSPENDING has no value (RotateImmediately=false)', async () => {
      // Arrange
      await rotateOnce('token-1');
      fake.startRotation(SECRET, TOKEN);
      const before = fake.snapshot();

      // Act
      await rotation.step('testSecret', TOKEN);

      // Assert
      expect(fake.sts).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 2);
      expect(fake.snapshot()).toEqual(before);
    });

    it('fails a configuration test whose AWSCURRENT key does not authenticate, and touches no key', async () => {
      // Arrange
      await rotateOnce('token-1');
      fake.startRotation(SECRET, TOKEN);
      fake.key(USER, 0).status = 'Inactive';
      const before = fake.snapshot();

      // Act
      const outcome = rotation.step('testSecret', TOKEN, 30_000);

      // Assert
      await expect(outcome).rejects.toThrow(
        /access key AKIA\w+ was still rejected with InvalidClientTokenId after \d+ attempts/,
      );
      expect(fake.snapshot()).toEqual(before);
    });

    it('gives the rotation up after 15 s of rejections when the pending key turns out Inactive', async () => {
      // Arrange: someone deactivated the new key after setSecret
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      const pending = fake.key(USER, 0);
      pending.status = 'Inactive';

      // Act
      const outcome = rotation.step('testSecret', TOKEN);

      // Assert: it did not poll until the 2-minute deadline
      await expect(outcome).rejects.toThrow(
        `gave up this rotation: access key ${pending.accessKeyId} of IAM user ${USER} is Inactive`,
      );
      const waited = rotation.clock.sleeps.reduce((sum, delay) => sum + delay, 0);
      expect(waited).toBeGreaterThanOrEqual(KEY_STATE_CHECK_AFTER_MS);
      expect(waited).toBeLessThan(KEY_STATE_CHECK_AFTER_MS + 2_000);
      expect(fake.userKeys(USER)).toEqual([]);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
    });

    it('gives the rotation up when every signature is rejected until the deadline (the stored secret is wrong)', async () => {
      // Arrange: the key exists and is Active, but AWSPENDING holds a secret that is not its own
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);
      fake.sts.on(GetCallerIdentityCommand).rejects(
        Object.assign(new Error('The request signature we calculated does not match'), {
          name: 'SignatureDoesNotMatch',
          $fault: 'client',
        }),
      );

      // Act
      const outcome = rotation.step('testSecret', TOKEN, 40_000);

      // Assert
      await expect(outcome).rejects.toThrow(
        /STS rejected every signature made with the secret access key stored in AWSPENDING for \d+ ms \(SignatureDoesNotMatch\): the stored secret does not belong to the key/,
      );
      expect(fake.userKeys(USER)).toEqual([]);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
    });

    it('fails by itself when no attempt fits before the deadline', async () => {
      // Arrange
      fake.startRotation(SECRET, TOKEN);
      await rotation.step('createSecret', TOKEN);

      // Act / Assert: 3 s margin + less than one 5 s attempt
      await expect(
        rotation.step('testSecret', TOKEN, DEADLINE_SAFETY_MARGIN_MS + STS_ATTEMPT_TIMEOUT_MS - 1),
      ).rejects.toThrow(/after 0 attempts/);
      expect(fake.sts).not.toHaveReceivedCommand(GetCallerIdentityCommand);
    });
  });

  describe('Step: finishSecret', () => {
    it('promotes the new version and deactivates the previous key, which becomes AWSPREVIOUS', async () => {
      // Arrange
      await rotateOnce('token-1');
      const first = currentKeyId();
      fake.startRotation(SECRET, TOKEN);
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const)
        await rotation.step(step, TOKEN);

      // Act
      await rotation.step('finishSecret', TOKEN);

      // Assert
      expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(TOKEN);
      expect(fake.versionWith(SECRET, 'AWSPREVIOUS')).toBe('token-1');
      expect(keyStates()).toEqual([
        `${String(first)}:Inactive`,
        `${String(currentKeyId())}:Active`,
      ]);
    });

    it('completes the cleanup when retried after the stage moved but before the old key was deactivated', async () => {
      // Arrange
      await rotateOnce('token-1');
      const first = currentKeyId();
      fake.startRotation(SECRET, TOKEN);
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const)
        await rotation.step(step, TOKEN);
      fake.interceptNext('UpdateAccessKey', () => {
        throw Object.assign(new Error('We encountered an internal error.'), {
          name: 'ServiceFailureException',
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
        });
      });
      await expect(rotation.step('finishSecret', TOKEN)).rejects.toThrow(/ServiceFailureException/);
      expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(TOKEN);
      expect(fake.userKeys(USER).find((key) => key.accessKeyId === first)?.status).toBe('Active');

      // Act
      await rotation.step('finishSecret', TOKEN);

      // Assert
      expect(fake.userKeys(USER).find((key) => key.accessKeyId === first)?.status).toBe('Inactive');
      const again = fake.snapshot();
      await rotation.step('finishSecret', TOKEN);
      expect(fake.snapshot()).toEqual(again);
    });

    it('finishes a bootstrap rotation, where AWSPREVIOUS holds no key', async () => {
      await rotateOnce(TOKEN);
      expect(fake.valueOf(SECRET, 'AWSPREVIOUS')).toEqual({ UserName: USER });
      expect(keyStates()).toEqual([`${String(currentKeyId())}:Active`]);
    });

    it('succeeds when the previous key was already deleted by hand', async () => {
      await rotateOnce('token-1');
      fake.startRotation(SECRET, TOKEN);
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const)
        await rotation.step(step, TOKEN);
      fake.userKeys(USER).splice(0, 1);
      await rotation.step('finishSecret', TOKEN);
      expect(keyStates()).toEqual([`${String(currentKeyId())}:Active`]);
    });
  });

  describe('Whole rotations', () => {
    it('reaches the steady state after every rotation: one Active AWSCURRENT key, at most one Inactive AWSPREVIOUS key', async () => {
      for (let index = 1; index <= 4; index += 1) {
        await rotateOnce(`token-${String(index)}`);
        const previous = fake.valueOf(SECRET, 'AWSPREVIOUS')?.AccessKeyId;
        const expected = [
          ...(previous === undefined ? [] : [`${previous}:Inactive`]),
          `${String(currentKeyId())}:Active`,
        ];
        expect(keyStates()).toEqual(expected);
      }
      expectCreateAccessKeyAlwaysNamedTheUser();
    });

    it('runs every step twice in a row with the same state as once', async () => {
      fake.startRotation(SECRET, TOKEN);
      for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
        await rotation.step(step, TOKEN);
        const once = fake.snapshot();
        await rotation.step(step, TOKEN);
        expect(fake.snapshot()).toEqual(once);
      }
      expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(TOKEN);
    });
  });

  describe('Logging', () => {
    it('never writes a secret access key, a secret string or the RotationToken, even at debug level and on failures', async () => {
      // Arrange: a rotation with retries, a failed PutSecretValue and a failed test
      fake.rejectionsForNewKeys = 3;
      await rotateOnce('token-1');
      fake.startRotation(SECRET, TOKEN);
      fake.interceptNext('PutSecretValue', () => {
        throw new ResourceNotFoundException({ message: 'gone', $metadata: {} });
      });
      await expect(rotation.step('createSecret', TOKEN)).rejects.toThrow(RotationError);
      await rotation.step('createSecret', TOKEN);
      fake.rejectionsForNewKeys = 0;
      fake.key(USER, -1).rejectionsLeft = 10_000;
      await expect(rotation.step('testSecret', TOKEN, 6_000)).rejects.toThrow(AccessKeyTestError);

      // Assert
      const secrets = [...fake.users.values()].flat().map((key) => key.secretAccessKey);
      const allKeysEverCreated = fake.iam.commandCalls(CreateAccessKeyCommand).length;
      expect(allKeysEverCreated).toBeGreaterThanOrEqual(3);
      expect(logs.entries.length).toBeGreaterThan(10);
      for (const secret of secrets) expect(logs.text).not.toContain(secret);
      expect(logs.text).not.toContain('fake-secret-');
      expect(logs.text).not.toContain(ROTATION_TOKEN);
      expect(logs.text).not.toContain('SecretAccessKey');
      for (const entry of logs.logEntries) {
        expect(typeof entry.secretId).toBe('string');
        expect(typeof entry.step).toBe('string');
        expect(typeof entry.clientRequestToken).toBe('string');
      }
      // The metrics lines (EMF, on stdout too) carry the step and the service, nothing else.
      expect(logs.metricEntries.length).toBeGreaterThan(4);
      for (const entry of logs.metricEntries) {
        expect(
          Object.keys(entry)
            .filter((key) => typeof entry[key] === 'string')
            .sort(),
        ).toEqual(['operation', 'service']);
      }
    });
  });
});
