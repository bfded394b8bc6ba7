import { errorName } from '../lambda/aws/aws-error.js';
import { SecretBindingError } from '../lambda/errors.js';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  SECRET_NAME_PREFIX,
} from '../lambda/rotation/binding.js';
import { resolveBoundUser } from '../lambda/rotation/guard.js';
import type { SecretMetadata } from '../lambda/aws/secrets-manager-secret-store.js';
import type { OperatorSecretStore, SecretDescription } from './aws/operator-secret-store.js';
import { CliError } from './errors.js';
import { describeFailure } from './failure.js';
import { describeWhere, type Whereabouts } from './whereabouts.js';

export { SECRET_NAME_PREFIX };

/** A user name as IAM allows it: 1-64 characters of `[\w+=,.@-]`. */
const USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/**
 * The secret id a reference means: an ARN or a name with a `/` as given; a bare word is a user
 * name (`alice` -> `iam-key-rotation/alice`), the only name a secret of this project can have.
 */
export const secretIdOf = (reference: string): string =>
  reference.startsWith('arn:') || reference.includes('/') || !USER_NAME_PATTERN.test(reference)
    ? reference
    : `${SECRET_NAME_PREFIX}${reference}`;

/**
 * The shortest way to name the secret to this command: the user name when the secret has the
 * stack's name for it, else the secret's name.
 */
export const referenceOf = (secret: { readonly name: string }, userName?: string): string =>
  userName !== undefined && secret.name === `${SECRET_NAME_PREFIX}${userName}`
    ? userName
    : secret.name;

/** A secret of iam-key-rotation, described, and the IAM user its tag binds it to. */
export interface ManagedSecret {
  readonly description: SecretDescription;
  readonly userName: string;
  /** How to name it in the next command to run. */
  readonly reference: string;
}

/** Why a secret is not one that this project manages; thrown by {@link requireManagedSecret}. */
export class UnmanagedSecretError extends CliError {
  public override name = 'UnmanagedSecretError';
}

/**
 * The checks that make a secret one of this project's, all on DescribeSecret's answer (no
 * GetSecretValue, no IAM call):
 * - its tag `iam-key-rotation:user` names an IAM user;
 * - its name is `iam-key-rotation/<that user>` (names are immutable: the deployment fixed it);
 * - it carries CloudFormation's `aws:cloudformation:stack-id` tag, which no principal can set
 *   (AWS reserves the `aws:` prefix): a stack created it, not someone who copied its tags.
 *
 * @returns the user the secret rotates
 * @throws UnmanagedSecretError with a one-line reason naming the secret and what was expected
 */
export const requireManagedSecret = (secret: SecretMetadata): string => {
  let userName: string;
  try {
    userName = resolveBoundUser(secret);
  } catch (error) {
    if (!(error instanceof SecretBindingError)) throw error;
    throw new UnmanagedSecretError(`${error.message}. It is not a secret of iam-key-rotation`, 1, {
      cause: error,
    });
  }
  const expectedName = `${SECRET_NAME_PREFIX}${userName}`;
  if (secret.name !== expectedName) {
    throw new UnmanagedSecretError(
      `Secret ${secret.arn} is named ${secret.name}, but its tag ${BINDING_TAG_KEY} names IAM user ${userName}, whose secret is named ${expectedName}; it is not a secret of iam-key-rotation`,
    );
  }
  if (secret.tags[CLOUDFORMATION_STACK_ID_TAG_KEY] === undefined) {
    throw new UnmanagedSecretError(
      `Secret ${secret.arn} has no tag ${CLOUDFORMATION_STACK_ID_TAG_KEY}: no CloudFormation stack created it (a secret that only copies the stack's tags), so neither the rotation function nor this command acts on it. The stack creates its secrets: deploy it`,
    );
  }
  return userName;
};

/** No secret has the id a reference means. */
export class SecretNotFoundError extends CliError {
  public override name = 'SecretNotFoundError';
}

/** The message for a reference that names no secret, saying where it was looked for. */
export const notFoundMessage = (reference: string, where: Whereabouts): string => {
  const secretId = secretIdOf(reference);
  return `No secret ${secretId} was found in ${describeWhere(where)} (a secret is named by its user name, its name or its ARN). Check --region and --profile, or list the managed secrets with: iam-key-rotation status`;
};

/**
 * Describes the secret `reference` names and checks that it is a secret of iam-key-rotation
 * ({@link requireManagedSecret}).
 *
 * @throws CliError naming what was tried, where, and the next command to run
 */
export const describeManagedSecret = async (
  secrets: OperatorSecretStore,
  reference: string,
): Promise<ManagedSecret> => {
  const whereabouts = (): Promise<Whereabouts> => secrets.whereabouts();
  const secretId = secretIdOf(reference);
  let description: SecretDescription;
  try {
    description = await secrets.describe(secretId);
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') {
      throw new SecretNotFoundError(notFoundMessage(reference, await whereabouts()), 1, {
        cause: error,
      });
    }
    throw new CliError(
      `Cannot describe secret ${secretId} in ${describeWhere(await whereabouts())}: ${describeFailure(error)}`,
      1,
      { cause: error },
    );
  }
  const userName = requireManagedSecret(description);
  return { description, userName, reference: referenceOf(description, userName) };
};
