import { errorName } from '../lambda/aws/aws-error.js';
import { SecretBindingError } from '../lambda/errors.js';
import { resolveBoundUser } from '../lambda/rotation/guard.js';
import type { OperatorSecretStore, SecretDescription } from './aws/operator-secret-store.js';
import { CliError } from './errors.js';
import { describeFailure } from './failure.js';

/** Every secret of the stack is named `iam-key-rotation/<user name>` (lib/ names them so). */
export const SECRET_NAME_PREFIX = 'iam-key-rotation/';

/** A user name as IAM allows it: 1-64 characters of `[\w+=,.@-]`. */
const USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/**
 * The secret ids a reference may mean, in the order they are tried: an ARN or a name with a `/`
 * as given; a bare word as a user name (`alice` -> `iam-key-rotation/alice`), then as a secret
 * name.
 */
export const candidateSecretIds = (reference: string): string[] =>
  reference.startsWith('arn:') || reference.includes('/') || !USER_NAME_PATTERN.test(reference)
    ? [reference]
    : [`${SECRET_NAME_PREFIX}${reference}`, reference];

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

export const notFoundMessage = (reference: string): string => {
  const candidates = candidateSecretIds(reference);
  return `No secret ${candidates.join(' or ')} was found (named by ${
    candidates.length > 1 ? 'user name or secret name' : 'secret name or ARN'
  }, in the region the AWS SDK uses). List the managed secrets with: iam-key-rotation status`;
};

/**
 * Describes the secret `reference` names and checks that it is a secret of iam-key-rotation (it
 * carries the tag `iam-key-rotation:user`).
 *
 * @throws CliError naming what was tried and the next command to run
 */
export const describeManagedSecret = async (
  secrets: OperatorSecretStore,
  reference: string,
): Promise<ManagedSecret> => {
  for (const secretId of candidateSecretIds(reference)) {
    let description: SecretDescription;
    try {
      description = await secrets.describe(secretId);
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') continue;
      throw new CliError(`Cannot describe secret ${secretId}: ${describeFailure(error)}`, 1, {
        cause: error,
      });
    }
    try {
      const userName = resolveBoundUser(description);
      return { description, userName, reference: referenceOf(description, userName) };
    } catch (error) {
      if (!(error instanceof SecretBindingError)) throw error;
      throw new CliError(
        `${error.message}. It is not a secret that iam-key-rotation rotates; list those with: iam-key-rotation status`,
      );
    }
  }
  throw new CliError(notFoundMessage(reference));
};
