import { DeleteAccessKeyCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TESTED_STAGE } from '../../lambda/rotation/binding.js';
import {
  callerArnSignedWith,
  importBundledHandler,
  invokeStep,
  MotoAws,
  rotate,
  UNCHECKED_CREDENTIALS,
  waitForNextSecond,
  byAccessKeyId,
  type BundledHandler,
  type KeyState,
} from '../support/moto/moto-aws.js';
import { MOTO_ACCOUNT_ID, MotoServer } from '../support/moto/moto-server.js';
import {
  SHARED_STACK_CONFIG,
  SHARED_STACK_USER,
  startMotoAndSynthesize,
  type SynthesizedStack,
} from '../support/moto/synthesized-stack.js';

/**
 * The bundled rotation function (the asset `cdk synth` produces) against moto over HTTP: every
 * call the handler makes goes through the real SDK clients to an implementation we did not
 * write, and every result is read back with plain API calls.
 */
const USER = SHARED_STACK_USER;
const USER_ARN = `arn:aws:iam::${MOTO_ACCOUNT_ID}:user/${USER}`;
/** The stack other suites synthesize too (one synth for all); only {@link USER} is rotated here. */
const CONFIG = SHARED_STACK_CONFIG;

let moto: MotoServer | undefined;
let synthesized: SynthesizedStack | undefined;
let motoAws: MotoAws | undefined;

const aws = (): MotoAws => {
  if (motoAws === undefined) throw new Error('beforeAll did not start moto');
  return motoAws;
};
let handler: BundledHandler;
let restoreEnvironment: (() => void) | undefined;
let secretArn: string;

beforeAll(async () => {
  ({ moto, synthesized } = await startMotoAndSynthesize(CONFIG));
  motoAws = new MotoAws(moto.endpoint);
  // Request authentication is off in this file: the bundle's credentials are not checked.
  ({ handler, restoreEnvironment } = await importBundledHandler(
    synthesized.handlerFile,
    synthesized.handlerExport,
    moto.endpoint,
    UNCHECKED_CREDENTIALS,
  ));
});

afterAll(async () => {
  try {
    restoreEnvironment?.();
    motoAws?.destroy();
  } finally {
    await moto?.stop();
    synthesized?.dispose();
  }
});

beforeEach(async () => {
  if (moto === undefined || synthesized === undefined) throw new Error('beforeAll failed');
  await moto.reset();
  await moto.setAuthentication(false);
});

/**
 * Creates the user, lets `prepareUser` give it keys, then creates the stack's secret for it as
 * the template defines it (value `{"UserName"}`, binding tag).
 */
const deploy = async (prepareUser?: () => Promise<void>): Promise<void> => {
  if (synthesized === undefined) throw new Error('beforeAll failed');
  const userArns = await aws().createUsers(CONFIG.users);
  await prepareUser?.();
  const { secretArnByUser } = await aws().deployStackResources(synthesized.template, userArns);
  const arn = secretArnByUser.get(USER);
  if (arn === undefined) throw new Error(`No secret for ${USER} in the template`);
  secretArn = arn;
};

const stagesOf = async (token: string): Promise<string[]> =>
  ((await aws().versionStages(secretArn))[token] ?? []).slice().sort();

/**
 * The AWSCURRENT key: stored as AWS would return it, Active, and it signs as the user. The value
 * also names the version it replaced (`ReplacesVersionId`), which is now AWSPREVIOUS.
 */
const expectCurrentKeyWorks = async (): Promise<string> => {
  const current = await aws().secretValue(secretArn, 'AWSCURRENT');
  expect(Object.keys(current).sort()).toEqual([
    'AccessKeyId',
    'ReplacesVersionId',
    'SecretAccessKey',
    'UserName',
  ]);
  expect(current.UserName).toBe(USER);
  const previousVersions = Object.entries(await aws().versionStages(secretArn))
    .filter(([, stages]) => stages.includes('AWSPREVIOUS'))
    .map(([versionId]) => versionId);
  expect([current.ReplacesVersionId]).toEqual(previousVersions);
  expect(current.AccessKeyId).toMatch(/^AKIA[A-Z0-9]{12,}$/);
  expect(typeof current.SecretAccessKey).toBe('string');
  const key = {
    accessKeyId: current.AccessKeyId as string,
    secretAccessKey: current.SecretAccessKey as string,
  };
  const keys = await aws().listKeys(USER);
  expect(keys).toContainEqual({ accessKeyId: key.accessKeyId, status: 'Active' });

  if (moto === undefined) throw new Error('moto is not running');
  await moto.setAuthentication(true);
  try {
    await expect(callerArnSignedWith(moto.endpoint, key)).resolves.toBe(USER_ARN);
    // The same check fails with a wrong secret: it really verifies the stored one.
    await expect(
      callerArnSignedWith(moto.endpoint, { ...key, secretAccessKey: `${key.secretAccessKey}x` }),
    ).rejects.toThrow(/signature/i);
  } finally {
    await moto.setAuthentication(false);
  }
  return key.accessKeyId;
};

const previousKeyId = async (): Promise<unknown> =>
  (await aws().secretValue(secretArn, 'AWSPREVIOUS')).AccessKeyId;

/** Steady state: the AWSCURRENT key Active, the AWSPREVIOUS key Inactive, nothing else. */
const expectSteadyState = async (): Promise<{ current: string; previous: string }> => {
  const current = await expectCurrentKeyWorks();
  const previous = await previousKeyId();
  expect(typeof previous).toBe('string');
  const expected: KeyState[] = [
    { accessKeyId: previous as string, status: 'Inactive' },
    { accessKeyId: current, status: 'Active' },
  ];
  expect(await aws().listKeys(USER)).toEqual(byAccessKeyId(expected));
  return { current, previous: previous as string };
};

describe('Bundled rotation function against moto', () => {
  it('bootstraps the first key of a secret that holds only the user name', async () => {
    // Arrange
    await deploy();
    const [initialVersion] = Object.keys(await aws().versionStages(secretArn));
    expect(await aws().secretValue(secretArn, 'AWSCURRENT')).toEqual({ UserName: USER });
    expect(await aws().listKeys(USER)).toEqual([]);

    // Act
    const token = await rotate(aws(), handler, secretArn);

    // Assert
    const keyId = await expectCurrentKeyWorks();
    expect(await aws().listKeys(USER)).toEqual([{ accessKeyId: keyId, status: 'Active' }]);
    expect(await stagesOf(token)).toContain('AWSCURRENT');
    expect(await stagesOf(initialVersion ?? '')).toEqual(['AWSPREVIOUS']);
    expect(await aws().secretValue(secretArn, 'AWSPREVIOUS')).toEqual({ UserName: USER });
  });

  it('reaches steady state after three rotations: one Active AWSCURRENT key, one Inactive AWSPREVIOUS key', async () => {
    // Arrange
    await deploy();
    const tokens: string[] = [];
    const currentKeys: string[] = [];

    // Act
    for (let rotation = 0; rotation < 3; rotation++) {
      tokens.push(await rotate(aws(), handler, secretArn));
      currentKeys.push(await expectCurrentKeyWorks());
    }

    // Assert
    expect(new Set(currentKeys).size).toBe(3);
    const { current, previous } = await expectSteadyState();
    expect(current).toBe(currentKeys[2]);
    expect(previous).toBe(currentKeys[1]);
    const stages = await aws().versionStages(secretArn);
    expect(stages[tokens[2] ?? '']).toContain('AWSCURRENT');
    expect(stages[tokens[1] ?? '']).toEqual(['AWSPREVIOUS']);
    expect(stages[tokens[0] ?? ''] ?? []).toEqual([]);
    // The first key was deleted to make room, not merely left behind.
    expect((await aws().listKeys(USER)).map((key) => key.accessKeyId)).not.toContain(
      currentKeys[0],
    );
  });

  it('makes room for the new key when the user starts with two keys, removing the Inactive one first', async () => {
    // Arrange: two keys the secret never knew, older than the secret's version (as when the
    // stack adopts an existing user), the newer of them Inactive.
    let legacyActive = '';
    await deploy(async () => {
      legacyActive = (await aws().createAccessKey(USER)).accessKeyId;
      const legacyInactive = await aws().createAccessKey(USER);
      await aws().iam.send(
        new UpdateAccessKeyCommand({
          UserName: USER,
          AccessKeyId: legacyInactive.accessKeyId,
          Status: 'Inactive',
        }),
      );
      // IAM and Secrets Manager dates have second precision: keep the keys strictly older.
      await waitForNextSecond();
    });

    // Act
    await rotate(aws(), handler, secretArn);

    // Assert: the Inactive legacy key made room; the Active one is still usable.
    const first = await expectCurrentKeyWorks();
    expect(await aws().listKeys(USER)).toEqual(
      byAccessKeyId([
        { accessKeyId: legacyActive, status: 'Active' },
        { accessKeyId: first, status: 'Active' },
      ]),
    );

    // Act: the next rotation retires the remaining legacy key.
    await rotate(aws(), handler, secretArn);

    // Assert
    const { previous } = await expectSteadyState();
    expect(previous).toBe(first);
  });

  it('rotates on after the AWSCURRENT key was deleted out of band', async () => {
    // Arrange
    await deploy();
    await rotate(aws(), handler, secretArn);
    await rotate(aws(), handler, secretArn);
    const { current: deleted, previous } = await expectSteadyState();
    await aws().iam.send(new DeleteAccessKeyCommand({ UserName: USER, AccessKeyId: deleted }));

    // Act
    await rotate(aws(), handler, secretArn);

    // Assert: a new working key; the key AWSPREVIOUS names is gone, and the older Inactive
    // key, which no version holds any more, was deleted rather than left behind.
    const replacement = await expectCurrentKeyWorks();
    expect(await previousKeyId()).toBe(deleted);
    expect(await aws().listKeys(USER)).toEqual([{ accessKeyId: replacement, status: 'Active' }]);
    expect(previous).not.toBe(replacement);

    // Act: one more rotation converges to steady state.
    await rotate(aws(), handler, secretArn);

    // Assert
    expect((await expectSteadyState()).previous).toBe(replacement);
  });

  it('rotates on after the AWSPREVIOUS key was deleted out of band', async () => {
    // Arrange
    await deploy();
    await rotate(aws(), handler, secretArn);
    await rotate(aws(), handler, secretArn);
    const { current, previous } = await expectSteadyState();
    await aws().iam.send(new DeleteAccessKeyCommand({ UserName: USER, AccessKeyId: previous }));

    // Act
    await rotate(aws(), handler, secretArn);

    // Assert
    const state = await expectSteadyState();
    expect(state.previous).toBe(current);
  });

  it('ends in the same state when every step is delivered twice', async () => {
    // Act: bootstrap, then a second rotation (whose finishSecret deactivates a key), each step
    // invoked twice in a row as at-least-once delivery allows.
    await deploy();
    const firstToken = await rotate(aws(), handler, secretArn, 2);
    const first = await expectCurrentKeyWorks();
    expect(await aws().listKeys(USER)).toEqual([{ accessKeyId: first, status: 'Active' }]);
    const secondToken = await rotate(aws(), handler, secretArn, 2);

    // Assert
    const { previous } = await expectSteadyState();
    expect(previous).toBe(first);
    expect(await stagesOf(secondToken)).toContain('AWSCURRENT');
    expect(await stagesOf(firstToken)).toEqual(['AWSPREVIOUS']);
  });

  it('finishes the cleanup when finishSecret is retried after AWSCURRENT already moved', async () => {
    // Arrange: the state a finishSecret leaves when it dies right after moving AWSCURRENT:
    // AWSCURRENT on the token's version, which still carries AWSPENDING, and the old key still
    // Active. The harness makes finishSecret's first move itself.
    await deploy();
    const firstToken = await rotate(aws(), handler, secretArn);
    const old = await expectCurrentKeyWorks();
    const token = await aws().startRotation(secretArn);
    for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) {
      await invokeStep(handler, step, secretArn, token);
    }
    await aws().secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretArn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token,
        RemoveFromVersionId: firstToken,
      }),
    );
    expect(await stagesOf(token)).toEqual(['AWSCURRENT', 'AWSPENDING', TESTED_STAGE]);
    expect(await stagesOf(firstToken)).toEqual(['AWSPREVIOUS']);
    expect(await aws().listKeys(USER)).toContainEqual({ accessKeyId: old, status: 'Active' });

    // Act
    await invokeStep(handler, 'finishSecret', secretArn, token);

    // Assert
    expect((await expectSteadyState()).previous).toBe(old);
    expect(await stagesOf(token)).toEqual(['AWSCURRENT', TESTED_STAGE]);
  });
});
