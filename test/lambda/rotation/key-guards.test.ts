import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
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
 * AWSCURRENT or AWSPREVIOUS cannot be read (fail closed).
 */
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ci-AbCdEf';
const TOKEN = '11111111-1111-4111-8111-111111111111';

const contextWith = (iamCalls: string[], secrets: Partial<SecretStore> = {}): StepContext => {
  const iam: Partial<AccessKeyStore> = {
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
