import type { Logger } from '@aws-lambda-powertools/logger';
import type { AccessKeyStore, IamUserInfo } from '../aws/iam-access-key-store.js';
import {
  AWSPREVIOUS,
  type SecretMetadata,
  type SecretStore,
  type VersionSelector,
} from '../aws/secrets-manager-secret-store.js';
import type { RetirementScheduler } from '../aws/scheduler-retirement-schedules.js';
import type { SmtpLoginService } from '../aws/ses-smtp-login.js';
import type { CallerIdentityService } from '../aws/sts-caller-identity.js';
import { InvalidSecretValueError, SecretBindingError } from '../errors.js';
import type { RotationEvent } from '../event.js';
import type { InvocationMeasurements } from '../invocation-metrics.js';
import type { RotationSettings } from '../settings.js';
import { parseSecretValue, type AccessKeySecretValue } from './secret-value.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

/** What the four steps need from the outside world. */
export interface RotationServices {
  readonly secrets: SecretStore;
  readonly iam: AccessKeyStore;
  readonly sts: CallerIdentityService;
  /** SES SMTP logins, for testSecret when the secret's tags ask for the SMTP test. */
  readonly smtp: SmtpLoginService;
  /** The grace period's one-time schedules (EventBridge Scheduler). */
  readonly scheduler: RetirementScheduler;
  readonly clock: Clock;
}

export interface StepContext {
  readonly event: RotationEvent;
  readonly secret: SecretMetadata;
  /** The IAM user bound to the secret by its tag. Every IAM call names this user. */
  readonly userName: string;
  /** That user as GetUser returned it, its ownership tag checked against this secret. */
  readonly user: IamUserInfo;
  readonly settings: RotationSettings;
  readonly services: RotationServices;
  readonly log: Logger;
  /** Epoch milliseconds by which the step must have finished its waiting. */
  readonly deadline: number;
  /** The function's own ARN (the Lambda context's invokedFunctionArn), if known. */
  readonly functionArn: string | undefined;
  /** What the invocation measured, published as metrics when it ends. */
  readonly measurements: InvocationMeasurements;
}

const describeSelector = (selector: VersionSelector): string =>
  'versionId' in selector
    ? `${selector.versionId} (${selector.versionStage ?? 'by id'})`
    : selector.versionStage;

/**
 * Reads and validates one version of the secret, or `undefined` when that version holds no
 * value. A value that names a user other than the bound one is an error.
 */
export const readSecretValue = async (
  context: StepContext,
  selector: VersionSelector,
): Promise<AccessKeySecretValue | undefined> => {
  const secretString = await context.services.secrets.getSecretString(
    context.event.SecretId,
    selector,
  );
  if (secretString === undefined) return undefined;
  const value = parseSecretValue(secretString, {
    secretId: context.secret.arn,
    version: describeSelector(selector),
  });
  if (value.userName !== context.userName) {
    throw new SecretBindingError(
      `Secret ${context.secret.arn} version ${describeSelector(selector)} names UserName ${value.userName}, but the secret is bound to IAM user ${context.userName}`,
    );
  }
  return value;
};

/**
 * The AccessKeyId stored in AWSPREVIOUS, or undefined when it holds none. A value that cannot
 * be parsed (or names another user) counts as none, with a warning that says what follows
 * (`consequence`); it never stops the step. A failed call propagates, so the step is retried.
 */
export const readPreviousAccessKeyId = async (
  context: StepContext,
  consequence: string,
): Promise<string | undefined> => {
  try {
    return (await readSecretValue(context, { versionStage: AWSPREVIOUS }))?.credentials
      ?.accessKeyId;
  } catch (error) {
    if (!(error instanceof InvalidSecretValueError || error instanceof SecretBindingError)) {
      throw error;
    }
    context.log.warn(
      `${context.event.Step}: ${AWSPREVIOUS} holds no readable key; ${consequence}`,
      { error: error.message },
    );
    return undefined;
  }
};
