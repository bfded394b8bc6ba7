import { Logger } from '@aws-lambda-powertools/logger';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AccessKeyStore } from '../../../lambda/aws/iam-access-key-store.js';
import type { SecretStore } from '../../../lambda/aws/secrets-manager-secret-store.js';
import { RotationError, RotationGivenUpError } from '../../../lambda/errors.js';
import { InvocationMeasurements } from '../../../lambda/invocation-metrics.js';
import { giveUpRotation } from '../../../lambda/rotation/give-up.js';
import { removeAccessKey } from '../../../lambda/rotation/key-removal.js';
import type { RotationServices, StepContext } from '../../../lambda/rotation/step-context.js';

/**
 * Guards of the key removal that no scenario reached alone: the AWSCURRENT key is refused
 * before any IAM call (not deactivated first), and a given-up rotation keeps its pending key when
 * AWSCURRENT or AWSPREVIOUS cannot be read (fail closed), or when the key was not made for the
 * pending version (created before it: a value put by hand into AWSPENDING names it).
 */
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ci-AbCdEf';
const TOKEN = '11111111-1111-4111-8111-111111111111';

/** When RotateSecret created the token's version (ListSecretVersionIds' CreatedDate). */
const VERSION_CREATED = new Date('2026-03-01T10:00:00.250Z');
/** The pending key's CreateDate (IAM's, to the second) unless a test says otherwise. */
let pendingKeyCreated = new Date('2026-03-01T10:00:02Z');

const contextWith = (iamCalls: string[], secrets: Partial<SecretStore> = {}): StepContext => {
  const iam: Partial<AccessKeyStore> = {
    listAccessKeys: () =>
      Promise.resolve([
        { accessKeyId: 'AKIAPENDING000000001', status: 'Active', createDate: pendingKeyCreated },
      ]),
    deactivateAccessKey: (_user, id) => {
      iamCalls.push(`deactivate ${id}`);
      return Promise.resolve();
    },
    deleteAccessKey: (_user, id) => {
      iamCalls.push(`delete ${id}`);
      return Promise.resolve();
    },
  };
  const store: Partial<SecretStore> = {
    moveStage: () => Promise.resolve(),
    listVersions: () =>
      Promise.resolve([
        { versionId: 'initial', stages: ['AWSCURRENT'], createdDate: new Date('2026-01-01') },
        { versionId: TOKEN, stages: ['AWSPENDING'], createdDate: VERSION_CREATED },
      ]),
    ...secrets,
  };
  return {
    event: { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
    secret: {
      arn: SECRET_ARN,
      name: 'iam-key-rotation/ci',
      rotationEnabled: true,
      versionIdsToStages: {},
      tags: {},
    },
    userName: 'ci',
    user: { userName: 'ci', arn: 'arn:aws:iam::123456789012:user/ci', tags: {} },
    settings: {
      staleKeyDays: 7,
      stackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/IamKeyRotation/1',
    },
    services: { iam, secrets: store } as unknown as RotationServices,
    log: new Logger({ serviceName: 'key-guards-test', logLevel: 'SILENT' }),
    deadline: Number.MAX_SAFE_INTEGER,
    functionArn: undefined,
    measurements: new InvocationMeasurements(),
  };
};

describe('Function: removeAccessKey', () => {
  it('refuses the AWSCURRENT key before any IAM call: it is never deactivated first', async () => {
    const calls: string[] = [];

    await expect(
      removeAccessKey(
        contextWith(calls),
        { accessKeyId: 'AKIACURRENT000000001', status: 'Active' },
        'AKIACURRENT000000001',
        'test',
      ),
    ).rejects.toThrow(RotationError);

    expect(calls).toEqual([]);
  });

  it('deactivates an Active key before deleting it', async () => {
    const calls: string[] = [];
    await removeAccessKey(
      contextWith(calls),
      { accessKeyId: 'AKIAOTHER00000000001', status: 'Active' },
      'AKIACURRENT000000001',
      'test',
    );
    expect(calls).toEqual(['deactivate AKIAOTHER00000000001', 'delete AKIAOTHER00000000001']);
  });
});

describe('Function: giveUpRotation', () => {
  beforeEach(() => {
    pendingKeyCreated = new Date('2026-03-01T10:00:02Z');
  });

  it('keeps the pending key when AWSCURRENT or AWSPREVIOUS cannot be read (it may be the key they hold)', async () => {
    const calls: string[] = [];
    const context = contextWith(calls, {
      getSecretString: () =>
        Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })),
    });

    await expect(
      giveUpRotation(context, { accessKeyId: 'AKIAPENDING000000001', status: 'Active' }, 'test'),
    ).rejects.toThrow(
      /Kept access key AKIAPENDING000000001 \(AWSCURRENT or AWSPREVIOUS could not be read\)/,
    );

    expect(calls).toEqual([]);
  });

  it('deletes the pending key when neither AWSCURRENT nor AWSPREVIOUS holds it', async () => {
    const calls: string[] = [];
    const context = contextWith(calls, { getSecretString: () => Promise.resolve(undefined) });

    await expect(
      giveUpRotation(context, { accessKeyId: 'AKIAPENDING000000001', status: 'Active' }, 'test'),
    ).rejects.toThrow(RotationGivenUpError);

    expect(calls).toEqual(['deactivate AKIAPENDING000000001', 'delete AKIAPENDING000000001']);
  });

  it('deletes the pending key IAM dates to the second before its version was created (same second, precision)', async () => {
    const calls: string[] = [];
    pendingKeyCreated = new Date('2026-03-01T10:00:00Z');
    const context = contextWith(calls, { getSecretString: () => Promise.resolve(undefined) });

    await expect(
      giveUpRotation(context, { accessKeyId: 'AKIAPENDING000000001', status: 'Active' }, 'test'),
    ).rejects.toThrow(/Deleted access key AKIAPENDING000000001/);

    expect(calls).toEqual(['deactivate AKIAPENDING000000001', 'delete AKIAPENDING000000001']);
  });

  it('keeps a pending key created before its version: a value put into AWSPENDING names another key of the user, one in use maybe', async () => {
    const calls: string[] = [];
    pendingKeyCreated = new Date('2026-02-01T08:00:00Z');
    const context = contextWith(calls, { getSecretString: () => Promise.resolve(undefined) });

    await expect(
      giveUpRotation(context, { accessKeyId: 'AKIAPENDING000000001', status: 'Active' }, 'test'),
    ).rejects.toThrow(
      /Kept access key AKIAPENDING000000001 \(created 2026-02-01T08:00:00.000Z, before version .*: not made by this rotation/,
    );

    expect(calls).toEqual([]);
  });

  it('keeps a pending key IAM does not list (it cannot tell when it was created)', async () => {
    const calls: string[] = [];
    const context = contextWith(calls, { getSecretString: () => Promise.resolve(undefined) });

    await expect(
      giveUpRotation(context, { accessKeyId: 'AKIAUNLISTED00000001', status: 'Active' }, 'test'),
    ).rejects.toThrow(/Kept access key AKIAUNLISTED00000001 \(IAM does not list it\)/);

    expect(calls).toEqual([]);
  });

  it('keeps the pending key when AWSCURRENT or AWSPREVIOUS holds it (a value naming the current key)', async () => {
    const calls: string[] = [];
    const context = contextWith(calls, {
      getSecretString: (_secretId, selector) =>
        Promise.resolve(
          selector.versionStage === 'AWSCURRENT'
            ? JSON.stringify({
                UserName: 'ci',
                AccessKeyId: 'AKIAPENDING000000001',
                SecretAccessKey: 'not-a-real-secret',
              })
            : undefined,
        ),
    });

    await expect(
      giveUpRotation(context, { accessKeyId: 'AKIAPENDING000000001', status: 'Active' }, 'test'),
    ).rejects.toThrow(/Kept access key AKIAPENDING000000001 \(another version holds it\)/);

    expect(calls).toEqual([]);
  });
});
