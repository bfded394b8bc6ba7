import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/**
 * Settles `work` on virtual time: runs each timer the SDK sets (its back-off between attempts,
 * the adaptive rate limiter's waits for a token) as soon as nothing else is left to do, with the
 * clock (`Date.now`, which the rate limiter refills its bucket from) moved to the timer's time.
 * Each step moves the clock by at least 1 ms, as Node.js runs a timer of less than 1 ms after
 * 1 ms: fake timers alone run a sub-millisecond timer at once, and the rate limiter, whose
 * bucket then never refills, would ask for one again forever.
 */
async function onVirtualTime<T>(work: Promise<T>): Promise<T> {
  let outcome: { readonly value: T } | { readonly error: unknown } | undefined;
  work.then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  while (outcome === undefined) {
    if (vi.getTimerCount() === 0) {
      // Waiting on something other than a timer (the response body's stream): real time.
      await new Promise((resolve) => {
        setImmediate(resolve);
      });
    } else {
      await vi.advanceTimersToNextTimerAsync();
      await vi.advanceTimersByTimeAsync(1);
    }
  }
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

describe('Function: defaultDependencies', () => {
  // The SDK's real back-off (seconds per retry: half a minute in all), on virtual time.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('IAM throttling', () => {
    it('retries a throttled IAM call and returns its answer', async () => {
      // Arrange: 3 throttles, one more than the SDK's default of 3 attempts would survive.
      const { handler, actions } = iamAnswering(3);
      const dependencies = dependenciesWith(handler);

      // Act
      const keys = await onVirtualTime(dependencies.iam.listAccessKeys('alice'));

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
      const error: unknown = await onVirtualTime(dependencies.iam.listAccessKeys('alice')).then(
        () => undefined,
        (failure: unknown) => failure,
      );

      // Assert
      expect(error).toBeInstanceOf(Error);
      expect(
        JSON.stringify({ name: (error as Error).name, message: (error as Error).message }),
      ).toMatch(/Throttling|Rate exceeded/);
      expect(actions).toHaveLength(IAM_MAX_ATTEMPTS);
      // It backed off between attempts (on the virtual clock), as it would against IAM.
      expect(
        (error as { $metadata?: { totalRetryDelay?: number } }).$metadata?.totalRetryDelay,
      ).toBeGreaterThan(1_000);
    });
  });
});
