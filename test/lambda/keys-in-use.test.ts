import { GetAccessKeyLastUsedCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../lambda/create-handler.js';
import { defaultDependencies } from '../../lambda/dependencies.js';
import { AccessKeyInUseError, InvalidSettingsError } from '../../lambda/errors.js';
import { STALE_KEY_DAYS_ENV } from '../../lambda/rotation/binding.js';
import { parseRotationSettings } from '../../lambda/settings.js';
import { FakeAws, REGION, STACK_ENVIRONMENT, STACK_ID } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import { createTestRotation, ManualClock, type TestRotation } from '../support/rotation-harness.js';

/**
 * A key that may be in use is never deleted to make room: the function asks IAM when each key
 * it does not hold last signed a request, and deletes one only if it never did or not for
 * `staleKeyDays` (default 7).
 */
const USER = 'ci-deployer';
const SECRET = 'iam-key-rotation/ci-deployer';
const TOKEN = 'token-1';
const DAY = 86_400_000;

let fake: FakeAws;
let rotation: TestRotation;
let logs: LogCapture;

beforeEach(() => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(USER);
  rotation = createTestRotation(fake, SECRET);
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

/** A key the user had before the secret existed, last used `daysAgo` days ago (or never). */
const ownKey = (createDate: string, daysAgo?: number): string =>
  fake.addKey(USER, {
    createDate: new Date(createDate),
    ...(daysAgo === undefined
      ? {}
      : { lastUsedDate: new Date(rotation.clock.now() - daysAgo * DAY) }),
  }).accessKeyId;

const deploy = (): void => {
  fake.addSecret(SECRET, USER);
  fake.version(SECRET, 'initial-version').createdDate = new Date('2026-10-01T00:00:00Z');
};

const keyIds = (): string[] => fake.userKeys(USER).map((key) => key.accessKeyId);

describe('Function: createHandler, keys that may be in use', () => {
  describe('At the first rotation of a user with two Active keys', () => {
    it('fails before any change when both were used within staleKeyDays, naming both and what to do', async () => {
      // Arrange
      const first = ownKey('2025-01-01', 1);
      const second = ownKey('2025-06-01', 6);
      deploy();
      fake.startRotation(SECRET, TOKEN);
      const keysBefore = keyIds();

      // Act
      const outcome = rotation.step('createSecret', TOKEN);

      // Assert
      await expect(outcome).rejects.toThrow(AccessKeyInUseError);
      await expect(outcome).rejects.toThrow(
        new RegExp(
          `IAM user ${USER} holds 2 access keys and none may be deleted to make room for a new one: ${first} \\(not held by the secret, last used \\S+ by sts in ${REGION}\\) and ${second} \\(not held by the secret, last used \\S+ by sts in ${REGION}\\)\\. A key the secret does not hold is deleted only when it was never used or not used for 7 days \\(staleKeyDays\\)\\. Move the applications that use ${first} to the secret, deactivate it \\(aws iam update-access-key --user-name ${USER} --access-key-id ${first} --status Inactive\\), then rotate again .*Removed AWSPENDING from version ${TOKEN} \\(it held no value\\); no key was changed`,
        ),
      );
      expect(keyIds()).toEqual(keysBefore);
      expect(fake.userKeys(USER).every((key) => key.status === 'Active')).toBe(true);
      expect(fake.versionWith(SECRET, 'AWSPENDING')).toBeUndefined();
      expect(fake.iam).not.toHaveReceivedCommand(UpdateAccessKeyCommand);
    });

    it('deletes the one that never signed anything, and keeps the one in use', async () => {
      // Arrange
      const inUse = ownKey('2025-01-01', 0);
      const neverUsed = ownKey('2025-06-01');
      deploy();
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(keyIds()).toEqual([inUse, fake.valueOf(SECRET, 'AWSPENDING')?.AccessKeyId]);
      expect(keyIds()).not.toContain(neverUsed);
      expect(fake.iam).toHaveReceivedCommandTimes(GetAccessKeyLastUsedCommand, 2);
    });

    it('deletes the least recently used when both are older than staleKeyDays', async () => {
      // Arrange
      const recent = ownKey('2024-01-01', 8);
      const oldest = ownKey('2025-06-01', 90);
      deploy();
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(keyIds()).toContain(recent);
      expect(keyIds()).not.toContain(oldest);
    });

    it('honours staleKeyDays from the environment: a key used 8 days ago is in use with 30 days', async () => {
      // Arrange
      ownKey('2024-01-01', 8);
      ownKey('2025-06-01', 20);
      deploy();
      fake.startRotation(SECRET, TOKEN);
      const strict = createHandler(
        defaultDependencies({
          clientConfig: {
            region: REGION,
            credentials: { accessKeyId: 'AKIALAMBDAROLE000000', secretAccessKey: 'role-secret' },
          },
          clock: new ManualClock(rotation.clock.now()),
          logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
          environment: { ...STACK_ENVIRONMENT, [STALE_KEY_DAYS_ENV]: '30' },
        }),
      );

      // Act / Assert
      await expect(
        strict(
          { Step: 'createSecret', SecretId: SECRET, ClientRequestToken: TOKEN },
          { getRemainingTimeInMillis: () => 60_000 },
        ),
      ).rejects.toThrow(/not used for 30 days \(staleKeyDays\)/);
      expect(fake.userKeys(USER)).toHaveLength(2);
    });

    it('asks nothing about use when an Inactive key can make room', async () => {
      // Arrange
      ownKey('2025-01-01', 0);
      fake.addKey(USER, { status: 'Inactive', createDate: new Date('2025-02-01') });
      deploy();
      fake.startRotation(SECRET, TOKEN);

      // Act
      await rotation.step('createSecret', TOKEN);

      // Assert
      expect(fake.iam).not.toHaveReceivedCommand(GetAccessKeyLastUsedCommand);
      expect(fake.userKeys(USER).map((key) => key.status)).toEqual(['Active', 'Active']);
    });
  });

  describe('Once the secret holds a key', () => {
    it('fails before any change when the other key, made by hand, signs requests', async () => {
      // Arrange
      deploy();
      await rotation.rotate('token-0');
      const current = fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId;
      fake
        .userKeys(USER)
        .splice(
          0,
          fake.userKeys(USER).length,
          ...fake.userKeys(USER).filter((key) => key.accessKeyId === current),
        );
      const handMade = fake.addKey(USER, { lastUsedDate: new Date(rotation.clock.now()) });
      fake.startRotation(SECRET, TOKEN);
      const before = keyIds();

      // Act / Assert
      await expect(rotation.step('createSecret', TOKEN)).rejects.toThrow(
        `${String(current)} (the AWSCURRENT key) and ${handMade.accessKeyId} (not held by the secret, last used`,
      );
      expect(keyIds()).toEqual(before);
    });
  });
});

describe('Function: parseRotationSettings', () => {
  it('defaults staleKeyDays to 7', () => {
    expect(parseRotationSettings(STACK_ENVIRONMENT)).toEqual({
      stackId: STACK_ID,
      staleKeyDays: 7,
    });
  });

  it.each(['0', '1001', '7.5', 'seven', '-1'])(
    'fails for %s, naming the variable and what is expected',
    (value) => {
      expect(() =>
        parseRotationSettings({ ...STACK_ENVIRONMENT, [STALE_KEY_DAYS_ENV]: value }),
      ).toThrow(
        new RegExp(
          `Environment variable ${STALE_KEY_DAYS_ENV} must be a whole number of days from 1 to 1000, got "${value.replace('.', '\\.')}"`,
        ),
      );
    },
  );

  it('makes every invocation fail with that message, before any call', async () => {
    // Arrange
    const handler = createHandler(
      defaultDependencies({
        clientConfig: {
          region: REGION,
          credentials: { accessKeyId: 'AKIALAMBDAROLE000000', secretAccessKey: 'role-secret' },
        },
        logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
        environment: { ...STACK_ENVIRONMENT, [STALE_KEY_DAYS_ENV]: 'seven' },
      }),
    );

    // Act
    const outcome = handler({ Step: 'createSecret', SecretId: SECRET, ClientRequestToken: TOKEN });

    // Assert
    await expect(outcome).rejects.toThrow(InvalidSettingsError);
    expect(fake.secretsManager.calls()).toHaveLength(0);
    expect(fake.iam.calls()).toHaveLength(0);
  });
});
