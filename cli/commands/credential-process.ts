import { AWSCURRENT, type SecretStore } from '../../lambda/aws/secrets-manager-secret-store.js';
import { InvalidSecretValueError } from '../../lambda/errors.js';
import { parseSecretValue } from '../../lambda/rotation/secret-value.js';
import type { CliIo } from '../dependencies.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { candidateSecretIds, notFoundMessage } from '../secret-ref.js';

export interface CredentialProcessDependencies {
  readonly secrets: SecretStore;
  readonly io: Pick<CliIo, 'stdout'>;
}

/**
 * `iam-key-rotation credential-process <secret>`: the AWSCURRENT key in the format of the AWS
 * SDKs' and CLI's `credential_process` (`{"Version":1,"AccessKeyId","SecretAccessKey"}`), on
 * stdout, with nothing on stderr. The only command that prints a secret. No `Expiration`: the
 * key does not expire; after a rotation a reader gets the new key by running the process again.
 */
export const runCredentialProcess = async (
  deps: CredentialProcessDependencies,
  options: { readonly secret: string },
): Promise<ExitCode> => {
  for (const secretId of candidateSecretIds(options.secret)) {
    let secretString: string | undefined;
    try {
      secretString = await deps.secrets.getSecretString(secretId, { versionStage: AWSCURRENT });
    } catch (error) {
      throw new CliError(
        `Cannot read ${AWSCURRENT} of secret ${secretId}: ${describeFailure(error)}`,
        1,
        {
          cause: error,
        },
      );
    }
    if (secretString === undefined) continue;
    let credentials;
    try {
      credentials = parseSecretValue(secretString, { secretId, version: AWSCURRENT }).credentials;
    } catch (error) {
      if (error instanceof InvalidSecretValueError) throw new CliError(error.message);
      throw error;
    }
    if (credentials === undefined) {
      throw new CliError(
        `Secret ${secretId} holds no access key yet ({"UserName"} only): its first rotation has not run or failed. See why: iam-key-rotation status ${options.secret}. Run it and watch: iam-key-rotation rotate ${options.secret} --wait`,
      );
    }
    const { AccessKeyId, SecretAccessKey } = credentials.toSecretFields();
    deps.io.stdout(`${JSON.stringify({ Version: 1, AccessKeyId, SecretAccessKey })}\n`);
    return EXIT_OK;
  }
  throw new CliError(notFoundMessage(options.secret));
};
