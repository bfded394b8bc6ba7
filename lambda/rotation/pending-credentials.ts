import { AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError } from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { readSecretValue, type StepContext } from './step-context.js';

/** The key stored in the token's AWSPENDING version; createSecret must have run. */
export const readPendingCredentials = async (
  context: StepContext,
): Promise<AccessKeyCredentials> => {
  const token = context.event.ClientRequestToken;
  const pending = await readSecretValue(context, { versionId: token, versionStage: AWSPENDING });
  if (pending?.credentials === undefined) {
    throw new RotationStateError(
      `Secret ${context.secret.arn} version ${token} (${AWSPENDING}) holds no access key; expected createSecret to have stored one`,
    );
  }
  return pending.credentials;
};
