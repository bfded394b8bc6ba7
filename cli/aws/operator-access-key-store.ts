import { UpdateAccessKeyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamAccessKeyStore, type AccessKeyStore } from '../../lambda/aws/iam-access-key-store.js';

/** What the operator command does with IAM, beyond the rotation function's calls. */
export interface OperatorAccessKeyStore extends AccessKeyStore {
  /** UpdateAccessKey to Active (a rollback reactivates the AWSPREVIOUS key). */
  activateAccessKey(userName: string, accessKeyId: string): Promise<void>;
}

/**
 * The rotation function's IAM adapter (lambda/aws), extended with the one call only an operator
 * makes. Every call names the user, as the function's do.
 */
export class IamOperatorAccessKeyStore extends IamAccessKeyStore implements OperatorAccessKeyStore {
  public constructor(private readonly iamClient: IAMClient) {
    super(iamClient);
  }

  public async activateAccessKey(userName: string, accessKeyId: string): Promise<void> {
    if (userName === '') throw new Error('Refusing an IAM access key call without a UserName');
    await this.iamClient.send(
      new UpdateAccessKeyCommand({
        UserName: userName,
        AccessKeyId: accessKeyId,
        Status: 'Active',
      }),
    );
  }
}
