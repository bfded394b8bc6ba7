import { errorName } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import type { CallerIdentity } from '../aws/sts-caller-identity.js';
import { AccessKeyTestError } from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { giveUpRotation } from './give-up.js';
import { giveWayIfOvertaken } from './pending-credentials.js';
import { findAccessKey } from './access-key-lookup.js';
import type { SesSmtpCredentials } from './ses-smtp-credentials.js';
import { parseSesSmtpSettings } from './ses-smtp-settings.js';
import { proveSesSmtpLogins } from './ses-smtp-test.js';
import { TESTED_STAGE } from './binding.js';
import { provenVersionId } from './proven-version.js';
import { readSecretValue, type StepContext } from './step-context.js';
import { testAttemptOffset } from './test-attempts.js';

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

export const isRetryableTestError = (error: unknown): boolean => {
  const name = errorName(error);
  if (name !== undefined && RETRYABLE_ERRORS.has(name)) return true;
  const fault = (error as { $fault?: unknown } | null)?.$fault;
  return fault === 'server';
};

/**
 * After this long of rejections (longer than any propagation delay seen, 15 s), testSecret
 * checks once whether the pending key still exists and is Active, and gives the rotation up at
 * once if not, instead of polling a key that can never work until the deadline.
 */
export const KEY_STATE_CHECK_AFTER_MS = 15_000;

const accountOfArn = (arn: string): string | undefined => {
  const account = arn.split(':')[4];
  return account !== undefined && /^\d{12}$/.test(account) ? account : undefined;
};

/** The key under test: the pending one, or (a configuration test) the AWSCURRENT one. */
interface TestSubject {
  readonly credentials: AccessKeyCredentials;
  /** True for the pending key of a rotation; false when the AWSCURRENT key is tested. */
  readonly pending: boolean;
  /** The SES SMTP credentials stored beside the key, if any. */
  readonly smtp?: SesSmtpCredentials;
}

/**
 * testSecret: sign STS GetCallerIdentity with the pending key until IAM accepts it or the
 * deadline passes, then check that it authenticates as the bound user of this account. Every
 * attempt is a single request with a timeout, started only when it can end before the deadline,
 * so the step always fails by itself. A pending key that signs as someone else, or that was
 * deleted or deactivated, can never become current: the rotation is given up. Only a key that
 * is still propagating keeps AWSPENDING for Secrets Manager's retry. When the secret's tag
 * `iam-key-rotation:ses-smtp-test` is "true", the key must then also log in to the SES SMTP
 * endpoint of each of its regions, within the same deadline (ses-smtp-test.ts).
 *
 * Once the pending key of a rotation is proven, the step moves the staging label
 * IAM_KEY_ROTATION_TESTED onto the token's version: finishSecret promotes only a version that
 * carries it (see {@link markProven}). A configuration test (no pending key) never moves it.
 */
export const testSecret = async (context: StepContext): Promise<void> => {
  // Validated before anything is read: a bad tag stops the step here.
  const smtpSettings = parseSesSmtpSettings(context.secret);
  const subject = await keyToTest(context);
  if (subject === undefined) return;
  const outcome = await authenticate(context, subject);
  if (outcome.kind === 'authenticated') {
    await verifyIdentity(context, subject, outcome.identity, outcome);
    if (smtpSettings?.test === true) {
      await proveSesSmtpLogins(context, subject.credentials, subject.smtp, smtpSettings.regions);
    }
    if (subject.pending) await markProven(context);
    return;
  }
  const { credentials } = subject;
  if (subject.pending) {
    await giveUpUnlessUsable(context, credentials);
    if (outcome.lastError === 'SignatureDoesNotMatch') {
      return giveUpRotation(
        context,
        { accessKeyId: credentials.accessKeyId },
        `access key ${credentials.accessKeyId} exists and is Active, but STS rejected every signature made with the secret access key stored in ${AWSPENDING} for ${outcome.waitedMs} ms (SignatureDoesNotMatch): the stored secret does not belong to the key`,
      );
    }
  }
  throw new AccessKeyTestError(
    `testSecret: access key ${credentials.accessKeyId} was still rejected with ${outcome.lastError} after ${outcome.attempts} attempts over ${outcome.waitedMs} ms; the deadline left no time for another attempt (each may take ${context.services.sts.attemptTimeoutMs} ms). ${AWSPENDING} is kept: IAM may still be propagating the key, and Secrets Manager retries the rotation`,
  );
};

/**
 * Moves the staging label IAM_KEY_ROTATION_TESTED onto the token's version, taking it from the
 * version that carries it now (RemoveFromVersionId, as Secrets Manager requires for a label
 * attached elsewhere). Nothing to do when the version carries it already, so the step can run
 * any number of times; a move that loses a race (another version labelled meanwhile) fails, and
 * the step is retried.
 */
const markProven = async (context: StepContext): Promise<void> => {
  const token = context.event.ClientRequestToken;
  const holder = provenVersionId(context.secret);
  if (holder === token) return;
  await context.services.secrets.moveStage({
    secretId: context.event.SecretId,
    versionStage: TESTED_STAGE,
    moveToVersionId: token,
    ...(holder === undefined ? {} : { removeFromVersionId: holder }),
  });
  context.log.info(`testSecret: marked the version ${TESTED_STAGE}; finishSecret may promote it`, {
    previousVersionId: holder,
  });
};

/**
 * The pending key. A pending version without a key only occurs when Secrets Manager tests
 * the rotation configuration (RotateSecret with RotateImmediately=false runs testSecret alone,
 * on a version that holds nothing, a copy of AWSCURRENT, or `{"UserName"}` of a secret that
 * never rotated): then the AWSCURRENT key, if any, is what can be tested.
 */
const keyToTest = async (context: StepContext): Promise<TestSubject | undefined> => {
  const token = context.event.ClientRequestToken;
  const pending = await readSecretValue(context, { versionId: token, versionStage: AWSPENDING });
  if (pending?.credentials !== undefined) {
    // A copy of AWSCURRENT (an emulator's configuration test) is tested as the current key.
    const copy = (await giveWayIfOvertaken(context, pending)) === 'copy of current';
    return { credentials: pending.credentials, pending: !copy, smtp: pending.smtp };
  }
  const current = await readSecretValue(context, { versionStage: AWSCURRENT });
  context.log.info(
    current?.credentials === undefined
      ? `testSecret: ${AWSPENDING} holds no access key and ${AWSCURRENT} holds none yet; nothing to test`
      : `testSecret: ${AWSPENDING} holds no access key (a configuration test); testing the ${AWSCURRENT} key`,
    { accessKeyId: current?.credentials?.accessKeyId },
  );
  return current?.credentials === undefined
    ? undefined
    : { credentials: current.credentials, pending: false, smtp: current.smtp };
};

type AuthenticationOutcome =
  | {
      readonly kind: 'authenticated';
      readonly identity: CallerIdentity;
      readonly attempts: number;
      readonly waitedMs: number;
    }
  | {
      readonly kind: 'rejected';
      readonly lastError: string;
      readonly attempts: number;
      readonly waitedMs: number;
    };

const authenticate = async (
  context: StepContext,
  subject: TestSubject,
): Promise<AuthenticationOutcome> => {
  const { services, log, deadline } = context;
  const { credentials } = subject;
  const { attemptTimeoutMs } = services.sts;
  const startedAt = services.clock.now();
  const waited = (): number => services.clock.now() - startedAt;
  const session = services.sts.open(credentials);
  let lastError = 'no attempt';
  let keyStateChecked = false;
  let attempts = 0;
  try {
    for (let attempt = 1; ; attempt += 1) {
      if (services.clock.now() + attemptTimeoutMs > deadline) {
        return { kind: 'rejected', lastError, attempts: attempt - 1, waitedMs: waited() };
      }
      attempts = attempt;
      try {
        const identity = await session.getCallerIdentity();
        return { kind: 'authenticated', identity, attempts: attempt, waitedMs: waited() };
      } catch (error) {
        lastError = errorName(error) ?? 'unknown error';
        if (!isRetryableTestError(error)) {
          throw new AccessKeyTestError(
            `testSecret: GetCallerIdentity signed with access key ${credentials.accessKeyId} failed with ${lastError}`,
            { cause: error },
          );
        }
      }
      if (subject.pending && !keyStateChecked && waited() >= KEY_STATE_CHECK_AFTER_MS) {
        keyStateChecked = true;
        await giveUpUnlessUsable(context, credentials);
      }
      const nextAttemptAt = Math.max(startedAt + testAttemptOffset(attempt), services.clock.now());
      if (nextAttemptAt + attemptTimeoutMs > deadline) {
        return { kind: 'rejected', lastError, attempts: attempt, waitedMs: waited() };
      }
      const delay = nextAttemptAt - services.clock.now();
      log.info('testSecret: the new access key is not accepted yet; retrying', {
        accessKeyId: credentials.accessKeyId,
        errorName: lastError,
        attempt,
        retryInMs: delay,
      });
      if (delay > 0) await services.clock.sleep(delay);
    }
  } finally {
    session.close();
    context.measurements.stsTest = { attempts, waitedMs: waited() };
  }
};

/** Gives the rotation up when the pending key no longer exists or is not Active. */
const giveUpUnlessUsable = async (
  context: StepContext,
  credentials: AccessKeyCredentials,
): Promise<void> => {
  const { key } = await findAccessKey(context, credentials.accessKeyId);
  if (key === undefined) {
    await giveUpRotation(
      context,
      undefined,
      `access key ${credentials.accessKeyId} stored in ${AWSPENDING} no longer exists for IAM user ${context.userName}`,
    );
  } else if (key.status !== 'Active') {
    await giveUpRotation(
      context,
      key,
      `access key ${credentials.accessKeyId} of IAM user ${context.userName} is ${key.status}, expected Active (deactivated by hand?)`,
    );
  }
};

const verifyIdentity = async (
  context: StepContext,
  subject: TestSubject,
  identity: CallerIdentity,
  outcome: { readonly attempts: number; readonly waitedMs: number },
): Promise<void> => {
  const { credentials } = subject;
  const expectedAccount = accountOfArn(context.secret.arn);
  const sameUser = identity.arn === context.user.arn;
  const sameAccount = expectedAccount === undefined || identity.account === expectedAccount;
  if (!sameUser || !sameAccount) {
    const why = `access key ${credentials.accessKeyId} authenticates as ${identity.arn} (account ${identity.account}), expected IAM user ${context.user.arn}${
      expectedAccount === undefined ? '' : ` in account ${expectedAccount}`
    }`;
    // A pending key that is not this user's can never become current. The AWSCURRENT key of a
    // configuration test is reported only: it is never touched here.
    if (subject.pending)
      await giveUpRotation(context, { accessKeyId: credentials.accessKeyId }, why);
    throw new AccessKeyTestError(`testSecret: ${why}`);
  }
  context.log.info('testSecret: the access key authenticates as the bound user', {
    accessKeyId: credentials.accessKeyId,
    callerArn: identity.arn,
    attempts: outcome.attempts,
    waitedMs: outcome.waitedMs,
  });
};
