import { AwsServiceError } from './errors.js';
import type { IamModel } from './iam.js';
import type { Principal } from './principals.js';
import type { XmlObject } from './wire.js';

/** The STS operations the simulation serves (AWS query protocol): GetCallerIdentity. */
export const executeSts = (
  iam: IamModel,
  accountId: string,
  action: string,
  caller: Principal,
): XmlObject => {
  if (action !== 'GetCallerIdentity') {
    throw new AwsServiceError('InvalidAction', `The simulation does not implement STS ${action}`);
  }
  if (caller.kind === 'user') {
    const user = iam.getUser(caller.userName);
    return { UserId: user.userId, Account: accountId, Arn: user.arn };
  }
  return { UserId: `${caller.userId}:session`, Account: accountId, Arn: caller.arn };
};
