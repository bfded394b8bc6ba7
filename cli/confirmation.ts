import { errorName } from '../lambda/aws/aws-error.js';
import type { AccessKeyStore, IamUserInfo } from '../lambda/aws/iam-access-key-store.js';
import type { SecretMetadata } from '../lambda/aws/secrets-manager-secret-store.js';
import { UserOwnershipError } from '../lambda/errors.js';
import { verifyOwnership } from '../lambda/rotation/ownership.js';
import type { CliIo, Confirm } from './dependencies.js';
import { CliError, UsageError } from './errors.js';
import { requireManagedSecret } from './secret-ref.js';

/**
 * Asks before a change, as gh does: on a terminal unless `--yes`. Without a terminal and without
 * `--yes` the command refuses with a usage error (exit 2): nothing is changed.
 *
 * @param action what is about to happen, e.g. `roll back iam-key-rotation/alice`
 * @param commandWithYes the command line to run instead, with `--yes`
 */
export const confirmChange = async (
  deps: { readonly io: CliIo; readonly confirm: Confirm },
  options: { readonly yes?: boolean },
  action: string,
  commandWithYes: string,
): Promise<void> => {
  if (options.yes === true) return;
  if (!deps.io.interactive) {
    throw new UsageError(
      `Refusing to ${action} without confirmation: standard input is not a terminal. Nothing was changed. Run again with --yes: ${commandWithYes}`,
    );
  }
  const upper = `${action[0]?.toUpperCase() ?? ''}${action.slice(1)}`;
  if (!(await deps.confirm(`${upper}?`))) {
    throw new CliError(`Not confirmed: did not ${action}. Nothing was changed.`);
  }
};

/**
 * The checks the rotation function makes before it touches a key: the secret is one of this
 * project's (its name `iam-key-rotation/<user>`, its binding tag, CloudFormation's stack-id tag:
 * checked first, before any IAM call) and the user's `iam-key-rotation:secret` tag names it.
 *
 * @throws CliError naming both secrets (or the missing tag); nothing is changed
 */
export const requireOwnership = async (
  iam: AccessKeyStore,
  secret: SecretMetadata,
  userName: string,
): Promise<IamUserInfo> => {
  const boundUser = requireManagedSecret(secret);
  if (boundUser !== userName) {
    throw new CliError(
      `Secret ${secret.arn} rotates IAM user ${boundUser} (its name and tag), not ${userName}; nothing was changed`,
    );
  }
  try {
    return await verifyOwnership(iam, secret, userName);
  } catch (error) {
    if (error instanceof UserOwnershipError) throw new CliError(error.message, 1, { cause: error });
    if (errorName(error) === 'NoSuchEntityException') {
      throw new CliError(
        `IAM user ${userName}, whom secret ${secret.arn} names in its tag, does not exist; nothing was changed`,
        1,
        { cause: error },
      );
    }
    throw error;
  }
};
