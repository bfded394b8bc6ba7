import {
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CURRENT_KEY_TAG_KEY, ROLLBACK_STAGE } from '../../lambda/rotation/binding.js';
import { FakeAws } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import { createTestRotation, type TestRotation } from '../support/rotation-harness.js';

/**
 * finishSecret's fence around the AWSCURRENT move: the labels read again right before it, one
 * SDK attempt per move, a re-read after an error, the tag that records the AWSCURRENT key, and no
 * deactivation of a key once AWSCURRENT has left the rotation's version.
 */
const USER = 'report-builder';
const SECRET = 'iam-key-rotation/report-builder';
const FIRST = '11111111-1111-4111-8111-111111111111';
const SECOND = '22222222-2222-4222-8222-222222222222';
const ROLLED_BACK = '33333333-3333-4333-8333-333333333333';

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

const keyOf = (stage: string): string | undefined => fake.valueOf(SECRET, stage)?.AccessKeyId;
const statusOf = (accessKeyId: string | undefined): string | undefined =>
  fake.userKeys(USER).find((key) => key.accessKeyId === accessKeyId)?.status;
const currentMoves = (): unknown[] =>
  fake.secretsManager
    .commandCalls(UpdateSecretVersionStageCommand)
    .filter((call) => call.args[0].input.VersionStage === 'AWSCURRENT');
const listedKeys = (): object => ({
  AccessKeyMetadata: fake.userKeys(USER).map((key) => ({
    UserName: USER,
    AccessKeyId: key.accessKeyId,
    Status: key.status,
    CreateDate: key.createDate,
  })),
  IsTruncated: false,
});

/** The first rotation, then the second up to (not including) its finishSecret. */
const readyToFinish = async (): Promise<{ first: string; second: string }> => {
  await rotation.rotate(FIRST);
  fake.startRotation(SECRET, SECOND);
  for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
    await rotation.step(step, SECOND);
  }
  return {
    first: keyOf('AWSCURRENT') ?? '',
    second: (JSON.parse(fake.version(SECRET, SECOND).value ?? '{}') as { AccessKeyId: string })
      .AccessKeyId,
  };
};

describe('Step: finishSecret, fenced', () => {
  it('does not move AWSCURRENT when a cancel removed AWSPENDING after the step began', async () => {
    // Arrange: `cancel` removes AWSPENDING while finishSecret checks the new key
    const { first } = await readyToFinish();
    fake.interceptNext('ListAccessKeys', () => {
      fake.version(SECRET, SECOND).stages.delete('AWSPENDING');
      return listedKeys();
    });

    // Act / Assert
    await expect(rotation.step('finishSecret', SECOND)).rejects.toThrow(
      /version .* no longer carries AWSPENDING .* AWSCURRENT was not moved, nothing was changed/,
    );
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(FIRST);
    expect(currentMoves()).toHaveLength(1); // the first rotation's
    expect(statusOf(first)).toBe('Active');
  });

  it('sends the move once and, when its answer is lost after it took effect, completes without sending it again', async () => {
    // Arrange: the move takes effect, its answer is lost
    const { first, second } = await readyToFinish();
    fake.interceptNext('UpdateSecretVersionStage', () => {
      fake.version(SECRET, FIRST).stages = new Set(['AWSPREVIOUS']);
      fake.version(SECRET, SECOND).stages = new Set(['AWSCURRENT', 'AWSPENDING']);
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    });

    // Act
    await rotation.step('finishSecret', SECOND);

    // Assert
    expect(currentMoves()).toHaveLength(2); // one per rotation
    expect([...fake.version(SECRET, SECOND).stages]).toEqual(['AWSCURRENT']);
    expect(statusOf(first)).toBe('Inactive');
    expect(statusOf(second)).toBe('Active');
  });

  it('tries the move once more, after a fresh check, when it failed without effect', async () => {
    const { first } = await readyToFinish();
    fake.interceptNext('UpdateSecretVersionStage', () => {
      throw Object.assign(new Error('Service unavailable'), {
        name: 'ServiceUnavailable',
        $metadata: { httpStatusCode: 503 },
      });
    });

    await rotation.step('finishSecret', SECOND);

    expect(currentMoves()).toHaveLength(3);
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(SECOND);
    expect(statusOf(first)).toBe('Inactive');
    expect(logs.text).toContain(
      'the AWSCURRENT move failed; reading the labels before trying again',
    );
  });

  it('records the AWSCURRENT version and key in the secret tag, and a tagging failure does not fail the rotation', async () => {
    const { second } = await readyToFinish();
    fake.secretsManager.on(TagResourceCommand).callsFake(() => {
      throw Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    });

    await rotation.step('finishSecret', SECOND);

    const tags = fake.secretsManager
      .commandCalls(TagResourceCommand)
      .map((call) => call.args[0].input.Tags);
    expect(tags.at(-1)).toEqual([{ Key: CURRENT_KEY_TAG_KEY, Value: `${SECOND}:${second}` }]);
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(SECOND);
    expect(logs.text).toContain(
      `could not record the AWSCURRENT key in the tag ${CURRENT_KEY_TAG_KEY}`,
    );
  });

  it('never deactivates the previous key once a rollback took AWSCURRENT off the rotation version after the move', async () => {
    // Arrange: the rollback (a new version holding the first key) lands right after the move
    const { first } = await readyToFinish();
    fake.secretsManager.on(TagResourceCommand).callsFake(() => {
      const firstValue = fake.version(SECRET, FIRST).value;
      fake.version(SECRET, FIRST).stages = new Set();
      fake.version(SECRET, SECOND).stages = new Set(['AWSPREVIOUS', 'AWSPENDING']);
      fake.secret(SECRET).versions.set(ROLLED_BACK, {
        value: firstValue,
        stages: new Set(['AWSCURRENT']),
        createdDate: fake.tick(),
      });
      return {};
    });

    // Act
    await rotation.step('finishSecret', SECOND);

    // Assert
    expect(statusOf(first)).toBe('Active');
    expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
    expect(logs.text).toContain('AWSCURRENT is no longer on this rotation');
  });

  it('never deactivates the previous key while a rollback is in progress (its label on a version)', async () => {
    const { first } = await readyToFinish();
    fake.secretsManager.on(TagResourceCommand).callsFake(() => {
      fake.secret(SECRET).versions.set(ROLLED_BACK, {
        value: fake.version(SECRET, FIRST).value,
        stages: new Set([ROLLBACK_STAGE]),
        createdDate: fake.tick(),
      });
      return {};
    });

    await rotation.step('finishSecret', SECOND);

    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(SECOND);
    expect(statusOf(first)).toBe('Active');
    expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
  });
  it('fails, changing nothing, when a retry finds the AWSCURRENT key deactivated by hand after the move', async () => {
    // Arrange: the move took effect, the step died before removing AWSPENDING, then on-call
    // deactivated the new key; Secrets Manager now retries finishSecret
    const { first, second } = await readyToFinish();
    fake.version(SECRET, FIRST).stages = new Set(['AWSPREVIOUS']);
    fake.version(SECRET, SECOND).stages = new Set(['AWSCURRENT', 'AWSPENDING']);
    const newKey = fake.userKeys(USER).find((key) => key.accessKeyId === second);
    if (newKey === undefined) throw new Error('the new key is missing');
    newKey.status = 'Inactive';
    const before = fake.snapshot();

    // Act / Assert
    await expect(rotation.step('finishSecret', SECOND)).rejects.toThrow(
      `its access key ${second} is Inactive; refusing to deactivate the previous key, nothing was changed`,
    );
    expect(statusOf(first)).toBe('Active');
    expect(fake.snapshot()).toEqual(before);
  });

  it('fails, changing nothing, when a version put by hand as AWSCURRENT and AWSPENDING names a key the user does not have', async () => {
    // Arrange: someone puts a value with a made-up key as AWSCURRENT + AWSPENDING and invokes
    // finishSecret for it, hoping the function deactivates the real key (now AWSPREVIOUS)
    await rotation.rotate(FIRST);
    const first = keyOf('AWSCURRENT');
    fake.version(SECRET, FIRST).stages = new Set(['AWSPREVIOUS']);
    fake.secret(SECRET).versions.set(SECOND, {
      value: JSON.stringify({
        UserName: USER,
        AccessKeyId: 'AKIAFORGEDFORGED0000',
        SecretAccessKey: 'not-a-real-secret',
      }),
      stages: new Set(['AWSCURRENT', 'AWSPENDING']),
      createdDate: fake.tick(),
    });
    const before = fake.snapshot();

    // Act / Assert
    await expect(rotation.step('finishSecret', SECOND)).rejects.toThrow(
      `its access key AKIAFORGEDFORGED0000 is not a key of IAM user ${USER}`,
    );
    expect(statusOf(first)).toBe('Active');
    expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
    expect(fake.snapshot()).toEqual(before);
  });
});
