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
  /** How long after `createDate` ListAccessKeys starts to show the key. */
  readonly listPropagationDelayMs: number;
  /**
   * The last request the key signed that authenticated (even if the call then failed); absent
   * if it never did. Recorded at once, as moto does; AWS records it hours late.
   */
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

/** IAM allows two access keys per user, inactive ones included (a fixed quota). */
export const ACCESS_KEYS_PER_USER = 2;

/** IAM allows 50 tags per user, and 50 tags (or tag keys) per request. */
export const TAGS_PER_USER = 50;

export interface IamModelOptions {
  /**
   * How long a new access key fails authentication after creation.
   * @default 0
   */
  readonly propagationDelay?: PropagationDelay;
  /**
   * How long a new access key is missing from ListAccessKeys after creation.
   * @default 0
   */
  readonly listPropagationDelayMs?: number;
  /**
   * How many access keys a user may hold.
   * @default ACCESS_KEYS_PER_USER
   */
  readonly accessKeysPerUser?: number;
}

/** A user as the model stores it: its tags change with TagUser and UntagUser. */
interface StoredUser extends IamUser {
  tags: Tag[];
}

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

/** IAM's message for a parameter that breaks its shape; a list's value is not shown. */
const constraint = (value: string | undefined, at: string, rule: string): AwsServiceError =>
  validation(
    `1 validation error detected: Value ${value === undefined ? '' : `'${value}' `}at '${at}' failed to satisfy constraint: ${rule}`,
  );

/** The patterns of IAM's Tag shape (`\p{L}\p{Z}\p{N}` and `_.:/=+-@`). */
const TAG_KEY_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** A length in Unicode characters (code points): how the simulation reads IAM's limits. */
const lengthOf = (text: string): number => Array.from(text).length;

/** IAM compares the tag keys of users and roles case-insensitively (and keeps their case). */
const sameTagKey = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const validateTagKey = (key: string, at: string): void => {
  if (lengthOf(key) < 1) {
    throw constraint(key, at, 'Member must have length greater than or equal to 1');
  }
  if (lengthOf(key) > 128) {
    throw constraint(key, at, 'Member must have length less than or equal to 128');
  }
  if (!TAG_KEY_PATTERN.test(key)) {
    throw constraint(
      key,
      at,
      'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+',
    );
  }
};

/**
 * Validates the tags of one CreateUser or TagUser request as IAM does, before it looks the user
 * up: at most 50, keys of 1-128 and values of 0-256 characters of the allowed set, and no key
 * twice (case-insensitively).
 */
const validateTags = (tags: readonly Tag[]): void => {
  if (tags.length > TAGS_PER_USER) {
    throw constraint(
      undefined,
      'tags',
      `Member must have length less than or equal to ${TAGS_PER_USER}`,
    );
  }
  tags.forEach((tag, index) => {
    validateTagKey(tag.Key, `tags.${index + 1}.member.key`);
    const at = `tags.${index + 1}.member.value`;
    if (lengthOf(tag.Value) > 256) {
      throw constraint(tag.Value, at, 'Member must have length less than or equal to 256');
    }
    if (!TAG_VALUE_PATTERN.test(tag.Value)) {
      throw constraint(
        tag.Value,
        at,
        'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*',
      );
    }
  });
  tags.forEach((tag, index) => {
    if (tags.slice(0, index).some((earlier) => sameTagKey(earlier.Key, tag.Key))) {
      throw new AwsServiceError(
        'InvalidInput',
        'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
        400,
      );
    }
  });
};

/** The users and access keys of one account, and the IAM operations on them. */
export class IamModel {
  /** What decides the authentication delay of keys created from now on. */
  public propagationDelay: PropagationDelay;
  /** How long keys created from now on are missing from ListAccessKeys. */
  public listPropagationDelayMs: number;
  /** How many access keys a user may hold: {@link ACCESS_KEYS_PER_USER} unless set otherwise. */
  public readonly accessKeysPerUser: number;
  /** Every CreateAccessKey that came without UserName, so a test can prove nobody does it. */
  public readonly createAccessKeyWithoutUserName: {
    readonly principalArn: string;
    readonly time: number;
  }[] = [];
  private readonly users = new Map<string, StoredUser>();
  private readonly keys = new Map<string, IamAccessKey>();

  public constructor(
    private readonly accountId: string,
    private readonly clock: Clock,
    private readonly random: SeededRandom,
    options: IamModelOptions = {},
  ) {
    this.propagationDelay = options.propagationDelay ?? 0;
    this.listPropagationDelayMs = options.listPropagationDelayMs ?? 0;
    this.accessKeysPerUser = options.accessKeysPerUser ?? ACCESS_KEYS_PER_USER;
  }

  /** CreateUser, with its tags validated as TagUser validates them. */
  public createUser(userName: string, path = '/', tags: readonly Tag[] = []): IamUser {
    if (!/^[\w+=,.@-]{1,64}$/.test(userName)) {
      throw validation(
        `1 validation error detected: Value '${userName}' at 'userName' failed to satisfy constraint`,
      );
    }
    validateTags(tags);
    if (this.users.has(userName)) {
      throw new AwsServiceError(
        'EntityAlreadyExists',
        `User with name ${userName} already exists.`,
        409,
      );
    }
    const user: StoredUser = {
      userName,
      userId: this.random.uniqueId('AIDA'),
      arn: `arn:aws:iam::${this.accountId}:user${path}${userName}`,
      path,
      createDate: this.clock.now(),
      tags: tags.map((tag) => ({ Key: tag.Key, Value: tag.Value })),
    };
    this.users.set(userName, user);
    return user;
  }

  public getUser(userName: string): IamUser {
    return this.storedUser(userName);
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
   * TagUser. A tag whose key the user already has (compared case-insensitively, as IAM does for
   * users) replaces that tag, key case included; the others are added after the existing ones.
   * Fails without change on an invalid request (ValidationError, InvalidInput), an unknown user
   * (NoSuchEntity) or more than 50 tags in all (LimitExceeded).
   */
  public tagUser(userName: string, tags: readonly Tag[]): void {
    validateTags(tags);
    const user = this.storedUser(userName);
    const merged = [...user.tags];
    for (const tag of tags) {
      const tagged = { Key: tag.Key, Value: tag.Value };
      const index = merged.findIndex((existing) => sameTagKey(existing.Key, tag.Key));
      if (index === -1) merged.push(tagged);
      else merged[index] = tagged;
    }
    if (merged.length > TAGS_PER_USER) {
      throw new AwsServiceError(
        'LimitExceeded',
        'The number of tags has reached the maximum limit.',
        409,
      );
    }
    user.tags = merged;
  }

  /** UntagUser: removes the tags with these keys (case-insensitively); unknown keys are ignored. */
  public untagUser(userName: string, tagKeys: readonly string[]): void {
    if (tagKeys.length > TAGS_PER_USER) {
      throw constraint(
        undefined,
        'tagKeys',
        `Member must have length less than or equal to ${TAGS_PER_USER}`,
      );
    }
    for (const key of tagKeys) validateTagKey(key, 'tagKeys');
    const user = this.storedUser(userName);
    user.tags = user.tags.filter((tag) => !tagKeys.some((key) => sameTagKey(key, tag.Key)));
  }

  /** The user's tags in the order they were added (AWS documents no order). */
  public listUserTags(userName: string): readonly Tag[] {
    return this.storedUser(userName).tags;
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
    if (this.keysOf(target).length >= this.accessKeysPerUser) {
      throw new AwsServiceError(
        'LimitExceeded',
        `Cannot exceed quota for AccessKeysPerUser: ${this.accessKeysPerUser}`,
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
      listPropagationDelayMs: Math.max(0, this.listPropagationDelayMs),
    };
    this.keys.set(accessKeyId, key);
    return key;
  }

  /**
   * ListAccessKeys: the user's keys that listings show yet (see {@link isListed}), oldest
   * first. Throws NoSuchEntity for an unknown user.
   */
  public listAccessKeys(userName: string): IamAccessKey[] {
    this.getUser(userName);
    return this.keysOf(userName).filter((key) => this.isListed(key));
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

  /** All keys in the account, oldest first, listed or not. */
  public allAccessKeys(): IamAccessKey[] {
    return [...this.keys.values()];
  }

  /** Whether the key authenticates now: Active and its propagation delay has passed. */
  public isUsable(key: IamAccessKey): boolean {
    return key.status === 'Active' && this.clock.now() >= key.createDate + key.propagationDelayMs;
  }

  /** Whether ListAccessKeys shows the key now: its listing delay has passed. */
  public isListed(key: IamAccessKey): boolean {
    return this.clock.now() >= key.createDate + key.listPropagationDelayMs;
  }

  /**
   * Records that the key signed a request that authenticated, now: `serviceName` is the
   * service's namespace as GetAccessKeyLastUsed reports it (`iam`, `sts`, `secretsmanager`).
   */
  public recordUse(key: IamAccessKey, serviceName: string, region: string): void {
    key.lastUsed = { date: this.clock.now(), serviceName, region };
  }

  private storedUser(userName: string): StoredUser {
    const user = this.users.get(userName);
    if (user === undefined) throw noSuchUser(userName);
    return user;
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
