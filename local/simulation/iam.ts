import type { Clock } from './clock.js';
import { AwsServiceError } from './errors.js';
import type { Principal } from './principals.js';
import type { SeededRandom } from './random.js';

export type AccessKeyStatus = 'Active' | 'Inactive' | 'Expired';

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

export interface IamUser {
  readonly userName: string;
  readonly userId: string;
  readonly arn: string;
  readonly path: string;
  readonly createDate: number;
  readonly tags: readonly Tag[];
}

export interface AccessKeyLastUsed {
  readonly date: number;
  readonly serviceName: string;
  readonly region: string;
}

/** An access key as the simulation stores it. Never log `secretAccessKey`. */
export interface IamAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly userName: string;
  status: AccessKeyStatus;
  readonly createDate: number;
  /** How long after `createDate` the key starts to authenticate. */
  propagationDelayMs: number;
  lastUsed?: AccessKeyLastUsed;
}

/** What decides the propagation delay of a new key. */
export type PropagationDelay =
  | number
  | ((key: {
      readonly userName: string;
      readonly accessKeyId: string;
      readonly createDate: number;
    }) => number);

/** IAM allows two access keys per user, inactive ones included. */
export const ACCESS_KEYS_PER_USER = 2;

const noSuchUser = (userName: string): AwsServiceError =>
  new AwsServiceError('NoSuchEntity', `The user with name ${userName} cannot be found.`, 404);

const noSuchKey = (accessKeyId: string): AwsServiceError =>
  new AwsServiceError(
    'NoSuchEntity',
    `The Access Key with id ${accessKeyId} cannot be found.`,
    404,
  );

const validation = (message: string): AwsServiceError =>
  new AwsServiceError('ValidationError', message, 400);

/** The users and access keys of one account, and the IAM operations on them. */
export class IamModel {
  private readonly users = new Map<string, IamUser>();
  private readonly keys = new Map<string, IamAccessKey>();
  /** Every CreateAccessKey that came without UserName, so a test can prove nobody does it. */
  public readonly createAccessKeyWithoutUserName: {
    readonly principalArn: string;
    readonly time: number;
  }[] = [];

  public constructor(
    private readonly accountId: string,
    private readonly clock: Clock,
    private readonly random: SeededRandom,
    public propagationDelay: PropagationDelay,
  ) {}

  public createUser(userName: string, path = '/', tags: readonly Tag[] = []): IamUser {
    if (!/^[\w+=,.@-]{1,64}$/.test(userName)) {
      throw validation(
        `1 validation error detected: Value '${userName}' at 'userName' failed to satisfy constraint`,
      );
    }
    if (this.users.has(userName)) {
      throw new AwsServiceError(
        'EntityAlreadyExists',
        `User with name ${userName} already exists.`,
        409,
      );
    }
    const user: IamUser = {
      userName,
      userId: this.random.uniqueId('AIDA'),
      arn: `arn:aws:iam::${this.accountId}:user${path}${userName}`,
      path,
      createDate: this.clock.now(),
      tags: [...tags],
    };
    this.users.set(userName, user);
    return user;
  }

  public getUser(userName: string): IamUser {
    const user = this.users.get(userName);
    if (user === undefined) throw noSuchUser(userName);
    return user;
  }

  public findUser(userName: string): IamUser | undefined {
    return this.users.get(userName);
  }

  public listUsers(): IamUser[] {
    return [...this.users.values()];
  }

  public deleteUser(userName: string): void {
    this.getUser(userName);
    if (this.keysOf(userName).length > 0) {
      throw new AwsServiceError(
        'DeleteConflict',
        'Cannot delete entity, must delete access keys first.',
        409,
      );
    }
    this.users.delete(userName);
  }

  /**
   * CreateAccessKey. Without `userName` IAM acts on the signer's own identity: for a user, a
   * key of that user; for a role, a `ValidationError`. Either way the call is recorded in
   * {@link createAccessKeyWithoutUserName}.
   */
  public createAccessKey(
    userName: string | undefined,
    caller: Principal | undefined,
  ): IamAccessKey {
    let target = userName;
    if (target === undefined) {
      this.createAccessKeyWithoutUserName.push({
        principalArn: caller?.arn ?? 'anonymous',
        time: this.clock.now(),
      });
      if (caller?.kind !== 'user') {
        throw validation('Must specify userName when calling with non-User credentials');
      }
      target = caller.userName;
    }
    this.getUser(target);
    if (this.keysOf(target).length >= ACCESS_KEYS_PER_USER) {
      throw new AwsServiceError(
        'LimitExceeded',
        `Cannot exceed quota for AccessKeysPerUser: ${ACCESS_KEYS_PER_USER}`,
        409,
      );
    }
    const accessKeyId = this.uniqueAccessKeyId();
    const createDate = this.clock.now();
    const delay =
      typeof this.propagationDelay === 'number'
        ? this.propagationDelay
        : this.propagationDelay({ userName: target, accessKeyId, createDate });
    const key: IamAccessKey = {
      accessKeyId,
      secretAccessKey: this.random.secretAccessKey(),
      userName: target,
      status: 'Active',
      createDate,
      propagationDelayMs: Math.max(0, delay),
    };
    this.keys.set(accessKeyId, key);
    return key;
  }

  /** The keys of a user, oldest first. Throws NoSuchEntity for an unknown user. */
  public listAccessKeys(userName: string): IamAccessKey[] {
    this.getUser(userName);
    return this.keysOf(userName);
  }

  public updateAccessKey(userName: string, accessKeyId: string, status: string): void {
    if (status !== 'Active' && status !== 'Inactive') {
      throw validation(
        `1 validation error detected: Value '${status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]`,
      );
    }
    this.ownedKey(userName, accessKeyId).status = status;
  }

  public deleteAccessKey(userName: string, accessKeyId: string): void {
    this.ownedKey(userName, accessKeyId);
    this.keys.delete(accessKeyId);
  }

  public getAccessKeyLastUsed(accessKeyId: string): IamAccessKey {
    const key = this.keys.get(accessKeyId);
    if (key === undefined) throw noSuchKey(accessKeyId);
    return key;
  }

  public findAccessKey(accessKeyId: string): IamAccessKey | undefined {
    return this.keys.get(accessKeyId);
  }

  /** All keys in the account, oldest first. */
  public allAccessKeys(): IamAccessKey[] {
    return [...this.keys.values()];
  }

  /** Whether the key authenticates now: Active and its propagation delay has passed. */
  public isUsable(key: IamAccessKey): boolean {
    return key.status === 'Active' && this.clock.now() >= key.createDate + key.propagationDelayMs;
  }

  public recordUse(key: IamAccessKey, serviceName: string, region: string): void {
    key.lastUsed = { date: this.clock.now(), serviceName, region };
  }

  private keysOf(userName: string): IamAccessKey[] {
    return [...this.keys.values()].filter((key) => key.userName === userName);
  }

  private ownedKey(userName: string, accessKeyId: string): IamAccessKey {
    this.getUser(userName);
    const key = this.keys.get(accessKeyId);
    if (key?.userName !== userName) throw noSuchKey(accessKeyId);
    return key;
  }

  private uniqueAccessKeyId(): string {
    for (;;) {
      const id = this.random.accessKeyId();
      if (!this.keys.has(id)) return id;
    }
  }
}
