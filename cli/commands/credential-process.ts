import { AWSCURRENT } from '../../lambda/aws/secrets-manager-secret-store.js';
import { InvalidSecretValueError } from '../../lambda/errors.js';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import { parseSecretValue } from '../../lambda/rotation/secret-value.js';
import type { OperatorSecretStore } from '../aws/operator-secret-store.js';
import type { CliIo } from '../dependencies.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { describeManagedSecret } from '../secret-ref.js';
import { describeWhere } from '../whereabouts.js';

export interface CredentialProcessDependencies {
  readonly secrets: OperatorSecretStore;
  readonly io: Pick<CliIo, 'stdout'>;
}

/**
 * `iam-key-rotation credential-process <secret>`: the AWSCURRENT key in the format of the AWS
 * SDKs' and CLI's `credential_process` (`{"Version":1,"AccessKeyId","SecretAccessKey"}`), on
 * stdout, with nothing on stderr. The only command that prints a secret, and only from a secret
 * this project manages: DescribeSecret first ({@link describeManagedSecret}: the name
 * `iam-key-rotation/<user>`, the binding tag, CloudFormation's stack-id tag), then the value,
 * whose `UserName` must be that user. Otherwise it fails (exit 1) with nothing on stdout. No
 * `Expiration`: the key does not expire; after a rotation a reader gets the new key by running
 * the process again.
 */
export const runCredentialProcess = async (
  deps: CredentialProcessDependencies,
  options: { readonly secret: string },
): Promise<ExitCode> => {
  const {
    description: secret,
    userName,
    reference,
  } = await describeManagedSecret(deps.secrets, options.secret);
  let secretString: string | undefined;
  try {
    secretString = await deps.secrets.getSecretString(secret.arn, { versionStage: AWSCURRENT });
  } catch (error) {
    throw new CliError(
      `Cannot read ${AWSCURRENT} of secret ${secret.arn} in ${describeWhere(await deps.secrets.whereabouts())}: ${describeFailure(error)}`,
      1,
      { cause: error },
    );
  }
  if (secretString === undefined) {
    throw new CliError(`Secret ${secret.arn} has no ${AWSCURRENT} value`);
  }
  let value;
  try {
    value = parseSecretValue(secretString, { secretId: secret.arn, version: AWSCURRENT });
  } catch (error) {
    if (error instanceof InvalidSecretValueError) throw new CliError(error.message);
    throw error;
  }
  if (value.userName !== userName) {
    throw new CliError(
      `Secret ${secret.arn} ${AWSCURRENT} names IAM user ${value.userName} in its UserName, but the secret's name and tag ${BINDING_TAG_KEY} bind it to ${userName}; refusing to hand out its key`,
    );
  }
  const credentials = value.credentials;
  if (credentials === undefined) {
    throw new CliError(
      `Secret ${secret.name} holds no access key yet ({"UserName"} only): its first rotation has not run or failed. See why: iam-key-rotation status ${reference}. Run it and watch: iam-key-rotation rotate ${reference} --wait`,
    );
  }
  const { AccessKeyId, SecretAccessKey } = credentials.toSecretFields();
  deps.io.stdout(`${JSON.stringify({ Version: 1, AccessKeyId, SecretAccessKey })}\n`);
  return EXIT_OK;
};
