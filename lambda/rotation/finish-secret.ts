import { ignoreNoSuchEntity } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError } from '../errors.js';
import type { TokenVersionState } from './guard.js';
import { findCurrentVersionId } from './guard.js';
import { readPendingCredentials } from './pending-credentials.js';
import { readSecretValue, type StepContext } from './step-context.js';

/**
 * finishSecret: move AWSCURRENT to the token's version, then deactivate the previous key
 * (now AWSPREVIOUS, kept for rollback until the next rotation deletes it). A retry whose
 * token is already AWSCURRENT still completes the cleanup.
 */
export const finishSecret = async (
  context: StepContext,
  state: TokenVersionState,
): Promise<void> => {
  const { event, services, log, userName } = context;
  const token = event.ClientRequestToken;
  let newAccessKeyId: string | undefined;
  if (state === 'pending') {
    newAccessKeyId = (await readPendingCredentials(context)).accessKeyId;
    const currentVersionId = findCurrentVersionId(context.secret);
    await services.secrets.moveStage({
      secretId: event.SecretId,
      versionStage: AWSCURRENT,
      moveToVersionId: token,
      ...(currentVersionId === undefined ? {} : { removeFromVersionId: currentVersionId }),
    });
    log.info('finishSecret: moved AWSCURRENT to the new version', {
      accessKeyId: newAccessKeyId,
      previousVersionId: currentVersionId,
    });
  } else {
    const current = await readSecretValue(context, { versionId: token, versionStage: AWSCURRENT });
    newAccessKeyId = current?.credentials?.accessKeyId;
    if (newAccessKeyId === undefined) {
      throw new RotationStateError(
        `finishSecret: version ${token} is AWSCURRENT but holds no access key`,
      );
    }
  }

  const previous = await readSecretValue(context, { versionStage: AWSPREVIOUS });
  const previousAccessKeyId = previous?.credentials?.accessKeyId;
  if (previousAccessKeyId === undefined || previousAccessKeyId === newAccessKeyId) {
    log.info('finishSecret: no previous access key to deactivate');
    return;
  }
  const found = await ignoreNoSuchEntity(() =>
    services.iam.deactivateAccessKey(userName, previousAccessKeyId),
  );
  log.info(
    found
      ? 'finishSecret: deactivated the previous access key (AWSPREVIOUS)'
      : 'finishSecret: the previous access key no longer exists',
    { accessKeyId: previousAccessKeyId },
  );
};
