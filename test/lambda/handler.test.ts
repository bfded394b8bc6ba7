import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RotationStateError } from '../../lambda/errors.js';
import { STACK_ID_ENV } from '../../lambda/rotation/binding.js';
import { cloudFormationTags, STACK_ID } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';

describe('Module: handler', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  const logs = new LogCapture();

  const stackIdBefore = process.env[STACK_ID_ENV];
  const regionBefore = process.env.AWS_REGION;

  afterEach(() => {
    secretsManager.reset();
    logs.stop();
    if (stackIdBefore === undefined) Reflect.deleteProperty(process.env, STACK_ID_ENV);
    else process.env[STACK_ID_ENV] = stackIdBefore;
    if (regionBefore === undefined) Reflect.deleteProperty(process.env, 'AWS_REGION');
    else process.env.AWS_REGION = regionBefore;
  });

  // Test files share their worker's modules (vitest.config.ts): the next file gets the real send.
  afterAll(() => {
    secretsManager.restore();
  });

  it('wires the real SDK clients: the guard runs DescribeSecret and rejects a secret without rotation', async () => {
    // Arrange
    logs.start();
    process.env.AWS_REGION ??= 'eu-west-1';
    process.env[STACK_ID_ENV] = STACK_ID;
    secretsManager.on(DescribeSecretCommand).resolves({
      ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ci-deployer-AbCdEf',
      Name: 'iam-key-rotation/ci-deployer',
      Tags: [
        ...Object.entries(cloudFormationTags(STACK_ID, 'SecretCiDeployer')).map(([Key, Value]) => ({
          Key,
          Value,
        })),
        { Key: 'iam-key-rotation:user', Value: 'ci-deployer' },
      ],
      VersionIdsToStages: { token: ['AWSPENDING'] },
    });
    const { handler } = await import('../../lambda/handler.js');

    // Act
    const outcome = handler({ Step: 'createSecret', SecretId: 's', ClientRequestToken: 'token' });

    // Assert
    await expect(outcome).rejects.toThrow(RotationStateError);
    expect(secretsManager).toHaveReceivedCommandWith(DescribeSecretCommand, { SecretId: 's' });
    const failure = logs.entries.find((entry) => entry.level === 'ERROR');
    expect(failure).toMatchObject({
      service: 'iam-key-rotation',
      step: 'createSecret',
      secretId: 's',
    });
  });
});
