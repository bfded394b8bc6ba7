import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defaultDependencies, IAM_MAX_ATTEMPTS } from '../../../lambda/dependencies.js';

/**
 * The IAM client of the rotation function, as `defaultDependencies` builds it, sending through a
 * request handler that answers like IAM: `Throttling` (HTTP 400) a given number of times, then
 * the real answer. aws-sdk-client-mock replaces `send` above the SDK's retry middleware, so it
 * cannot show a retry; this handler sits below it, where IAM's answers arrive.
 */
const THROTTLING = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttled</RequestId></ErrorResponse>`;
const LIST_ACCESS_KEYS = `<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccessKeysResult><AccessKeyMetadata><member><UserName>alice</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId><Status>Active</Status><CreateDate>2026-01-01T00:00:00Z</CreateDate></member></AccessKeyMetadata><IsTruncated>false</IsTruncated></ListAccessKeysResult><ResponseMetadata><RequestId>ok</RequestId></ResponseMetadata></ListAccessKeysResponse>`;

/** What the SDK hands a request handler, and what it expects back (an HttpResponse's shape). */
interface SentRequest {
  readonly body?: unknown;
}
interface ReceivedResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Readable;
}

function iamAnswering(throttles: number): {
  handler: { handle: (request: SentRequest) => Promise<{ response: ReceivedResponse }> };
  actions: string[];
} {
  const actions: string[] = [];
  const handler = {
    handle: (request: SentRequest): Promise<{ response: ReceivedResponse }> => {
      actions.push(new URLSearchParams(String(request.body)).get('Action') ?? '?');
      const throttled = actions.length <= throttles;
      return Promise.resolve({
        response: {
          statusCode: throttled ? 400 : 200,
          headers: { 'content-type': 'text/xml' },
          body: Readable.from([Buffer.from(throttled ? THROTTLING : LIST_ACCESS_KEYS)]),
        },
      });
    },
  };
  return { handler, actions };
}

function dependenciesWith(handler: ReturnType<typeof iamAnswering>['handler']) {
  return defaultDependencies({
    clientConfig: {
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
      requestHandler: handler as never,
    },
    environment: {},
  });
}

describe('Function: defaultDependencies', () => {
  // The SDK's real back-off (seconds per retry, which fake timers cannot stand in for: the
  // adaptive rate limiter then spins on sub-millisecond waits): both tests wait at once.
  describe.concurrent('IAM throttling', () => {
    it('retries a throttled IAM call and returns its answer', async () => {
      // Arrange: 3 throttles, one more than the SDK's default of 3 attempts would survive.
      const { handler, actions } = iamAnswering(3);
      const dependencies = dependenciesWith(handler);

      // Act
      const keys = await dependencies.iam.listAccessKeys('alice');

      // Assert
      expect(keys.map((key) => key.accessKeyId)).toEqual(['AKIAIOSFODNN7EXAMPLE']);
      expect(actions).toEqual([
        'ListAccessKeys',
        'ListAccessKeys',
        'ListAccessKeys',
        'ListAccessKeys',
      ]);
    });

    it('fails with Throttling after IAM_MAX_ATTEMPTS throttled attempts', async () => {
      // Arrange
      const { handler, actions } = iamAnswering(Number.POSITIVE_INFINITY);
      const dependencies = dependenciesWith(handler);

      // Act
      const error: unknown = await dependencies.iam.listAccessKeys('alice').then(
        () => undefined,
        (failure: unknown) => failure,
      );

      // Assert
      expect(error).toBeInstanceOf(Error);
      expect(
        JSON.stringify({ name: (error as Error).name, message: (error as Error).message }),
      ).toMatch(/Throttling|Rate exceeded/);
      expect(actions).toHaveLength(IAM_MAX_ATTEMPTS);
    });
  });
});
