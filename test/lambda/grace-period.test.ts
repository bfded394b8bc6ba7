import { UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidEventError,
  InvalidSettingsError,
  RotationStateError,
  UserOwnershipError,
} from '../../lambda/errors.js';
import { parseFunctionEvent, serializeRetireEvent } from '../../lambda/event.js';
import {
  GRACE_PERIOD_SECONDS_ENV,
  METRICS,
  RETIREMENT_SCHEDULE_GROUP_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
  RETIRE_EVENT_SOURCE,
  RETIRE_OPERATION,
} from '../../lambda/observability.js';
import { OWNER_TAG_KEY, ROLLBACK_STAGE, TESTED_STAGE } from '../../lambda/rotation/binding.js';
import { retirementScheduleName } from '../../lambda/rotation/retirement-schedule.js';
import { parseRotationSettings } from '../../lambda/settings.js';
import { ACCOUNT, FakeAws, STACK_ENVIRONMENT } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import {
  createTestRotation,
  FUNCTION_ARN,
  type TestRotation,
} from '../support/rotation-harness.js';

const USER = 'ci-deployer';
const SECRET = 'iam-key-rotation/ci-deployer';
const FIRST = '11111111-1111-4111-8111-111111111111';
const SECOND = '22222222-2222-4222-8222-222222222222';
const THIRD = '33333333-3333-4333-8333-333333333333';
const GROUP = 'IamKeyRotation-retirement';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/IamKeyRotation-RetirementScheduler`;
const GRACE_SECONDS = 86_400;
const GRACE = {
  ...STACK_ENVIRONMENT,
  [GRACE_PERIOD_SECONDS_ENV]: String(GRACE_SECONDS),
  [RETIREMENT_SCHEDULE_GROUP_ENV]: GROUP,
  [RETIREMENT_SCHEDULER_ROLE_ARN_ENV]: ROLE_ARN,
};

let fake: FakeAws;
let logs: LogCapture;

beforeEach(() => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(USER);
  fake.addSecret(SECRET, USER);
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

const keyStatus = (accessKeyId: string | undefined): string | undefined =>
  fake.userKeys(USER).find((key) => key.accessKeyId === accessKeyId)?.status;

/** Two rotations with a grace period: the second leaves the first key Active as AWSPREVIOUS. */
const rotateTwice = async (
  rotation: TestRotation,
): Promise<{ previous: string; current: string }> => {
  await rotation.rotate(FIRST);
  const previous = fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId ?? '';
  await rotation.rotate(SECOND);
  return { previous, current: fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId ?? '' };
};

describe('Grace period', () => {
  describe('Settings', () => {
    it('reads no grace period when GRACE_PERIOD_SECONDS is absent, empty or 0', () => {
      expect(parseRotationSettings(STACK_ENVIRONMENT).gracePeriod).toBeUndefined();
      expect(
        parseRotationSettings({ ...STACK_ENVIRONMENT, [GRACE_PERIOD_SECONDS_ENV]: '' }).gracePeriod,
      ).toBeUndefined();
      expect(
        parseRotationSettings({ ...STACK_ENVIRONMENT, [GRACE_PERIOD_SECONDS_ENV]: '0' })
          .gracePeriod,
      ).toBeUndefined();
    });

    it('reads the grace period with its schedule group and role', () => {
      expect(parseRotationSettings(GRACE).gracePeriod).toEqual({
        seconds: GRACE_SECONDS,
        scheduleGroup: GROUP,
        schedulerRoleArn: ROLE_ARN,
      });
    });

    it.each(['-1', '1.5', '24h', '1e3', '86400000', ' '])(
      'fails when GRACE_PERIOD_SECONDS is %j, naming the variable',
      (value) => {
        expect(() =>
          parseRotationSettings({ ...GRACE, [GRACE_PERIOD_SECONDS_ENV]: value }),
        ).toThrow(/Environment variable GRACE_PERIOD_SECONDS must be a whole number of seconds/);
      },
    );

    it('fails when the schedule group or the role is missing or malformed', () => {
      expect(() =>
        parseRotationSettings({ ...GRACE, [RETIREMENT_SCHEDULE_GROUP_ENV]: '' }),
      ).toThrow(/RETIREMENT_SCHEDULE_GROUP must name an EventBridge Scheduler schedule group/);
      expect(() =>
        parseRotationSettings({ ...GRACE, [RETIREMENT_SCHEDULE_GROUP_ENV]: 'a/b' }),
      ).toThrow(/RETIREMENT_SCHEDULE_GROUP/);
      expect(() =>
        parseRotationSettings({ ...GRACE, [RETIREMENT_SCHEDULER_ROLE_ARN_ENV]: 'role' }),
      ).toThrow(/RETIREMENT_SCHEDULER_ROLE_ARN must be an IAM role ARN/);
    });

    it('fails every invocation, changing nothing, when GRACE_PERIOD_SECONDS is invalid', async () => {
      const rotation = createTestRotation(fake, SECRET, {
        environment: { ...GRACE, [GRACE_PERIOD_SECONDS_ENV]: 'one day' },
      });
      fake.startRotation(SECRET, FIRST);
      const before = fake.snapshot();
      await expect(rotation.step('createSecret', FIRST)).rejects.toThrow(InvalidSettingsError);
      await expect(
        rotation.handler(
          JSON.parse(
            serializeRetireEvent({
              SecretId: fake.secret(SECRET).arn,
              VersionId: FIRST,
              AccessKeyId: 'AKIAFAKE000000000001',
              RotationVersionId: SECOND,
              NotBefore: new Date(0),
            }),
          ) as unknown,
        ),
      ).rejects.toThrow(/GRACE_PERIOD_SECONDS/);
      expect(fake.snapshot()).toEqual(before);
    });
  });

  describe('Step: finishSecret', () => {
    it('leaves the previous key Active and creates one schedule at the end of the grace period', async () => {
      // Arrange
      const rotation = createTestRotation(fake, SECRET, { environment: GRACE });

      // Act
      const { previous, current } = await rotateTwice(rotation);

      // Assert
      expect(keyStatus(previous)).toBe('Active');
      expect(keyStatus(current)).toBe('Active');
      expect(fake.versionWith(SECRET, 'AWSPREVIOUS')).toBe(FIRST);
      expect(fake.version(SECRET, SECOND).stages).toEqual(new Set(['AWSCURRENT', TESTED_STAGE]));
      const calls = rotation.scheduler.calls;
      expect(calls).toHaveLength(1); // none at the first rotation: it had no previous key
      const at = new Date(
        Math.ceil((rotation.clock.now() + GRACE_SECONDS * 1_000) / 1_000) * 1_000,
      );
      expect(calls[0]).toEqual({
        name: retirementScheduleName(fake.secret(SECRET).arn, SECOND),
        groupName: GROUP,
        description: expect.stringContaining(previous) as string,
        at,
        targetArn: FUNCTION_ARN,
        roleArn: ROLE_ARN,
        input: expect.any(String) as string,
      });
      expect(rotation.scheduler.inputOf()).toEqual({
        source: RETIRE_EVENT_SOURCE,
        SecretId: fake.secret(SECRET).arn,
        VersionId: FIRST,
        AccessKeyId: previous,
        RotationVersionId: SECOND,
        NotBefore: at.toISOString(),
      });
      expect(fake.valueOf(SECRET, 'AWSCURRENT')?.GracePeriodSeconds).toBe(GRACE_SECONDS);
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
    });

    it('names the schedule by the secret and the token, so a retry after a crash finds it (ConflictException) and completes', async () => {
      // Arrange: finishSecret dies right after creating the schedule, before removing AWSPENDING
      const rotation = createTestRotation(fake, SECRET, { environment: GRACE });
      await rotation.rotate(FIRST);
      const previous = fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId;
      fake.startRotation(SECRET, SECOND);
      // The function's clock as Secrets Manager's: its steps run after the version was created.
      rotation.clock.advance(fake.tick(0).getTime() - rotation.clock.now());
      for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
        await rotation.step(step, SECOND);
      }
      rotation.scheduler.onNext(() => {
        fake.interceptNext('UpdateSecretVersionStage', () => {
          throw new Error('the process died');
        });
        return Promise.resolve('created');
      });
      rotation.scheduler.onNext(() => Promise.resolve('exists'));
      await expect(rotation.step('finishSecret', SECOND)).rejects.toThrow(/finishSecret failed/);

      // Act: Secrets Manager's retry, with AWSCURRENT already moved
      await rotation.step('finishSecret', SECOND);

      // Assert
      const names = rotation.scheduler.calls.map((call) => call.name);
      expect(names).toEqual([
        retirementScheduleName(fake.secret(SECRET).arn, SECOND),
        retirementScheduleName(fake.secret(SECRET).arn, SECOND),
      ]);
      expect(rotation.scheduler.inputOf(1)).toEqual(rotation.scheduler.inputOf(0));
      expect(fake.version(SECRET, SECOND).stages).toEqual(new Set(['AWSCURRENT', TESTED_STAGE]));
      expect(keyStatus(previous)).toBe('Active');
      expect(logs.text).toContain('its deactivation was already scheduled');
    });

    describe('a schedule of its name that someone else created (name squatting)', () => {
      const squatted: [string, Record<string, unknown>, RegExp][] = [
        [
          'another target',
          { targetArn: `${FUNCTION_ARN}-other` },
          /it invokes .*-other, not this function/,
        ],
        ['another role', { roleArn: `${ROLE_ARN}-other` }, /it runs as .*-other, not/],
        ['a disabled schedule', { state: 'DISABLED' }, /it is DISABLED with a OFF time window/],
        [
          'a flexible time window',
          { flexibleTimeWindowMode: 'FLEXIBLE' },
          /a FLEXIBLE time window/,
        ],
        [
          'another time zone',
          { otherSettings: ['time zone Pacific/Kiritimati'] },
          /it has time zone Pacific\/Kiritimati/,
        ],
        [
          'another key in its event',
          { AccessKeyId: 'AKIAOTHER00000000001' },
          /its event differs in AccessKeyId/,
        ],
        [
          'a time a year later',
          { later: 365 * 86_400_000 },
          /it fires at .* not at the end of this rotation's grace period/,
        ],
        [
          'a time before the version existed',
          { later: -3_600_000 },
          /not at the end of this rotation's grace period/,
        ],
      ];

      it.each(squatted)(
        'refuses one with %s, naming it and the command that deletes it; AWSPENDING stays, the previous key stays Active',
        async (_what, change, problem) => {
          // Arrange: someone took the schedule's name once the rotation's token was known
          const rotation = createTestRotation(fake, SECRET, { environment: GRACE });
          await rotation.rotate(FIRST);
          const previous = fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId ?? '';
          fake.startRotation(SECRET, SECOND);
          rotation.clock.advance(fake.tick(0).getTime() - rotation.clock.now());
          for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
            await rotation.step(step, SECOND);
          }
          const name = retirementScheduleName(fake.secret(SECRET).arn, SECOND);
          const at = new Date(
            Math.ceil((rotation.clock.now() + GRACE_SECONDS * 1_000) / 1_000) * 1_000 +
              Number(change.later ?? 0),
          );
          rotation.scheduler.plant({
            name,
            groupName: GROUP,
            at,
            targetArn: FUNCTION_ARN,
            roleArn: ROLE_ARN,
            state: 'ENABLED',
            flexibleTimeWindowMode: 'OFF',
            otherSettings: [],
            ...change,
            input: serializeRetireEvent({
              SecretId: fake.secret(SECRET).arn,
              VersionId: FIRST,
              AccessKeyId: typeof change.AccessKeyId === 'string' ? change.AccessKeyId : previous,
              RotationVersionId: SECOND,
              NotBefore: at,
            }),
          });

          // Act
          const finish = rotation.step('finishSecret', SECOND);

          // Assert
          await expect(finish).rejects.toThrow(
            `the schedule ${name} in group ${GROUP} that is to retire access key ${previous} of secret ${fake.secret(SECRET).arn} exists already but is not the one this rotation creates`,
          );
          await expect(finish).rejects.toThrow(problem);
          await expect(finish).rejects.toThrow(
            `aws scheduler delete-schedule --name ${name} --group-name ${GROUP}`,
          );
          expect(fake.version(SECRET, SECOND).stages).toContain('AWSPENDING');
          expect(keyStatus(previous)).toBe('Active');
        },
      );
    });

    it('names different schedules for the same token of two secrets', () => {
      expect(retirementScheduleName('arn:a', FIRST)).not.toBe(
        retirementScheduleName('arn:b', FIRST),
      );
      expect(retirementScheduleName('arn:a', FIRST)).toMatch(/^retire-[0-9a-f]{40}$/);
    });

    it('deactivates the previous key at once without a grace period, as before (no schedule)', async () => {
      const rotation = createTestRotation(fake, SECRET);
      const { previous } = await rotateTwice(rotation);
      expect(keyStatus(previous)).toBe('Inactive');
      expect(rotation.scheduler.calls).toHaveLength(0);
    });
  });
});

describe('Event: the grace period has ended', () => {
  const retire = (rotation: TestRotation, event: object): Promise<void> =>
    rotation.handler(event, { getRemainingTimeInMillis: () => 60_000 });

  describe('Validation', () => {
    const valid = (): Record<string, unknown> => ({
      source: RETIRE_EVENT_SOURCE,
      SecretId: fake.secret(SECRET).arn,
      VersionId: FIRST,
      AccessKeyId: 'AKIAFAKE000000000001',
    });

    it('tells the event apart from a Secrets Manager step by its source', () => {
      expect(parseFunctionEvent(valid()).kind).toBe('retire');
      expect(
        parseFunctionEvent({ Step: 'createSecret', SecretId: 's', ClientRequestToken: 't' }).kind,
      ).toBe('step');
    });

    it.each([
      ['an unknown field', { Step: 'finishSecret' }, /unexpected field "Step"/],
      [
        'another source',
        { source: 'aws.scheduler' },
        /field source must be "iam-key-rotation.grace-period"/,
      ],
      [
        'a secret name instead of an ARN',
        { SecretId: SECRET },
        /field SecretId must be the full ARN of a secret/,
      ],
      ['a short version id', { VersionId: 'v1' }, /field VersionId must be a secret version id/],
      [
        'a key id with a space',
        { AccessKeyId: 'AKIA FAKE0000000001' },
        /field AccessKeyId must be an IAM access key id/,
      ],
      ['a number as key id', { AccessKeyId: 12 }, /field AccessKeyId .* got number/],
    ])('fails on %s, changing nothing and echoing no value', async (_name, change, message) => {
      const rotation = createTestRotation(fake, SECRET, { environment: GRACE });
      const before = fake.snapshot();
      await expect(retire(rotation, { ...valid(), ...change })).rejects.toThrow(InvalidEventError);
      await expect(retire(rotation, { ...valid(), ...change })).rejects.toThrow(message);
      expect(fake.snapshot()).toEqual(before);
    });
  });

  describe('Handling', () => {
    let rotation: TestRotation;
    let keys: { previous: string; current: string };

    beforeEach(async () => {
      rotation = createTestRotation(fake, SECRET, { environment: GRACE });
      keys = await rotateTwice(rotation);
      // The schedule fires when the grace period has ended.
      rotation.clock.advance(GRACE_SECONDS * 1_000 + 60_000);
    });

    it('changes nothing when the rotation that scheduled it is no longer AWSCURRENT (a newer version holds the same keys)', async () => {
      // Arrange: a value put by hand (a copy) superseded the rotation's version; the labels of
      // FIRST and the keys are as the event expects, only the rotation is another one
      const copy = fake.version(SECRET, SECOND);
      fake.version(SECRET, SECOND).stages = new Set();
      fake.secret(SECRET).versions.set(THIRD, {
        value: copy.value,
        stages: new Set(['AWSCURRENT']),
        createdDate: fake.tick(),
      });
      fake.version(SECRET, FIRST).stages = new Set(['AWSPREVIOUS']);

      // Act
      await retire(rotation, rotation.scheduler.inputOf());

      // Assert
      expect(keyStatus(keys.previous)).toBe('Active');
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
      expect(logs.text).toContain(
        `the rotation that scheduled it (version ${SECOND}) is no longer AWSCURRENT`,
      );
    });

    it('changes nothing while a rollback is in progress (a version carries its label)', async () => {
      fake.secret(SECRET).versions.set(THIRD, {
        value: fake.version(SECRET, FIRST).value,
        stages: new Set([ROLLBACK_STAGE]),
        createdDate: fake.tick(),
      });

      await retire(rotation, rotation.scheduler.inputOf());

      expect(keyStatus(keys.previous)).toBe('Active');
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
      expect(logs.text).toContain(
        `a rollback is in progress (version ${THIRD} carries ${ROLLBACK_STAGE})`,
      );
    });

    it('never deactivates the previous key while it is also the AWSCURRENT key', async () => {
      // Arrange: the rotation's own version holds the previous key again (put back by hand)
      const current = fake.version(SECRET, SECOND);
      const value = JSON.parse(current.value ?? '{}') as Record<string, unknown>;
      const previous = fake.valueOf(SECRET, 'AWSPREVIOUS');
      current.value = JSON.stringify({
        ...value,
        AccessKeyId: previous?.AccessKeyId,
        SecretAccessKey: previous?.SecretAccessKey,
      });

      // Act
      await retire(rotation, rotation.scheduler.inputOf());

      // Assert
      expect(keyStatus(keys.previous)).toBe('Active');
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
      expect(logs.text).toContain('the key is the AWSCURRENT key; nothing to do');
    });

    it.each([
      [
        'Inactive',
        (key: { status: string }) => {
          key.status = 'Inactive';
        },
      ],
      [
        'deleted',
        () => {
          const list = fake.userKeys(USER);
          list.splice(
            list.findIndex((key) => key.accessKeyId === keys.current),
            1,
          );
        },
      ],
    ] as const)(
      'fails, changing nothing, when the AWSCURRENT key is %s: the previous key stays Active',
      async (_state, change) => {
        const current = fake.userKeys(USER).find((key) => key.accessKeyId === keys.current);
        if (current === undefined) throw new Error('no current key');
        change(current);
        const before = fake.snapshot();

        await expect(retire(rotation, rotation.scheduler.inputOf())).rejects.toThrow(
          /would leave the user without a working key, so it stays Active; nothing was changed/,
        );

        expect(fake.snapshot()).toEqual(before);
        expect(keyStatus(keys.previous)).toBe('Active');
      },
    );

    it('reads the labels again right before deactivating: a rollback that lands meanwhile wins', async () => {
      // Arrange: the operator's rollback writes a new version holding the previous key while
      // the retirement asks IAM for the key's last use
      fake.interceptNext('GetAccessKeyLastUsed', () => {
        const previousValue = fake.version(SECRET, FIRST).value;
        fake.version(SECRET, FIRST).stages = new Set();
        fake.version(SECRET, SECOND).stages = new Set(['AWSPREVIOUS']);
        fake.secret(SECRET).versions.set(THIRD, {
          value: previousValue,
          stages: new Set(['AWSCURRENT']),
          createdDate: fake.tick(),
        });
        return { UserName: USER, AccessKeyLastUsed: { ServiceName: 'N/A', Region: 'N/A' } };
      });

      // Act
      await retire(rotation, rotation.scheduler.inputOf());

      // Assert
      expect(keyStatus(keys.previous)).toBe('Active');
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
    });

    it('deactivates the previous key that is still AWSPREVIOUS, once, and is a no-op when delivered again', async () => {
      await retire(rotation, rotation.scheduler.inputOf());
      expect(keyStatus(keys.previous)).toBe('Inactive');
      expect(keyStatus(keys.current)).toBe('Active');
      await retire(rotation, rotation.scheduler.inputOf());
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(1);
    });

    it('changes nothing after a rollback within the grace period: the old key is AWSCURRENT again', async () => {
      // The operator's rollback: AWSCURRENT back to the first version
      fake.version(SECRET, SECOND).stages.delete('AWSCURRENT');
      fake.version(SECRET, SECOND).stages.add('AWSPREVIOUS');
      fake.version(SECRET, FIRST).stages.delete('AWSPREVIOUS');
      fake.version(SECRET, FIRST).stages.add('AWSCURRENT');
      await retire(rotation, rotation.scheduler.inputOf());
      expect(keyStatus(keys.previous)).toBe('Active');
      expect(keyStatus(keys.current)).toBe('Active');
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
      expect(logs.text).toContain('is AWSCURRENT again (rolled back within the grace period)');
    });

    it('changes nothing after a newer rotation, which deactivated and deleted the previous key', async () => {
      const event = rotation.scheduler.inputOf();
      await rotation.rotate(THIRD);
      const updatesBefore = fake.iam.commandCalls(UpdateAccessKeyCommand).length;
      expect(keyStatus(keys.previous)).toBeUndefined();
      expect(
        fake.iam
          .commandCalls(UpdateAccessKeyCommand)
          .some((call) => call.args[0].input.AccessKeyId === keys.previous),
      ).toBe(true); // deactivated before it was deleted
      await retire(rotation, event);
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(updatesBefore);
    });

    it('warns, emits OldKeyStillUsed and deactivates anyway when the old key signed a request after the new key was created', async () => {
      const previous = fake.userKeys(USER).find((key) => key.accessKeyId === keys.previous);
      if (previous === undefined) throw new Error('no previous key');
      previous.lastUsedDate = fake.tick(60_000);
      logs.stop();
      logs = new LogCapture().start();

      await retire(rotation, rotation.scheduler.inputOf());

      expect(keyStatus(keys.previous)).toBe('Inactive');
      const warning = logs.logEntries.find((entry) => entry.level === 'WARN');
      expect(warning?.message).toMatch(/still used: it signed a request for sts in eu-west-1/);
      const [metric] = logs.metricEntries;
      expect(metric?.operation).toBe(RETIRE_OPERATION);
      expect(metric?.[METRICS.oldKeyStillUsed]).toBe(1);
      expect(metric?.[METRICS.succeeded]).toBe(1);
    });

    it('emits OldKeyStillUsed 0 when the old key was not used since', async () => {
      logs.stop();
      logs = new LogCapture().start();
      await retire(rotation, rotation.scheduler.inputOf());
      expect(logs.metricEntries[0]?.[METRICS.oldKeyStillUsed]).toBe(0);
    });

    it('fails, changing nothing, when the user is owned by another secret', async () => {
      const tags = fake.userTags.get(USER);
      if (tags !== undefined)
        tags[OWNER_TAG_KEY] = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf';
      const before = fake.snapshot();
      await expect(retire(rotation, rotation.scheduler.inputOf())).rejects.toThrow(
        UserOwnershipError,
      );
      expect(fake.snapshot()).toEqual(before);
    });

    it('fails, changing nothing, when the version holds another key than the event names', async () => {
      const before = fake.snapshot();
      await expect(
        retire(rotation, { ...rotation.scheduler.inputOf(), AccessKeyId: keys.current }),
      ).rejects.toThrow(RotationStateError);
      await expect(
        retire(rotation, { ...rotation.scheduler.inputOf(), AccessKeyId: keys.current }),
      ).rejects.toThrow(/holds access key .*, not .* as the event says/);
      expect(fake.snapshot()).toEqual(before);
    });

    it('never deactivates the AWSCURRENT key, whatever the event says', async () => {
      await expect(
        retire(rotation, {
          ...rotation.scheduler.inputOf(),
          VersionId: SECOND,
          AccessKeyId: keys.current,
        }),
      ).resolves.toBeUndefined();
      expect(keyStatus(keys.current)).toBe('Active');
    });
  });

  describe('Deadline', () => {
    let rotation: TestRotation;
    let keys: { previous: string; current: string };

    beforeEach(async () => {
      rotation = createTestRotation(fake, SECRET, { environment: GRACE });
      keys = await rotateTwice(rotation);
    });

    it('changes nothing when an event arrives before its grace period ended, even one that claims an earlier NotBefore (sent straight to the function)', async () => {
      const event = rotation.scheduler.inputOf();
      rotation.clock.advance(GRACE_SECONDS * 1_000 - 60_000);

      await retire(rotation, event);
      await retire(rotation, { ...event, NotBefore: new Date(0).toISOString() });

      expect(keyStatus(keys.previous)).toBe('Active');
      expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
      expect(logs.text).toContain('an event sent before its time');
    });

    it('judges by the grace period the rotation recorded, not by a later setting', async () => {
      // Arrange: gracePeriod raised to two days after the rotation scheduled its retirement
      const event = rotation.scheduler.inputOf();
      const later = createTestRotation(fake, SECRET, {
        environment: { ...GRACE, [GRACE_PERIOD_SECONDS_ENV]: String(2 * GRACE_SECONDS) },
      });
      later.clock.advance(GRACE_SECONDS * 1_000 + 60_000);

      // Act
      await retire(later, event);

      // Assert
      expect(keyStatus(keys.previous)).toBe('Inactive');
    });

    it('never retires earlier than the version creation plus the recorded grace period, rounded up to the second', async () => {
      // Arrange: the AWSCURRENT version was created at a fraction of a second
      const created = new Date(Date.parse('2026-11-01T10:00:30Z') + 400);
      fake.version(SECRET, SECOND).createdDate = created;
      const event = { ...rotation.scheduler.inputOf(), NotBefore: new Date(0).toISOString() };
      const end = created.getTime() + GRACE_SECONDS * 1_000;
      rotation.clock.advance(end - rotation.clock.now() + 100); // past the exact end, before the second

      // Act
      await retire(rotation, event);

      // Assert: not yet; one second later it retires
      expect(keyStatus(keys.previous)).toBe('Active');
      rotation.clock.advance(500);
      await retire(rotation, event);
      expect(keyStatus(keys.previous)).toBe('Inactive');
    });

    describe('Events of the first format (scheduled by an earlier release)', () => {
      const firstFormat = (): Record<string, unknown> => {
        const event = { ...(rotation.scheduler.inputOf() as Record<string, unknown>) };
        delete event.RotationVersionId;
        delete event.NotBefore;
        return event;
      };

      it('retires the key once the AWSCURRENT version, which replaced the event version, is as old as the grace period', async () => {
        rotation.clock.advance(GRACE_SECONDS * 1_000 + 60_000);
        await retire(rotation, firstFormat());
        expect(keyStatus(keys.previous)).toBe('Inactive');
      });

      it('changes nothing when the AWSCURRENT version did not replace the event version', async () => {
        const current = fake.version(SECRET, SECOND);
        current.value = JSON.stringify({
          ...(JSON.parse(current.value ?? '{}') as object),
          ReplacesVersionId: THIRD,
        });
        rotation.clock.advance(GRACE_SECONDS * 1_000 + 60_000);

        await retire(rotation, firstFormat());

        expect(keyStatus(keys.previous)).toBe('Active');
        expect(logs.text).toContain(`replaced version ${THIRD}, not version ${FIRST}`);
      });

      it('rejects an event that carries only one of RotationVersionId and NotBefore', async () => {
        const before = fake.snapshot();
        await expect(
          retire(rotation, { ...firstFormat(), RotationVersionId: SECOND }),
        ).rejects.toThrow(/field NotBefore must be a UTC time/);
        await expect(
          retire(rotation, { ...firstFormat(), NotBefore: '2026-01-01T00:00:00Z' }),
        ).rejects.toThrow(/field RotationVersionId must be a secret version id/);
        expect(fake.snapshot()).toEqual(before);
      });
    });
  });
});
