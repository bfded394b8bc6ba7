import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { AccessKeyCredentials } from '../rotation/access-key-credentials.js';

/** `Active | Inactive | Expired` today; kept open because IAM may add states. */
export type AccessKeyStatus = 'Active' | 'Inactive' | 'Expired' | (string & {});

export interface AccessKeyMetadata {
  readonly accessKeyId: string;
  readonly status: AccessKeyStatus;
  readonly createDate: Date;
}

export interface CreatedAccessKey {
  readonly credentials: AccessKeyCredentials;
  /**
   * True when the SDK sent CreateAccessKey more than once (it retries timeouts and 5xx): an
   * earlier attempt may have created a key whose answer, and secret, was lost.
   */
  readonly retried: boolean;
}

/** The IAM calls rotation makes. Every call names the user: never the signer's own identity. */
export interface AccessKeyStore {
  listAccessKeys(userName: string): Promise<AccessKeyMetadata[]>;
  createAccessKey(userName: string): Promise<CreatedAccessKey>;
  deactivateAccessKey(userName: string, accessKeyId: string): Promise<void>;
  deleteAccessKey(userName: string, accessKeyId: string): Promise<void>;
}

const requireUserName = (userName: string): string => {
  if (userName === '') {
    // CreateAccessKey without UserName would act on the caller's own identity.
    throw new Error('Refusing an IAM access key call without a UserName');
  }
  return userName;
};

export class IamAccessKeyStore implements AccessKeyStore {
  public constructor(private readonly client: IAMClient) {}

  public async listAccessKeys(userName: string): Promise<AccessKeyMetadata[]> {
    const keys: AccessKeyMetadata[] = [];
    let marker: string | undefined;
    do {
      const output = await this.client.send(
        new ListAccessKeysCommand({ UserName: requireUserName(userName), Marker: marker }),
      );
      for (const key of output.AccessKeyMetadata ?? []) {
        if (key.AccessKeyId === undefined) continue;
        keys.push({
          accessKeyId: key.AccessKeyId,
          status: key.Status ?? 'Inactive',
          createDate: key.CreateDate ?? new Date(0),
        });
      }
      marker = output.IsTruncated === true ? output.Marker : undefined;
    } while (marker !== undefined);
    return keys;
  }

  public async createAccessKey(userName: string): Promise<CreatedAccessKey> {
    const output = await this.client.send(
      new CreateAccessKeyCommand({ UserName: requireUserName(userName) }),
    );
    const key = output.AccessKey;
    if (key?.AccessKeyId === undefined || key.SecretAccessKey === undefined) {
      throw new Error(`CreateAccessKey for user ${userName} returned no access key`);
    }
    return {
      credentials: new AccessKeyCredentials(key.AccessKeyId, key.SecretAccessKey),
      // `$metadata` is set by the SDK's middleware; a mocked client may leave it out.
      retried: ((output.$metadata as { attempts?: number } | undefined)?.attempts ?? 1) > 1,
    };
  }

  public async deactivateAccessKey(userName: string, accessKeyId: string): Promise<void> {
    await this.client.send(
      new UpdateAccessKeyCommand({
        UserName: requireUserName(userName),
        AccessKeyId: accessKeyId,
        Status: 'Inactive',
      }),
    );
  }

  public async deleteAccessKey(userName: string, accessKeyId: string): Promise<void> {
    await this.client.send(
      new DeleteAccessKeyCommand({ UserName: requireUserName(userName), AccessKeyId: accessKeyId }),
    );
  }
}
