import { errorName } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import type { CallerIdentity } from '../aws/sts-caller-identity.js';
import { AccessKeyTestError } from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { readSecretValue, type StepContext } from './step-context.js';

/**
 * Errors with which STS rejects a key IAM has not propagated yet (or a transient failure the
 * SDK's own retries did not absorb). Anything else fails the test at once.
 */
const RETRYABLE_ERRORS = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'AuthFailure',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'TimeoutError',
]);

const isRetryable = (error: unknown): boolean => {
  const name = errorName(error);
  if (name !== undefined && RETRYABLE_ERRORS.has(name)) return true;
  const fault = (error as { $fault?: unknown } | null)?.$fault;
  return fault === 'server';
};

/**
 * Gap between attempt `attempt` and the next: 100, 200, 400, 800 ms, then every second. New
 * keys usually work after 3-8 s; polling at most a second apart answers within a second of that.
 */
export const testRetryDelay = (attempt: number): number =>
  Math.min(1_000, 100 * 2 ** Math.max(0, attempt - 1));

/**
 * When attempt `attempt + 1` starts, counted from the first attempt, so the time each call
 * takes does not add up over the attempts.
 */
export const testAttemptOffset = (attempt: number): number => {
  let offset = 0;
  for (let previous = 1; previous <= attempt; previous += 1) offset += testRetryDelay(previous);
  return offset;
};

/** `arn:<partition>:iam::<account>:user/<path/><name>` split into account and user name. */
const parseUserArn = (arn: string): { account: string; userName: string } | undefined => {
  const match = /^arn:[\w-]+:iam::(\d{12}):user\/(?:.*\/)?([^/]+)$/.exec(arn);
  return match?.[1] === undefined || match[2] === undefined
    ? undefined
    : { account: match[1], userName: match[2] };
};

const accountOfArn = (arn: string): string | undefined => {
  const account = arn.split(':')[4];
  return account !== undefined && /^\d{12}$/.test(account) ? account : undefined;
};

/**
 * testSecret: sign STS GetCallerIdentity with the pending key until IAM accepts it or the
 * deadline passes, then check that it authenticates as the bound user.
 */
export const testSecret = async (context: StepContext): Promise<void> => {
  const credentials = await credentialsToTest(context);
  if (credentials !== undefined) await verifyCredentials(context, credentials);
};

/**
 * The pending key. A pending version without a value only occurs when Secrets Manager tests
 * the rotation configuration (RotateSecret with RotateImmediately=false runs testSecret
 * alone): then the AWSCURRENT key, if any, is what can be tested.
 */
const credentialsToTest = async (
  context: StepContext,
): Promise<AccessKeyCredentials | undefined> => {
  const token = context.event.ClientRequestToken;
  const pending = await readSecretValue(context, { versionId: token, versionStage: AWSPENDING });
  if (pending !== undefined) {
    if (pending.credentials === undefined) {
      throw new AccessKeyTestError(
        `testSecret: version ${token} (${AWSPENDING}) holds no access key; expected createSecret to have stored one`,
      );
    }
    return pending.credentials;
  }
  const current = await readSecretValue(context, { versionStage: AWSCURRENT });
  context.log.info(
    current?.credentials === undefined
      ? 'testSecret: AWSPENDING has no value and AWSCURRENT holds no key yet; nothing to test'
      : 'testSecret: AWSPENDING has no value (a configuration test); testing the AWSCURRENT key',
    { accessKeyId: current?.credentials?.accessKeyId },
  );
  return current?.credentials;
};

const verifyCredentials = async (
  context: StepContext,
  credentials: AccessKeyCredentials,
): Promise<void> => {
  const { services, log, userName, deadline } = context;
  const startedAt = services.clock.now();
  const session = services.sts.open(credentials);
  let identity: CallerIdentity;
  let attempt = 0;
  try {
    for (;;) {
      attempt += 1;
      try {
        identity = await session.getCallerIdentity();
        break;
      } catch (error) {
        const name = errorName(error) ?? 'unknown error';
        if (!isRetryable(error)) {
          throw new AccessKeyTestError(
            `testSecret: GetCallerIdentity signed with access key ${credentials.accessKeyId} failed with ${name}`,
            { cause: error },
          );
        }
        const nextAttemptAt = startedAt + testAttemptOffset(attempt);
        const delay = Math.max(0, nextAttemptAt - services.clock.now());
        if (nextAttemptAt > deadline) {
          throw new AccessKeyTestError(
            `testSecret: access key ${credentials.accessKeyId} was still rejected with ${name} after ${attempt} attempts over ${services.clock.now() - startedAt} ms; the deadline left no time for another attempt`,
            { cause: error },
          );
        }
        log.info('testSecret: the new access key is not accepted yet; retrying', {
          accessKeyId: credentials.accessKeyId,
          errorName: name,
          attempt,
          retryInMs: delay,
        });
        if (delay > 0) await services.clock.sleep(delay);
      }
    }
  } finally {
    session.close();
  }

  const caller = parseUserArn(identity.arn);
  const expectedAccount = accountOfArn(context.secret.arn);
  if (
    caller === undefined ||
    caller.userName !== userName ||
    (expectedAccount !== undefined && caller.account !== expectedAccount)
  ) {
    throw new AccessKeyTestError(
      `testSecret: access key ${credentials.accessKeyId} authenticates as ${identity.arn}, expected IAM user ${userName}${
        expectedAccount === undefined ? '' : ` in account ${expectedAccount}`
      }`,
    );
  }
  log.info('testSecret: the new access key authenticates as the bound user', {
    accessKeyId: credentials.accessKeyId,
    callerArn: identity.arn,
    attempts: attempt,
    waitedMs: services.clock.now() - startedAt,
  });
};
