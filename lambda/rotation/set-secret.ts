import { PendingAccessKeyError } from '../errors.js';
import { readPendingCredentials } from './pending-credentials.js';
import type { StepContext } from './step-context.js';

/**
 * setSecret: an IAM access key is live as soon as it exists, so there is nothing to set;
 * check that the pending key exists for the bound user and is Active.
 */
export const setSecret = async (context: StepContext): Promise<void> => {
  const { services, log, userName } = context;
  const credentials = await readPendingCredentials(context);
  const keys = await services.iam.listAccessKeys(userName);
  const key = keys.find((candidate) => candidate.accessKeyId === credentials.accessKeyId);
  if (key === undefined) {
    throw new PendingAccessKeyError(
      `setSecret: access key ${credentials.accessKeyId} from AWSPENDING does not exist for IAM user ${userName}; found [${keys.map((k) => k.accessKeyId).join(', ')}]`,
    );
  }
  if (key.status !== 'Active') {
    throw new PendingAccessKeyError(
      `setSecret: access key ${credentials.accessKeyId} of IAM user ${userName} is ${key.status}, expected Active`,
    );
  }
  log.info('setSecret: the pending access key exists and is Active', {
    accessKeyId: credentials.accessKeyId,
  });
};
