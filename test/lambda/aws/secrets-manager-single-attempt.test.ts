import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defaultDependencies } from '../../../lambda/dependencies.js';

/**
 * finishSecret's AWSCURRENT move (`moveStageOnce`) goes out once, without the SDK's retries, on
 * the single-attempt client `defaultDependencies` creates when that move is first sent; every
 * other call keeps the SDK's retries. The request handler sits below the SDK's retry
 * middleware and answers like Secrets Manager: `ThrottlingException` a given number of times.
 */
function secretsManagerAnswering(throttles: number): {
  handler: { handle: (request: { headers: Record<string, string> }) => Promise<unknown> };
  targets: string[];
} {
  const targets: string[] = [];
  const handler = {
    handle: (request: { headers: Record<string, string> }): Promise<unknown> => {
      targets.push(request.headers['x-amz-target'] ?? '?');
      const throttled = targets.length <= throttles;
      const body = throttled
        ? JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' })
        : JSON.stringify({
            ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf',
            Name: 's',
          });
      return Promise.resolve({
        response: {
          statusCode: throttled ? 400 : 200,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            ...(throttled ? { 'x-amzn-errortype': 'ThrottlingException' } : {}),
          },
          body: Readable.from([Buffer.from(body)]),
        },
      });
    },
  };
  return { handler, targets };
}

const dependenciesWith = (
  handler: ReturnType<typeof secretsManagerAnswering>['handler'],
): ReturnType<typeof defaultDependencies> =>
  defaultDependencies({
    clientConfig: {
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
      requestHandler: handler as never,
    },
    environment: {},
  });

const MOVE = {
  secretId: 's',
  versionStage: 'AWSCURRENT',
  moveToVersionId: 'new',
  removeFromVersionId: 'old',
} as const;

describe('Function: defaultDependencies', () => {
  describe('Secrets Manager: the AWSCURRENT move sent once', () => {
    it('sends moveStageOnce once, and fails with the throttling, every time it is called', async () => {
      // Arrange
      const { handler, targets } = secretsManagerAnswering(Number.POSITIVE_INFINITY);
      const { secrets } = dependenciesWith(handler);

      // Act
      const first: unknown = await secrets.moveStageOnce(MOVE).catch((error: unknown) => error);
      const second: unknown = await secrets.moveStageOnce(MOVE).catch((error: unknown) => error);

      // Assert
      expect((first as Error).name).toBe('ThrottlingException');
      expect((second as Error).name).toBe('ThrottlingException');
      expect(targets).toEqual([
        'secretsmanager.UpdateSecretVersionStage',
        'secretsmanager.UpdateSecretVersionStage',
      ]);
    });

    it('retries the other calls as the SDK does', async () => {
      // Arrange: one throttle, which the SDK's default retries survive.
      const { handler, targets } = secretsManagerAnswering(1);
      const { secrets } = dependenciesWith(handler);

      // Act
      await secrets.moveStage(MOVE);

      // Assert
      expect(targets).toEqual([
        'secretsmanager.UpdateSecretVersionStage',
        'secretsmanager.UpdateSecretVersionStage',
      ]);
    });
  });
});
