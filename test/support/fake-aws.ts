import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  GetUserCommand,
  IAMClient,
  LimitExceededException,
  ListAccessKeysCommand,
  NoSuchEntityException,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  OWNER_TAG_KEY,
  STACK_ID_ENV,
} from '../../lambda/rotation/binding.js';

/**
 * A small stateful test double for the IAM, STS and Secrets Manager calls the handler makes,
 * installed with aws-sdk-client-mock so the real SDK client classes are used. It follows
 * ../shared/docs/aws-rotation-facts.md: the two-key limit counts inactive keys (409), the
 * AWSPENDING placeholder has no value, PutSecretValue is idempotent per token, moving
 * AWSCURRENT requires RemoveFromVersionId and leaves AWSPREVIOUS on the old version, and a new
 * key is rejected by STS for a number of attempts.
 */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/** The stack that deployed the function and created its secrets. */
export const STACK_NAME = 'IamKeyRotation';
export const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STACK_NAME}/5c7a1e20-7d4b-11f1-9a3e-0a1b2c3d4e5f`;
/** Another stack of the same account: its secrets are not the function's. */
export const OTHER_STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/SomeoneElsesStack/0f1e2d3c-7d4b-11f1-9a3e-5f4e3d2c1b0a`;

/** The function's environment as the stack sets it (its own stack id). */
export const STACK_ENVIRONMENT: Readonly<Record<string, string>> = { [STACK_ID_ENV]: STACK_ID };

/**
 * The tags CloudFormation adds to every secret a stack creates (reserved `aws:` keys, which no
 * principal can set or change): stack id, stack name, logical id.
 */
export const cloudFormationTags = (stackId: string, logicalId: string): Record<string, string> => ({
  [CLOUDFORMATION_STACK_ID_TAG_KEY]: stackId,
  'aws:cloudformation:stack-name': stackId.split('/')[1] ?? '',
  'aws:cloudformation:logical-id': logicalId,
});

export interface FakeKey {
  accessKeyId: string;
  secretAccessKey: string;
  status: 'Active' | 'Inactive' | 'Expired';
  createDate: Date;
  /** STS rejects the key with InvalidClientTokenId this many more times. */
  rejectionsLeft: number;
  /** When the key last signed a request (set by a successful GetCallerIdentity, or by a test). */
  lastUsedDate?: Date;
}

interface FakeVersion {
  value: string | undefined;
  stages: Set<string>;
  createdDate: Date;
}

export interface FakeSecret {
  arn: string;
  name: string;
  rotationEnabled: boolean | undefined;
  tags: Record<string, string>;
  versions: Map<string, FakeVersion>;
}

const iamError = <T extends Error>(
  Type: new (options: { message: string; $metadata: object }) => T,
  message: string,
  status: number,
): T => new Type({ message, $metadata: { httpStatusCode: status } });

/**
 * More STS calls than any deadline allows: a retry loop that ignores its deadline fails with
 * this instead of hanging the test run (the test clock's sleep returns at once).
 */
export const STS_CALL_LIMIT = 1_000;

export class FakeAws {
  public readonly iam = mockClient(IAMClient);
  public readonly secretsManager = mockClient(SecretsManagerClient);
  public readonly sts = mockClient(STSClient);
  public readonly users = new Map<string, FakeKey[]>();
  /** Each user's IAM tags. */
  public readonly userTags = new Map<string, Record<string, string>>();
  private stsCalls = 0;
  public readonly secrets = new Map<string, FakeSecret>();
  /** How many times STS rejects each newly created key before accepting it. */
  public rejectionsForNewKeys = 0;
  private clockMs = Date.parse('2026-11-01T10:00:00Z');
  private keyCounter = 0;

  public constructor() {
    this.install();
  }

  public restore(): void {
    this.iam.restore();
    this.secretsManager.restore();
    this.sts.restore();
  }

  public tick(milliseconds = 1_000): Date {
    this.clockMs += milliseconds;
    return new Date(this.clockMs);
  }

  public addUser(userName: string): void {
    this.users.set(userName, []);
    this.userTags.set(userName, {});
  }

  public userArn(userName: string): string {
    return `arn:aws:iam::${ACCOUNT}:user/${userName}`;
  }

  public addKey(userName: string, options: Partial<FakeKey> = {}): FakeKey {
    const keys = this.userKeys(userName);
    this.keyCounter += 1;
    const key: FakeKey = {
      accessKeyId: `AKIAFAKE${String(this.keyCounter).padStart(12, '0')}`,
      secretAccessKey: `fake-secret-${String(this.keyCounter)}-${'s'.repeat(28)}`,
      status: 'Active',
      createDate: this.tick(),
      rejectionsLeft: 0,
      ...options,
    };
    keys.push(key);
    return key;
  }

  /**
   * A secret as the stack creates it: `{"UserName"}` in AWSCURRENT, CloudFormation's tags naming
   * {@link STACK_ID} (or `stackId`; `null` for a secret created outside CloudFormation), its
   * binding tag, and (unless `ownUser` is false) the user's ownership tag naming it.
   */
  public addSecret(
    name: string,
    userName: string,
    options: { value?: string; ownUser?: boolean; stackId?: string | null } = {},
  ): FakeSecret {
    const stackId = options.stackId === undefined ? STACK_ID : options.stackId;
    const secret: FakeSecret = {
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`,
      name,
      rotationEnabled: true,
      tags: {
        ...(stackId === null
          ? {}
          : cloudFormationTags(stackId, `Secret${userName.replace(/\W/g, '')}`)),
        [BINDING_TAG_KEY]: userName,
      },
      versions: new Map(),
    };
    secret.versions.set('initial-version', {
      value: options.value ?? JSON.stringify({ UserName: userName }),
      stages: new Set(['AWSCURRENT']),
      createdDate: this.tick(),
    });
    this.secrets.set(name, secret);
    if (options.ownUser !== false) {
      const tags = this.userTags.get(userName);
      if (tags !== undefined) tags[OWNER_TAG_KEY] = secret.arn;
    }
    return secret;
  }

  /** What RotateSecret does before invoking the function: an AWSPENDING version with no value. */
  public startRotation(secretName: string, token: string): void {
    const secret = this.secret(secretName);
    for (const version of secret.versions.values()) version.stages.delete('AWSPENDING');
    secret.versions.set(token, {
      value: undefined,
      stages: new Set(['AWSPENDING']),
      createdDate: this.tick(),
    });
  }

  /** The user's key at `index` (negative counts from the end). */
  public key(userName: string, index: number): FakeKey {
    const key = this.userKeys(userName).at(index);
    if (key === undefined) throw new Error(`${userName} has no key at ${String(index)}`);
    return key;
  }

  public version(secretName: string, versionId: string): FakeVersion {
    const version = this.secret(secretName).versions.get(versionId);
    if (version === undefined) throw new Error(`${secretName} has no version ${versionId}`);
    return version;
  }

  public userKeys(userName: string): FakeKey[] {
    const keys = this.users.get(userName);
    if (keys === undefined) {
      throw iamError(NoSuchEntityException, `The user with name ${userName} cannot be found.`, 404);
    }
    return keys;
  }

  public secret(secretId: string): FakeSecret {
    const secret = [...this.secrets.values()].find(
      (candidate) => candidate.name === secretId || candidate.arn === secretId,
    );
    if (secret === undefined) {
      throw new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: { httpStatusCode: 400 },
      });
    }
    return secret;
  }

  public versionWith(secretName: string, stage: string): string | undefined {
    for (const [id, version] of this.secret(secretName).versions) {
      if (version.stages.has(stage)) return id;
    }
    return undefined;
  }

  public valueOf(secretName: string, stage: string): Record<string, string> | undefined {
    const id = this.versionWith(secretName, stage);
    const value = id === undefined ? undefined : this.secret(secretName).versions.get(id)?.value;
    return value === undefined ? undefined : (JSON.parse(value) as Record<string, string>);
  }

  /** A comparable snapshot of all state, to prove a step changed nothing. */
  public snapshot(): unknown {
    return JSON.stringify({
      users: [...this.users.entries()].map(([user, keys]) => [
        user,
        keys.map(({ accessKeyId, status }) => ({ accessKeyId, status })),
        this.userTags.get(user),
      ]),
      secrets: [...this.secrets.values()].map((secret) => ({
        name: secret.name,
        versions: [...secret.versions.entries()].map(([id, version]) => [
          id,
          version.value,
          [...version.stages].sort(),
        ]),
      })),
    });
  }

  private readonly interceptors = new Map<string, ((input: never) => unknown)[]>();

  /**
   * Replaces the next call of `operation` (e.g. 'CreateAccessKey') with `behaviour`, which
   * may change state through this fake and then throw, to model a fault or a crash.
   */
  public interceptNext(operation: string, behaviour: (input: never) => unknown): void {
    const queue = this.interceptors.get(operation) ?? [];
    queue.push(behaviour);
    this.interceptors.set(operation, queue);
  }

  private intercepted(operation: string, input: unknown): { hit: boolean; result?: unknown } {
    const behaviour = this.interceptors.get(operation)?.shift();
    return behaviour === undefined
      ? { hit: false }
      : { hit: true, result: behaviour(input as never) };
  }

  private withInterception<TInput>(
    operation: string,
    behaviour: (input: TInput) => unknown,
  ): (input: TInput) => unknown {
    return (input) => {
      const interception = this.intercepted(operation, input);
      return interception.hit ? interception.result : behaviour(input);
    };
  }

  private install(): void {
    this.iam.on(GetUserCommand).callsFake(
      this.withInterception('GetUser', (input: { UserName?: string }) => {
        const userName = requireUser(input.UserName);
        this.userKeys(userName);
        return {
          User: {
            UserName: userName,
            UserId: 'AIDAFAKEUSERID',
            Arn: this.userArn(userName),
            Path: '/',
            CreateDate: new Date('2025-01-01T00:00:00Z'),
            Tags: Object.entries(this.userTags.get(userName) ?? {}).map(([Key, Value]) => ({
              Key,
              Value,
            })),
          },
        };
      }),
    );
    this.iam.on(GetAccessKeyLastUsedCommand).callsFake(
      this.withInterception('GetAccessKeyLastUsed', (input: { AccessKeyId?: string }) => {
        for (const [userName, keys] of this.users) {
          const key = keys.find((candidate) => candidate.accessKeyId === input.AccessKeyId);
          if (key === undefined) continue;
          return {
            UserName: userName,
            AccessKeyLastUsed:
              key.lastUsedDate === undefined
                ? { ServiceName: 'N/A', Region: 'N/A' }
                : { LastUsedDate: key.lastUsedDate, ServiceName: 'sts', Region: REGION },
          };
        }
        throw iamError(
          NoSuchEntityException,
          `The Access Key with id ${String(input.AccessKeyId)} cannot be found.`,
          404,
        );
      }),
    );
    this.iam.on(ListAccessKeysCommand).callsFake(
      this.withInterception('ListAccessKeys', (input: { UserName?: string }) => ({
        AccessKeyMetadata: this.userKeys(requireUser(input.UserName)).map((key) => ({
          UserName: input.UserName,
          AccessKeyId: key.accessKeyId,
          Status: key.status,
          CreateDate: key.createDate,
        })),
        IsTruncated: false,
      })),
    );
    this.iam.on(CreateAccessKeyCommand).callsFake(
      this.withInterception('CreateAccessKey', (input: { UserName?: string }) => {
        const userName = requireUser(input.UserName);
        if (this.userKeys(userName).length >= 2) {
          throw iamError(
            LimitExceededException,
            'Cannot exceed quota for AccessKeysPerUser: 2',
            409,
          );
        }
        const key = this.addKey(userName, { rejectionsLeft: this.rejectionsForNewKeys });
        return {
          AccessKey: {
            UserName: userName,
            AccessKeyId: key.accessKeyId,
            SecretAccessKey: key.secretAccessKey,
            Status: 'Active',
            CreateDate: key.createDate,
          },
        };
      }),
    );
    this.iam.on(UpdateAccessKeyCommand).callsFake(
      this.withInterception(
        'UpdateAccessKey',
        (input: { UserName?: string; AccessKeyId?: string; Status?: string }) => {
          const key = this.findKey(requireUser(input.UserName), input.AccessKeyId);
          key.status = input.Status === 'Active' ? 'Active' : 'Inactive';
          return {};
        },
      ),
    );
    this.iam.on(DeleteAccessKeyCommand).callsFake(
      this.withInterception(
        'DeleteAccessKey',
        (input: { UserName?: string; AccessKeyId?: string }) => {
          const userName = requireUser(input.UserName);
          const key = this.findKey(userName, input.AccessKeyId);
          this.users.set(
            userName,
            this.userKeys(userName).filter((candidate) => candidate !== key),
          );
          return {};
        },
      ),
    );

    this.secretsManager.on(DescribeSecretCommand).callsFake(
      this.withInterception('DescribeSecret', (input: { SecretId: string }) => {
        const secret = this.secret(input.SecretId);
        return {
          ARN: secret.arn,
          Name: secret.name,
          ...(secret.rotationEnabled === undefined
            ? {}
            : { RotationEnabled: secret.rotationEnabled }),
          Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
          VersionIdsToStages: Object.fromEntries(
            [...secret.versions.entries()]
              .filter(([, version]) => version.stages.size > 0)
              .map(([id, version]) => [id, [...version.stages]]),
          ),
        };
      }),
    );
    this.secretsManager.on(GetSecretValueCommand).callsFake(
      this.withInterception(
        'GetSecretValue',
        (input: { SecretId: string; VersionId?: string; VersionStage?: string }) => {
          const secret = this.secret(input.SecretId);
          const stage =
            input.VersionStage ?? (input.VersionId === undefined ? 'AWSCURRENT' : undefined);
          const entry = [...secret.versions.entries()].find(
            ([id, version]) =>
              (input.VersionId === undefined || id === input.VersionId) &&
              (stage === undefined || version.stages.has(stage)),
          );
          if (entry?.[1].value === undefined) {
            throw new ResourceNotFoundException({
              message:
                "Secrets Manager can't find the specified secret value for the requested version",
              $metadata: { httpStatusCode: 400 },
            });
          }
          return {
            ARN: secret.arn,
            Name: secret.name,
            VersionId: entry[0],
            SecretString: entry[1].value,
            VersionStages: [...entry[1].stages],
            CreatedDate: entry[1].createdDate,
          };
        },
      ),
    );
    this.secretsManager.on(PutSecretValueCommand).callsFake(
      this.withInterception(
        'PutSecretValue',
        (input: {
          SecretId: string;
          ClientRequestToken?: string;
          SecretString?: string;
          VersionStages?: string[];
        }) => {
          const secret = this.secret(input.SecretId);
          const token = input.ClientRequestToken ?? `version-${String(secret.versions.size)}`;
          const existing = secret.versions.get(token);
          if (existing?.value !== undefined) {
            if (existing.value !== input.SecretString) {
              throw new ResourceExistsException({
                message: `A resource with the ID you requested already exists.`,
                $metadata: { httpStatusCode: 400 },
              });
            }
            return { ARN: secret.arn, VersionId: token };
          }
          const stages = input.VersionStages ?? ['AWSCURRENT'];
          const formerCurrent = [...secret.versions.values()].find((version) =>
            version.stages.has('AWSCURRENT'),
          );
          for (const version of secret.versions.values()) {
            for (const stage of stages) version.stages.delete(stage);
          }
          // As Secrets Manager does: the version AWSCURRENT leaves becomes AWSPREVIOUS.
          if (stages.includes('AWSCURRENT') && formerCurrent !== undefined) {
            for (const version of secret.versions.values()) version.stages.delete('AWSPREVIOUS');
            formerCurrent.stages.add('AWSPREVIOUS');
          }
          secret.versions.set(token, {
            value: input.SecretString,
            stages: new Set([...(existing?.stages ?? []), ...stages]),
            createdDate: existing?.createdDate ?? this.tick(),
          });
          return { ARN: secret.arn, VersionId: token };
        },
      ),
    );
    this.secretsManager.on(UpdateSecretVersionStageCommand).callsFake(
      this.withInterception(
        'UpdateSecretVersionStage',
        (input: {
          SecretId: string;
          VersionStage: string;
          MoveToVersionId?: string;
          RemoveFromVersionId?: string;
        }) => {
          const secret = this.secret(input.SecretId);
          const holder = [...secret.versions.entries()].find(([, version]) =>
            version.stages.has(input.VersionStage),
          )?.[0];
          if (input.RemoveFromVersionId !== undefined && holder !== input.RemoveFromVersionId) {
            throw new InvalidParameterException({
              message: `Version stage ${input.VersionStage} not found in version ${input.RemoveFromVersionId}`,
              $metadata: { httpStatusCode: 400 },
            });
          }
          if (
            holder !== undefined &&
            holder !== input.MoveToVersionId &&
            holder !== input.RemoveFromVersionId
          ) {
            throw new InvalidParameterException({
              message: `The parameter RemoveFromVersionId must be ${holder}`,
              $metadata: { httpStatusCode: 400 },
            });
          }
          if (input.RemoveFromVersionId !== undefined) {
            secret.versions.get(input.RemoveFromVersionId)?.stages.delete(input.VersionStage);
          }
          if (input.MoveToVersionId !== undefined) {
            const target = secret.versions.get(input.MoveToVersionId);
            if (target === undefined) {
              throw new ResourceNotFoundException({
                message: 'version not found',
                $metadata: { httpStatusCode: 400 },
              });
            }
            target.stages.add(input.VersionStage);
            if (
              input.VersionStage === 'AWSCURRENT' &&
              holder !== undefined &&
              holder !== input.MoveToVersionId
            ) {
              for (const version of secret.versions.values()) version.stages.delete('AWSPREVIOUS');
              secret.versions.get(holder)?.stages.add('AWSPREVIOUS');
            }
          }
          return { ARN: secret.arn, Name: secret.name };
        },
      ),
    );
    this.secretsManager.on(ListSecretVersionIdsCommand).callsFake(
      this.withInterception('ListSecretVersionIds', (input: { SecretId: string }) => ({
        Versions: [...this.secret(input.SecretId).versions.entries()].map(([id, version]) => ({
          VersionId: id,
          VersionStages: [...version.stages],
          CreatedDate: version.createdDate,
        })),
      })),
    );

    this.sts.on(GetCallerIdentityCommand).callsFake(async (_input: unknown, getClient) => {
      this.stsCalls += 1;
      if (this.stsCalls > STS_CALL_LIMIT) {
        throw Object.assign(
          new Error(
            `more than ${STS_CALL_LIMIT} GetCallerIdentity calls: is the deadline enforced?`,
          ),
          { name: 'FakeAwsCallLimitExceeded' },
        );
      }
      const credentials = await getClient().config.credentials();
      for (const [userName, keys] of this.users) {
        const key = keys.find((candidate) => candidate.accessKeyId === credentials.accessKeyId);
        if (key === undefined) continue;
        if (
          key.secretAccessKey !== credentials.secretAccessKey ||
          key.status !== 'Active' ||
          key.rejectionsLeft > 0
        ) {
          key.rejectionsLeft = Math.max(0, key.rejectionsLeft - 1);
          break;
        }
        key.lastUsedDate = new Date(this.clockMs);
        return {
          Account: ACCOUNT,
          Arn: this.userArn(userName),
          UserId: 'AIDAFAKEUSERID',
        };
      }
      throw new STSServiceException({
        name: 'InvalidClientTokenId',
        $fault: 'client',
        message: 'The security token included in the request is invalid.',
        $metadata: { httpStatusCode: 403 },
      });
    });
  }

  private findKey(userName: string, accessKeyId: string | undefined): FakeKey {
    const key = this.userKeys(userName).find((candidate) => candidate.accessKeyId === accessKeyId);
    if (key === undefined) {
      throw iamError(
        NoSuchEntityException,
        `The Access Key with id ${String(accessKeyId)} cannot be found.`,
        404,
      );
    }
    return key;
  }
}

const requireUser = (userName: string | undefined): string => {
  if (userName === undefined) {
    // The fake has no signer identity: a call without UserName is always a bug in the handler.
    throw new Error('IAM call without UserName would act on the signer');
  }
  return userName;
};
