import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  GetUserCommand,
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

/** An IAM user as GetUser returns it: its ARN (path included) and its tags. */
export interface IamUserInfo {
  readonly userName: string;
  readonly arn: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * When a key last signed a request, as GetAccessKeyLastUsed reports it (IAM records this with a
 * delay of hours). `lastUsedDate` is absent for a key that never signed anything.
 */
export interface AccessKeyLastUse {
  readonly accessKeyId: string;
  readonly lastUsedDate?: Date;
  /** e.g. `s3`; absent when never used ("N/A"). */
  readonly serviceName?: string;
  /** e.g. `eu-west-1`; absent when never used ("N/A"). */
  readonly region?: string;
}

/** The IAM calls rotation makes. Every call names the user: never the signer's own identity. */
export interface AccessKeyStore {
  /** The user with its tags (NoSuchEntity when it does not exist). */
  getUser(userName: string): Promise<IamUserInfo>;
  /** When the user's key last signed a request. */
  getAccessKeyLastUsed(userName: string, accessKeyId: string): Promise<AccessKeyLastUse>;
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

const notApplicable = (value: string | undefined): string | undefined =>
  value === undefined || value === '' || value === 'N/A' ? undefined : value;

export class IamAccessKeyStore implements AccessKeyStore {
  public constructor(private readonly client: IAMClient) {}

  public async getUser(userName: string): Promise<IamUserInfo> {
    const output = await this.client.send(
      new GetUserCommand({ UserName: requireUserName(userName) }),
    );
    const user = output.User;
    if (user?.Arn === undefined) {
      throw new Error(`GetUser for user ${userName} returned no user`);
    }
    const tags: Record<string, string> = {};
    for (const tag of user.Tags ?? []) {
      if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
    }
    return { userName: user.UserName ?? userName, arn: user.Arn, tags };
  }

  public async getAccessKeyLastUsed(
    userName: string,
    accessKeyId: string,
  ): Promise<AccessKeyLastUse> {
    // The API takes the key id alone; the answer names the key's owner, which must be the user
    // whose keys are being weighed (a key of anyone else is never decided on).
    requireUserName(userName);
    const output = await this.client.send(
      new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }),
    );
    if (output.UserName !== undefined && output.UserName !== userName) {
      throw new Error(
        `GetAccessKeyLastUsed says access key ${accessKeyId} belongs to ${output.UserName}, expected ${userName}`,
      );
    }
    const lastUsed = output.AccessKeyLastUsed;
    const serviceName = notApplicable(lastUsed?.ServiceName);
    const region = notApplicable(lastUsed?.Region);
    return {
      accessKeyId,
      ...(lastUsed?.LastUsedDate === undefined ? {} : { lastUsedDate: lastUsed.LastUsedDate }),
      ...(serviceName === undefined ? {} : { serviceName }),
      ...(region === undefined ? {} : { region }),
    };
  }

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
      marker = output.IsTruncated === true && output.Marker !== '' ? output.Marker : undefined;
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
