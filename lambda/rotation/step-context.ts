import type { Logger } from '@aws-lambda-powertools/logger';
import type { AccessKeyStore, IamUserInfo } from '../aws/iam-access-key-store.js';
import type {
  SecretMetadata,
  SecretStore,
  VersionSelector,
} from '../aws/secrets-manager-secret-store.js';
import type { CallerIdentityService } from '../aws/sts-caller-identity.js';
import { SecretBindingError } from '../errors.js';
import type { RotationEvent } from '../event.js';
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
}

const describeSelector = (selector: VersionSelector): string =>
  'versionId' in selector
    ? `${selector.versionId} (${selector.versionStage})`
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
