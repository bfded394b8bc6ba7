import { Logger } from '@aws-lambda-powertools/logger';
import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../lambda/create-handler.js';
import { defaultDependencies } from '../../lambda/dependencies.js';
import {
  ForeignSecretError,
  InvalidSettingsError,
  RotationStateError,
  SecretBindingError,
} from '../../lambda/errors.js';
import { ROTATION_STEPS, serializeRetireEvent } from '../../lambda/event.js';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
} from '../../lambda/observability.js';
import { BINDING_TAG_KEY, STACK_ID_ENV, TESTED_STAGE } from '../../lambda/rotation/binding.js';
import { parseRotationSettings } from '../../lambda/settings.js';
import {
  ACCOUNT,
  FakeAws,
  OTHER_STACK_ID,
  REGION,
  STACK_ENVIRONMENT,
  STACK_ID,
} from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import { createTestRotation, type TestRotation } from '../support/rotation-harness.js';

/**
 * The trust check before every step and every retirement: only a secret this stack created
 * (CloudFormation's stack-id tag), rotating the user its immutable name gives, whose binding
 * tag agrees. Anything else is refused before any IAM call, changing nothing.
 */
const USER = 'ci-deployer';
const SECRET = `iam-key-rotation/${USER}`;
const TOKEN = 'rotation-token-0123456789abcdef0123456789';

let fake: FakeAws;
let rotation: TestRotation;
let logs: LogCapture;

beforeEach(() => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(USER);
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

const GRACE = {
  [GRACE_PERIOD_SECONDS_ENV]: '3600',
  [RETIREMENT_SCHEDULE_GROUP_ENV]: 'iam-key-rotation-retirement',
  [RETIREMENT_SCHEDULER_ROLE_ARN_ENV]: `arn:aws:iam::${ACCOUNT}:role/retirement-scheduler`,
};

describe('Function: parseRotationSettings, the stack id', () => {
  it('reads the stack id', () => {
    expect(parseRotationSettings(STACK_ENVIRONMENT).stackId).toBe(STACK_ID);
  });

  it.each([
    'arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/IamKeyRotation/5c7a1e20-7d4b-11f1-9a3e-0a1b2c3d4e5f',
    'arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/Iam-Key-Rotation/5c7a1e20-7d4b-11f1-9a3e-0a1b2c3d4e5f',
  ])('accepts a stack id of another partition: %s', (stackId) => {
    expect(parseRotationSettings({ [STACK_ID_ENV]: stackId }).stackId).toBe(stackId);
  });

  it.each([
    ['absent', undefined, 'nothing'],
    ['empty', '', 'nothing'],
    ['a stack name', 'IamKeyRotation', '"IamKeyRotation"'],
    [
      'a secret ARN',
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x-AbCdEf`,
      `"arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x-AbCdEf"`,
    ],
    [
      'a stack id without its id part',
      `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/IamKeyRotation`,
      `"arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/IamKeyRotation"`,
    ],
  ])('fails when it is %s, naming the variable and the fix', (_, value, found) => {
    expect(() => parseRotationSettings({ [STACK_ID_ENV]: value })).toThrow(InvalidSettingsError);
    expect(() => parseRotationSettings({ [STACK_ID_ENV]: value })).toThrow(
      `Environment variable ${STACK_ID_ENV} must be the id of the function's CloudFormation stack (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>), got ${found}; the stack sets it to AWS::StackId`,
    );
  });

  it('makes every invocation fail before any call when it is absent', async () => {
    fake.addSecret(SECRET, USER);
    fake.startRotation(SECRET, TOKEN);
    const handler = createHandler(
      defaultDependencies({
        clientConfig: {
          region: REGION,
          credentials: { accessKeyId: 'AKIALAMBDAROLE000000', secretAccessKey: 'role-secret' },
        },
        logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
        environment: {},
      }),
    );

    await expect(
      handler({ Step: 'createSecret', SecretId: SECRET, ClientRequestToken: TOKEN }),
    ).rejects.toThrow(InvalidSettingsError);
    expect(fake.secretsManager.calls()).toHaveLength(0);
    expect(fake.iam.calls()).toHaveLength(0);
  });
});

describe('Function: createHandler, the trust check', () => {
  it('rotates a secret of its own stack, named after its user, whose binding tag agrees', async () => {
    fake.addSecret(SECRET, USER);
    rotation = createTestRotation(fake, SECRET);

    await rotation.rotate(TOKEN);

    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(TOKEN);
  });

  it.each([
    ['created outside CloudFormation', null, 'absent (a secret created outside CloudFormation)'],
    ['of another stack', OTHER_STACK_ID, `"${OTHER_STACK_ID}" (another stack's)`],
  ])(
    'refuses every step on a look-alike secret %s, before any IAM call, changing nothing',
    async (_, stackId, found) => {
      // Arrange: named and tagged exactly like the stack's secret of the user
      const lookAlike = fake.addSecret(SECRET, USER, { stackId });
      rotation = createTestRotation(fake, SECRET);
      fake.startRotation(SECRET, TOKEN);
      const before = fake.snapshot();
      fake.iam.resetHistory();

      for (const step of ROTATION_STEPS) {
        // Act
        const outcome = rotation.step(step, TOKEN);

        // Assert
        await expect(outcome).rejects.toThrow(ForeignSecretError);
        await expect(outcome).rejects.toThrow(
          `Secret ${lookAlike.arn} was not created by this function's stack ${STACK_ID}: its tag aws:cloudformation:stack-id is ${found}. The function rotates only the secrets its own stack created, never a look-alike; refusing to touch any key, nothing was changed`,
        );
      }
      expect(fake.iam.calls()).toHaveLength(0);
      expect(fake.snapshot()).toEqual(before);
    },
  );

  it('refuses a secret of its stack whose name does not give a user, before any IAM call', async () => {
    const odd = fake.addSecret('rotated/ci-deployer', USER);
    rotation = createTestRotation(fake, odd.name);
    fake.startRotation(odd.name, TOKEN);
    fake.iam.resetHistory();

    const outcome = rotation.step('createSecret', TOKEN);

    await expect(outcome).rejects.toThrow(SecretBindingError);
    await expect(outcome).rejects.toThrow(
      `Secret ${odd.arn} is named "rotated/ci-deployer", expected iam-key-rotation/<IAM user name>`,
    );
    expect(fake.iam.calls()).toHaveLength(0);
  });

  it('refuses a secret whose binding tag names another user (a retag stops, never redirects)', async () => {
    fake.addUser('admin');
    const secret = fake.addSecret(SECRET, USER);
    secret.tags[BINDING_TAG_KEY] = 'admin';
    rotation = createTestRotation(fake, SECRET);
    fake.startRotation(SECRET, TOKEN);
    fake.iam.resetHistory();

    const outcome = rotation.step('createSecret', TOKEN);

    await expect(outcome).rejects.toThrow(SecretBindingError);
    await expect(outcome).rejects.toThrow(
      `is named after IAM user ${USER}, but its tag ${BINDING_TAG_KEY} names admin`,
    );
    expect(fake.iam.calls()).toHaveLength(0);
    expect(fake.userKeys('admin')).toEqual([]);
  });
});

describe('Function: createHandler, the trust check of a retirement', () => {
  it('refuses a retirement event for a look-alike secret holding the user’s key, before any IAM call', async () => {
    // Arrange: the user's real key, and a look-alike whose AWSPREVIOUS names it
    const key = fake.addKey(USER);
    const lookAlike = fake.addSecret(SECRET, USER, { stackId: null });
    lookAlike.versions.set('previous-version-0123456789abcdef01', {
      value: JSON.stringify({
        UserName: USER,
        AccessKeyId: key.accessKeyId,
        SecretAccessKey: key.secretAccessKey,
      }),
      stages: new Set(['AWSPREVIOUS']),
      createdDate: fake.tick(),
    });
    rotation = createTestRotation(fake, SECRET, { environment: GRACE });
    const before = fake.snapshot();
    fake.iam.resetHistory();

    // Act
    const outcome = rotation.handler(
      JSON.parse(
        serializeRetireEvent({
          SecretId: lookAlike.arn,
          VersionId: 'previous-version-0123456789abcdef01',
          AccessKeyId: key.accessKeyId,
          RotationVersionId: 'current-version-0123456789abcdef012',
          NotBefore: new Date(0),
        }),
      ) as unknown,
    );

    // Assert
    await expect(outcome).rejects.toThrow(ForeignSecretError);
    await expect(outcome).rejects.toThrow(
      `Secret ${lookAlike.arn} was not created by this function's stack`,
    );
    expect(fake.iam.calls()).toHaveLength(0);
    expect(fake.snapshot()).toEqual(before);
    expect(key.status).toBe('Active');
  });
});

describe('Steps: testSecret marks the version it proved, finishSecret promotes only that', () => {
  const NEXT = 'rotation-token-fedcba9876543210fedcba98';
  const stagesOf = (versionId: string): string[] =>
    [...fake.version(SECRET, versionId).stages].sort();
  const labelMoves = (): unknown[] =>
    fake.secretsManager
      .commandCalls(UpdateSecretVersionStageCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.VersionStage === TESTED_STAGE);

  beforeEach(() => {
    fake.addSecret(SECRET, USER);
    rotation = createTestRotation(fake, SECRET);
  });

  it('moves the label onto the token’s version once the key is proven, taking it from the last one', async () => {
    // Arrange
    await rotation.rotate(TOKEN);
    fake.startRotation(SECRET, NEXT);
    await rotation.step('createSecret', NEXT);
    await rotation.step('setSecret', NEXT);
    fake.secretsManager.resetHistory();

    // Act
    await rotation.step('testSecret', NEXT);

    // Assert
    expect(labelMoves()).toEqual([
      {
        SecretId: fake.secret(SECRET).arn,
        VersionStage: TESTED_STAGE,
        MoveToVersionId: NEXT,
        RemoveFromVersionId: TOKEN,
      },
    ]);
    expect(stagesOf(NEXT)).toEqual(['AWSPENDING', TESTED_STAGE]);
    expect(stagesOf(TOKEN)).toEqual(['AWSCURRENT']);
  });

  it('is safe to run again: a second testSecret finds the label there and moves nothing', async () => {
    fake.startRotation(SECRET, TOKEN);
    await rotation.step('createSecret', TOKEN);
    await rotation.step('testSecret', TOKEN);
    fake.secretsManager.resetHistory();

    await rotation.step('testSecret', TOKEN);

    expect(labelMoves()).toEqual([]);
    expect(stagesOf(TOKEN)).toEqual(['AWSPENDING', TESTED_STAGE]);
  });

  it('never marks a version whose key was not proven (the test failed)', async () => {
    fake.rejectionsForNewKeys = 1_000;
    fake.startRotation(SECRET, TOKEN);
    await rotation.step('createSecret', TOKEN);

    await expect(rotation.step('testSecret', TOKEN, 10_000)).rejects.toThrow(/still rejected/);

    expect(stagesOf(TOKEN)).toEqual(['AWSPENDING']);
  });

  it('never marks the version of a configuration test (no pending key)', async () => {
    await rotation.rotate(TOKEN);
    fake.startRotation(SECRET, NEXT);
    fake.secretsManager.resetHistory();

    await rotation.step('testSecret', NEXT);

    expect(labelMoves()).toEqual([]);
    expect(stagesOf(NEXT)).toEqual(['AWSPENDING']);
  });

  it('refuses a forged finishSecret sent before testSecret: nothing changes, no key is touched', async () => {
    // Arrange: a rotation whose key is stored but not tested yet
    await rotation.rotate(TOKEN);
    fake.startRotation(SECRET, NEXT);
    await rotation.step('createSecret', NEXT);
    await rotation.step('setSecret', NEXT);
    const before = fake.snapshot();
    fake.iam.resetHistory();
    fake.secretsManager.resetHistory();

    // Act
    const outcome = rotation.step('finishSecret', NEXT);

    // Assert
    await expect(outcome).rejects.toThrow(RotationStateError);
    await expect(outcome).rejects.toThrow(
      `finishSecret: secret ${fake.secret(SECRET).arn} version ${NEXT} does not carry the staging label ${TESTED_STAGE}: testSecret has not proved its key, and a version it did not prove is never promoted; refusing, nothing was changed`,
    );
    expect(fake.snapshot()).toEqual(before);
    expect(fake.secretsManager.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
    expect(fake.iam.commandCalls(CreateAccessKeyCommand)).toHaveLength(0);
    expect(fake.iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
    expect(fake.iam.commandCalls(DeleteAccessKeyCommand)).toHaveLength(0);

    // Act: the real order, testSecret first, then finishSecret
    await rotation.step('testSecret', NEXT);
    await rotation.step('finishSecret', NEXT);

    // Assert
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe(NEXT);
  });
});
