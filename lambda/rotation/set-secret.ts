import { AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import { giveUpRotation } from './give-up.js';
import { findAccessKey } from './access-key-lookup.js';
import { giveWayIfOvertaken, readPendingKey } from './pending-credentials.js';
import type { StepContext } from './step-context.js';

/**
 * setSecret: an IAM access key is live as soon as it exists, so there is nothing to set;
 * check that the pending key exists for the bound user and is Active. A key deleted or
 * deactivated since createSecret can never become current: the rotation is given up.
 */
export const setSecret = async (context: StepContext): Promise<void> => {
  const { log, userName } = context;
  const pending = await readPendingKey(context);
  await giveWayIfOvertaken(context, pending);
  const { credentials } = pending;
  const { key } = await findAccessKey(context, credentials.accessKeyId);
  if (key === undefined) {
    return giveUpRotation(
      context,
      undefined,
      `access key ${credentials.accessKeyId} stored in ${AWSPENDING} no longer exists for IAM user ${userName}`,
    );
  }
  if (key.status !== 'Active') {
    return giveUpRotation(
      context,
      key,
      `access key ${credentials.accessKeyId} of IAM user ${userName} is ${key.status}, expected Active (deactivated by hand?)`,
    );
  }
  log.info('setSecret: the pending access key exists and is Active', {
    accessKeyId: credentials.accessKeyId,
  });
};
