import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  type Tag,
} from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  STACK_ID_ENV,
} from '../../../lambda/rotation/binding.js';
import { createOwnershipTagHandler } from '../../../lambda/ownership-tagger/ownership-tag.js';
import { OWNERSHIP_TAG_RESOURCE_TYPE } from '../../../lib/user-ownership-tagger.js';
import { FIRST_ROTATION_RESOURCE_TYPE } from '../../../lib/first-rotation-wait.js';
import { MOTO_ACCOUNT_ID } from './moto-server.js';
import type { CloudFormationTemplate } from './synthesized-stack.js';
import { resolveIntrinsics, type DeploymentValues } from './template-resolver.js';

export const REGION = 'us-east-1';
export const PARTITION = 'aws';

/** The stack the harness deploys as (what `AWS::StackName` and `AWS::StackId` resolve to). */
export const STACK_NAME = 'IamKeyRotation';
export const STACK_ID = `arn:${PARTITION}:cloudformation:${REGION}:${MOTO_ACCOUNT_ID}:stack/${STACK_NAME}/3f6c2a10-7d4b-11f1-8e2a-0a1b2c3d4e5f`;
/** Another stack of the same account. */
export const OTHER_STACK_ID = `arn:${PARTITION}:cloudformation:${REGION}:${MOTO_ACCOUNT_ID}:stack/SomeoneElsesStack/9a8b7c6d-7d4b-11f1-8e2a-5f4e3d2c1b0a`;

/**
 * CloudFormation's system tags on a secret of the stack `stackId` (AWS refuses `aws:` tags from
 * any caller; moto 5 accepts them, so the harness creates secrets "as the stack would").
 */
export const cloudFormationTags = (
  logicalId: string,
  stackId: string = STACK_ID,
): { Key: string; Value: string }[] => [
  { Key: CLOUDFORMATION_STACK_ID_TAG_KEY, Value: stackId },
  { Key: 'aws:cloudformation:stack-name', Value: stackId.split('/')[1] ?? '' },
  { Key: 'aws:cloudformation:logical-id', Value: logicalId },
];

export interface AccessKeyPair {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Credentials moto accepts while request authentication is off. */
export const UNCHECKED_CREDENTIALS: AccessKeyPair = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'harness-credentials-not-checked-while-auth-is-off',
};

/** The rotation function's entry point, as exported by the bundle. */
export type BundledHandler = (
  event: Record<string, string>,
  context: { getRemainingTimeInMillis(): number },
) => Promise<unknown>;

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/** A function ARN nothing is deployed at; see {@link MotoAws.startRotation}. */
const UNDEPLOYED_ROTATION_FUNCTION_ARN = `arn:${PARTITION}:lambda:${REGION}:${MOTO_ACCOUNT_ID}:function:iam-key-rotation-driven-by-the-test-harness`;

/** Time the driver tells the handler it has left (the synthesized function's timeout is 2 min). */
const INVOCATION_BUDGET_MS = 30_000;

export interface StoredSecretValue {
  readonly UserName?: unknown;
  readonly AccessKeyId?: unknown;
  readonly SecretAccessKey?: unknown;
  /** The AWSCURRENT version the rotation that stored this value replaced. */
  readonly ReplacesVersionId?: unknown;
}

/** One version of a secret: its staging labels (sorted) and its value, if it holds one. */
export interface VersionState {
  readonly stages: string[];
  readonly value: StoredSecretValue | undefined;
}

export interface KeyState {
  readonly accessKeyId: string;
  readonly status: string;
}

/**
 * Keys in a fixed order for comparisons (creation dates have second precision, so several keys
 * created within one second have no defined age order).
 */
export const byAccessKeyId = (keys: readonly KeyState[]): KeyState[] =>
  [...keys].sort((left, right) => left.accessKeyId.localeCompare(right.accessKeyId));

const errorName = (error: unknown): string | undefined =>
  error instanceof Error ? error.name : undefined;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `value` as IAM tags (`[{Key, Value}]` of strings), or an error naming `where`. */
const expectTags = (value: unknown, where: string): Tag[] => {
  if (
    !Array.isArray(value) ||
    !value.every(
      (tag) =>
        isRecord(tag) &&
        Object.keys(tag).sort().join() === 'Key,Value' &&
        typeof tag.Key === 'string' &&
        typeof tag.Value === 'string',
    )
  ) {
    throw new Error(
      `${where} resolved to ${JSON.stringify(value)}, expected [{Key, Value}] strings`,
    );
  }
  return value as Tag[];
};

const lookupUserName = (refs: Readonly<Record<string, string>>, logicalId: string): string => {
  const userName = refs[logicalId];
  if (userName === undefined) throw new Error(`Template user ${logicalId} was not created`);
  return userName;
};

/**
 * Resolves once the wall clock has reached the next whole second. IAM and Secrets Manager dates
 * have second precision: a key meant to be strictly older than a secret version needs this.
 */
export const waitForNextSecond = async (): Promise<void> => {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** Plain SDK clients of the harness, with explicit endpoint, region and credentials. */
export class MotoAws {
  public readonly iam: IAMClient;
  public readonly secrets: SecretsManagerClient;

  public constructor(
    public readonly endpoint: string,
    credentials: AccessKeyPair = UNCHECKED_CREDENTIALS,
  ) {
    const config = { endpoint, region: REGION, credentials, maxAttempts: 1 };
    this.iam = new IAMClient(config);
    this.secrets = new SecretsManagerClient(config);
  }

  public destroy(): void {
    this.iam.destroy();
    this.secrets.destroy();
  }

  public async createUser(userName: string, path?: string): Promise<string> {
    const output = await this.iam.send(
      new CreateUserCommand({ UserName: userName, ...(path === undefined ? {} : { Path: path }) }),
    );
    const arn = output.User?.Arn;
    if (arn === undefined) throw new Error(`CreateUser ${userName} returned no ARN`);
    return arn;
  }

  public async createAccessKey(userName: string): Promise<AccessKeyPair> {
    const output = await this.iam.send(new CreateAccessKeyCommand({ UserName: userName }));
    const key = output.AccessKey;
    if (key?.AccessKeyId === undefined || key.SecretAccessKey === undefined) {
      throw new Error(`CreateAccessKey ${userName} returned no key`);
    }
    return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
  }

  public async putUserPolicy(
    userName: string,
    policyName: string,
    document: unknown,
  ): Promise<void> {
    await this.iam.send(
      new PutUserPolicyCommand({
        UserName: userName,
        PolicyName: policyName,
        PolicyDocument: JSON.stringify(document),
      }),
    );
  }

  /** The user's keys and their status, in {@link byAccessKeyId} order. */
  public async listKeys(userName: string): Promise<KeyState[]> {
    const output = await this.iam.send(new ListAccessKeysCommand({ UserName: userName }));
    return byAccessKeyId(
      (output.AccessKeyMetadata ?? []).map((key) => ({
        accessKeyId: key.AccessKeyId ?? '',
        status: key.Status ?? '',
      })),
    );
  }

  public async versionStages(secretId: string): Promise<Record<string, string[]>> {
    const output = await this.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    return output.VersionIdsToStages ?? {};
  }

  /** The value of the version carrying `stage` (the stage is always passed: see toolchain.md). */
  public async secretValue(
    secretId: string,
    stage: string,
    versionId?: string,
  ): Promise<StoredSecretValue> {
    const output = await this.secrets.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        VersionStage: stage,
        ...(versionId === undefined ? {} : { VersionId: versionId }),
      }),
    );
    if (output.SecretString === undefined) {
      throw new Error(`Secret ${secretId} ${stage} has no SecretString`);
    }
    return JSON.parse(output.SecretString) as StoredSecretValue;
  }

  /** True when the version has no value yet (GetSecretValue fails with ResourceNotFoundException). */
  public async hasNoValue(secretId: string, versionId: string, stage: string): Promise<boolean> {
    try {
      await this.secrets.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          VersionId: versionId,
          VersionStage: stage,
        }),
      );
      return false;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return true;
      throw error;
    }
  }

  /**
   * Every version moto lists (moto also lists versions without labels, which AWS leaves out of
   * DescribeSecret), with its sorted labels and its value: a whole secret, for before/after
   * comparisons.
   */
  public async versions(secretId: string): Promise<Record<string, VersionState>> {
    const result: Record<string, VersionState> = {};
    for (const [versionId, stages] of Object.entries(await this.versionStages(secretId))) {
      let value: StoredSecretValue | undefined;
      try {
        const output = await this.secrets.send(
          new GetSecretValueCommand({
            SecretId: secretId,
            VersionId: versionId,
            ...(stages[0] === undefined ? {} : { VersionStage: stages[0] }),
          }),
        );
        value =
          output.SecretString === undefined
            ? undefined
            : (JSON.parse(output.SecretString) as StoredSecretValue);
      } catch (error) {
        if (errorName(error) !== 'ResourceNotFoundException') throw error;
      }
      result[versionId] = { stages: [...stages].sort(), value };
    }
    return result;
  }

  /**
   * An operator's PutSecretValue (no stages given: the new version becomes AWSCURRENT), ending in
   * the state AWS leaves: the new version AWSCURRENT, the version that was AWSCURRENT now
   * AWSPREVIOUS, and no AWSPENDING (a value put by hand abandons a rotation in progress).
   *
   * moto 5.2.1 workarounds (moto/secretsmanager/models.py `reset_default_version`): moto gives
   * AWSPREVIOUS to the version that was AWSCURRENT when the secret was *created* (its
   * `default_version_id`, which UpdateSecretVersionStage never updates), and leaves AWSCURRENT on
   * the version a rotation moved it to: after a rotation the secret has two AWSCURRENT versions.
   * The harness then removes AWSCURRENT from the old version (moto moves AWSPREVIOUS there, as
   * AWS does), and removes AWSPENDING, which moto keeps. Any other end state throws.
   *
   * @returns the id of the new version
   */
  public async putSecretValueByHand(secretId: string, secretString: string): Promise<string> {
    const before = await this.versionStages(secretId);
    const currentBefore = Object.entries(before).find(([, stages]) =>
      stages.includes('AWSCURRENT'),
    )?.[0];
    const output = await this.secrets.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: secretString }),
    );
    const versionId = output.VersionId;
    if (versionId === undefined) {
      throw new Error(`PutSecretValue ${secretId} returned no VersionId`);
    }
    let after = await this.versionStages(secretId);
    if (
      currentBefore !== undefined &&
      currentBefore !== versionId &&
      after[currentBefore]?.includes('AWSCURRENT') === true
    ) {
      await this.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: currentBefore,
        }),
      );
    }
    after = await this.versionStages(secretId);
    for (const [pendingVersionId, stages] of Object.entries(after)) {
      if (!stages.includes('AWSPENDING')) continue;
      await this.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: pendingVersionId,
        }),
      );
    }
    after = await this.versionStages(secretId);
    const holders = (stage: string): string[] =>
      Object.entries(after)
        .filter(([, stages]) => stages.includes(stage))
        .map(([id]) => id);
    const expectedPrevious = currentBefore === undefined ? [] : [currentBefore];
    if (
      JSON.stringify(after[versionId]) !== JSON.stringify(['AWSCURRENT']) ||
      JSON.stringify(holders('AWSCURRENT')) !== JSON.stringify([versionId]) ||
      JSON.stringify(holders('AWSPREVIOUS')) !== JSON.stringify(expectedPrevious)
    ) {
      throw new Error(
        `The harness could not put a value by hand as AWS would: version ${versionId} of ${secretId}, stages ${JSON.stringify(after)}`,
      );
    }
    return versionId;
  }

  /** Creates the users (those the stack creates and those it expects to exist); returns their ARNs. */
  public async createUsers(
    users: readonly { userName: string; path?: string }[],
  ): Promise<Map<string, string>> {
    const userArns = new Map<string, string>();
    for (const { userName, path } of users) {
      userArns.set(userName, await this.createUser(userName, path));
    }
    return userArns;
  }

  /**
   * Creates the stack's secrets with the properties the template gives them, then sets the
   * users' ownership tags as the deployed stack would (the `Tags` of each `AWS::IAM::User`, and
   * for each `Custom::UserOwnershipTag` the stack's own tagger handler on Create, both naming the
   * deployed secret ARNs), and returns what CloudFormation would substitute for the `Ref`s and
   * `Fn::GetAtt`s of its users and secrets. Any other custom resource throws.
   *
   * @param userArns every configured user, created beforehand
   * @param extraAttributes deployed values for resources moto does not need (the log group)
   * @param options `templateSecretNames`: name each secret as its template `Name` says
   *   (`iam-key-rotation/<user>`), as CloudFormation does (the default; the rotation policy covers
   *   only secrets named `iam-key-rotation/*`), or with `false` after its logical id
   */
  public async deployStackResources(
    template: CloudFormationTemplate,
    userArns: ReadonlyMap<string, string>,
    extraAttributes: Record<string, string> = {},
    options: { readonly templateSecretNames?: boolean } = {},
  ): Promise<{ values: DeploymentValues; secretArnByUser: Map<string, string> }> {
    const refs: Record<string, string> = {};
    const attributes: Record<string, string> = { ...extraAttributes };
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::IAM::User') continue;
      const userName = resource.Properties?.UserName;
      const arn = typeof userName === 'string' ? userArns.get(userName) : undefined;
      if (typeof userName !== 'string' || arn === undefined) {
        throw new Error(
          `Template user ${logicalId} (${String(userName)}) is not a configured user`,
        );
      }
      refs[logicalId] = userName;
      attributes[`${logicalId}.Arn`] = arn;
    }
    const values = (): DeploymentValues => ({
      partition: PARTITION,
      accountId: MOTO_ACCOUNT_ID,
      region: REGION,
      urlSuffix: 'amazonaws.com',
      stackId: STACK_ID,
      stackName: STACK_NAME,
      refs,
      attributes,
    });

    const secretArnByUser = new Map<string, string>();
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::SecretsManager::Secret') continue;
      const properties = resolveIntrinsics(resource.Properties ?? {}, values()) as {
        Name?: string;
        Description?: string;
        SecretString?: string;
        Tags?: { Key: string; Value: string }[];
      };
      const userName = properties.Tags?.find((tag) => tag.Key === BINDING_TAG_KEY)?.Value;
      if (userName === undefined || properties.SecretString === undefined) {
        throw new Error(
          `Template secret ${logicalId} has no ${BINDING_TAG_KEY} tag or no SecretString`,
        );
      }
      const output = await this.secrets.send(
        new CreateSecretCommand({
          // CloudFormation names a secret after its logical id plus a random suffix when the
          // template gives no Name.
          Name:
            options.templateSecretNames !== false && properties.Name !== undefined
              ? properties.Name
              : `${logicalId}-${randomUUID().slice(0, 12)}`,
          Description: properties.Description,
          SecretString: properties.SecretString,
          // CloudFormation adds its system tags to every secret it creates.
          Tags: [...(properties.Tags ?? []), ...cloudFormationTags(logicalId)],
        }),
      );
      if (output.ARN === undefined) throw new Error(`CreateSecret ${logicalId} returned no ARN`);
      refs[logicalId] = output.ARN;
      secretArnByUser.set(userName, output.ARN);
    }

    // Ownership tags, which name the secrets: after the secrets, as CloudFormation orders them.
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type === 'AWS::IAM::User') {
        if (resource.Properties?.Tags === undefined) continue;
        const tags = expectTags(
          resolveIntrinsics(resource.Properties.Tags, values()),
          `Template user ${logicalId} Tags`,
        );
        await this.iam.send(
          new TagUserCommand({ UserName: lookupUserName(refs, logicalId), Tags: tags }),
        );
      } else if (resource.Type === OWNERSHIP_TAG_RESOURCE_TYPE) {
        // What the stack's ownership tagger does on Create: its own handler, here with the
        // harness's clients (request authentication is off while the harness deploys).
        // Its properties but the ServiceToken (the Provider framework, which moto does not run).
        const properties = resolveIntrinsics(
          {
            UserName: resource.Properties?.UserName,
            SecretArn: resource.Properties?.SecretArn,
          },
          values(),
        ) as Record<string, unknown>;
        if (typeof properties.UserName !== 'string' || !userArns.has(properties.UserName)) {
          throw new Error(
            `Template custom resource ${logicalId} tags ${String(properties.UserName)}, which is not a configured user`,
          );
        }
        await createOwnershipTagHandler({
          stackId: STACK_ID,
          secretsManager: this.secrets,
          iam: this.iam,
          stackResources: {
            describeStackResource: () =>
              Promise.reject(new Error('the harness deploys; it never deletes a resource')),
          },
          log: () => undefined,
        })({
          RequestType: 'Create',
          StackId: STACK_ID,
          LogicalResourceId: logicalId,
          ResourceProperties: properties,
        });
      } else if (resource.Type === FIRST_ROTATION_RESOURCE_TYPE) {
        // The first-rotation wait awaits the rotation the schedule starts; the harness drives
        // rotations itself (test/integration/first-rotation-over-the-wire.test.ts runs the wait's
        // handlers against moto).
        continue;
      } else if (
        resource.Type.startsWith('Custom::') ||
        resource.Type === 'AWS::CloudFormation::CustomResource'
      ) {
        throw new Error(
          `Template resource ${logicalId} is a custom resource of type ${resource.Type}; the harness deploys only ${OWNERSHIP_TAG_RESOURCE_TYPE} (the stack's ownership tagger) and skips ${FIRST_ROTATION_RESOURCE_TYPE}`,
        );
      }
    }
    return { values: values(), secretArnByUser };
  }

  /**
   * Does what RotateSecret does before it invokes the rotation function: a new version whose
   * id is the ClientRequestToken, carrying AWSPENDING and no value, and rotation enabled.
   *
   * moto 5.2.1 workarounds (see toolchain.md and moto/secretsmanager/models.py):
   * - RotateSecret with a deployed function tries to run it in Docker, and without a function
   *   it moves AWSCURRENT to the empty version. With the ARN of a function that does not exist,
   *   it creates exactly AWS's placeholder (no value), enables rotation and then fails with
   *   ResourceNotFoundException before invoking anything: the harness expects that failure and
   *   checks the resulting state, so a moto that behaves differently fails loudly here.
   * - moto refuses RotateSecret while AWSPENDING sits on the AWSCURRENT version ("Previous
   *   rotation request is still in progress"), the state AWS's own template finishes in and AWS
   *   accepts. The harness removes that stale label first, as AWS's RotateSecret moves it.
   *   AWSPENDING on any other version is refused, as AWS refuses it.
   *
   * @returns the ClientRequestToken of the new version
   */
  public async startRotation(secretId: string): Promise<string> {
    const before = await this.versionStages(secretId);
    for (const [versionId, stages] of Object.entries(before)) {
      if (!stages.includes('AWSPENDING')) continue;
      if (!stages.includes('AWSCURRENT')) {
        throw new Error(
          `InvalidRequestException: A previous rotation isn't complete (version ${versionId} is AWSPENDING). That rotation will be reattempted.`,
        );
      }
      await this.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: versionId,
        }),
      );
    }

    const token = randomUUID();
    try {
      await this.secrets.send(
        new RotateSecretCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          RotationLambdaARN: UNDEPLOYED_ROTATION_FUNCTION_ARN,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: true,
        }),
      );
      throw new Error('moto RotateSecret unexpectedly found the undeployed rotation function');
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
    }

    const described = await this.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    const stages = described.VersionIdsToStages?.[token];
    const placeholderOk =
      described.RotationEnabled === true &&
      stages?.length === 1 &&
      stages[0] === 'AWSPENDING' &&
      (await this.hasNoValue(secretId, token, 'AWSPENDING'));
    if (!placeholderOk) {
      throw new Error(
        `The harness could not create RotateSecret's placeholder: version ${token} has stages ${JSON.stringify(stages)}, RotationEnabled ${String(described.RotationEnabled)}`,
      );
    }
    return token;
  }

  /**
   * What RotateSecret with `RotateImmediately=false` does before it invokes the function's
   * testSecret alone (a test of the rotation configuration): a new version carrying AWSPENDING,
   * rotation enabled. Called with the same undeployed function ARN as {@link startRotation}, moto
   * 5.2.1 creates that version, enables rotation, then fails with ResourceNotFoundException
   * before invoking anything; the harness expects that failure and checks the state.
   *
   * moto fills the version with a value (AWS's own placeholder has none): `FakeSecret.secret_string`,
   * which is the value the secret was *created* with and which neither PutSecretValue nor
   * UpdateSecretVersionStage ever changes. For a secret that never rotated that is a copy of
   * AWSCURRENT; after a rotation it is not. The caller gets the value to check what moto did.
   *
   * @returns the ClientRequestToken of the test version and the value moto put in it
   */
  public async startConfigurationTest(
    secretId: string,
  ): Promise<{ token: string; value: StoredSecretValue | undefined }> {
    const token = randomUUID();
    try {
      await this.secrets.send(
        new RotateSecretCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          RotationLambdaARN: UNDEPLOYED_ROTATION_FUNCTION_ARN,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: false,
        }),
      );
      throw new Error('moto RotateSecret unexpectedly found the undeployed rotation function');
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
    }
    const described = await this.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    const stages = described.VersionIdsToStages?.[token];
    if (described.RotationEnabled !== true || stages?.length !== 1 || stages[0] !== 'AWSPENDING') {
      throw new Error(
        `moto's RotateSecret(RotateImmediately=false) left version ${token} with stages ${JSON.stringify(stages)}, RotationEnabled ${String(described.RotationEnabled)}; expected AWSPENDING alone and rotation enabled`,
      );
    }
    const value = (await this.hasNoValue(secretId, token, 'AWSPENDING'))
      ? undefined
      : await this.secretValue(secretId, 'AWSPENDING', token);
    return { token, value };
  }

  /** Removes AWSPENDING from the test version, as Secrets Manager does after the test. */
  public async endConfigurationTest(secretId: string, token: string): Promise<void> {
    await this.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token,
      }),
    );
  }
}

/** Invokes one step as Secrets Manager does: the secret's ARN, the token, a Lambda context. */
export const invokeStep = async (
  handler: BundledHandler,
  step: (typeof ROTATION_STEPS)[number],
  secretArn: string,
  token: string,
): Promise<void> => {
  const startedAt = Date.now();
  await handler(
    { Step: step, SecretId: secretArn, ClientRequestToken: token },
    { getRemainingTimeInMillis: () => INVOCATION_BUDGET_MS - (Date.now() - startedAt) },
  );
};

/**
 * One complete rotation, driven step by step as Secrets Manager drives it.
 *
 * @param attemptsPerStep how many times each step is invoked (at-least-once delivery)
 * @returns the ClientRequestToken of the rotation
 */
export const rotate = async (
  aws: MotoAws,
  handler: BundledHandler,
  secretArn: string,
  attemptsPerStep = 1,
): Promise<string> => {
  const token = await aws.startRotation(secretArn);
  for (const step of ROTATION_STEPS) {
    for (let attempt = 0; attempt < attemptsPerStep; attempt++) {
      await invokeStep(handler, step, secretArn, token);
    }
  }
  return token;
};

/**
 * Signs STS GetCallerIdentity with `key`, with moto's request authentication on, so moto
 * verifies the SigV4 signature against the secret it holds for that key id. Returns the
 * caller's ARN. A wrong SecretAccessKey fails with SignatureDoesNotMatch.
 *
 * moto gap: STS accepts Inactive keys even with authentication on, so callers check the
 * key's status with ListAccessKeys too.
 */
export const callerArnSignedWith = async (
  endpoint: string,
  key: AccessKeyPair,
): Promise<string> => {
  const sts = new STSClient({ endpoint, region: REGION, credentials: key, maxAttempts: 1 });
  try {
    const output = await sts.send(new GetCallerIdentityCommand({}));
    return output.Arn ?? '';
  } finally {
    sts.destroy();
  }
};

/** Environment variables the bundled handler's SDK clients read at load and first call. */
const HANDLER_ENVIRONMENT_KEYS = [
  STACK_ID_ENV,
  'AWS_ENDPOINT_URL',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_MAX_ATTEMPTS',
  'AWS_ENDPOINT_URL_IAM',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'POWERTOOLS_LOG_LEVEL',
  'AWS_LAMBDA_LOG_LEVEL',
  'POWERTOOLS_METRICS_DISABLED',
] as const;

/**
 * The environment a Lambda container would give the bundled handler, pointed at moto and signing
 * with `credentials`: the stack id the stack sets ({@link STACK_ID}, what `AWS::StackId`
 * resolves to), the function's own variables from the template (`functionEnvironment`),
 * no shared AWS config, no instance metadata (nothing but 127.0.0.1 is ever contacted), and its
 * log lines and metrics lines silenced (test/lambda/metrics.test.ts checks the metrics).
 */
export const bundledHandlerEnvironment = (
  handlerFile: string,
  endpoint: string,
  credentials: AccessKeyPair,
  functionEnvironment: Readonly<Record<string, string>> = {},
): Record<string, string> => ({
  [STACK_ID_ENV]: STACK_ID,
  ...functionEnvironment,
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  AWS_CONFIG_FILE: `${handlerFile}.no-aws-config`,
  AWS_SHARED_CREDENTIALS_FILE: `${handlerFile}.no-aws-credentials`,
  AWS_EC2_METADATA_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
});

/**
 * Imports the bundled handler with the environment a Lambda container would give it (see
 * {@link bundledHandlerEnvironment}), the way Lambda's runtime does: a `.cjs` file through
 * Node's `require`, whose cache the asset's lazily required chunks share (their
 * `require("../index.cjs")` must find this same module: vitest's `import()` would load a
 * second copy, with its own error classes), an ES module through `import()`. The bundle builds its clients at module load and caches
 * the credentials on first use, so a test file imports it once per principal; a second
 * principal needs a process of its own (`invokeBundledHandlerInChild`). Returns the handler and
 * a function that restores the previous environment.
 *
 * @param functionEnvironment the function's `Environment.Variables` from the template, resolved
 */
export const importBundledHandler = async (
  handlerFile: string,
  handlerExport: string,
  endpoint: string,
  credentials: AccessKeyPair,
  functionEnvironment: Readonly<Record<string, string>> = {},
): Promise<{ handler: BundledHandler; restoreEnvironment: () => void }> => {
  const keys = new Set<string>([...HANDLER_ENVIRONMENT_KEYS, ...Object.keys(functionEnvironment)]);
  const saved = new Map([...keys].map((key) => [key, process.env[key]]));
  const restoreEnvironment = (): void => {
    for (const [key, value] of saved) {
      if (value === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = value;
    }
  };
  for (const key of keys) Reflect.deleteProperty(process.env, key);
  Object.assign(
    process.env,
    bundledHandlerEnvironment(handlerFile, endpoint, credentials, functionEnvironment),
  );
  try {
    const module = (
      handlerFile.endsWith('.cjs')
        ? createRequire(import.meta.url)(handlerFile)
        : await import(handlerFile)
    ) as Record<string, unknown>;
    const handler = module[handlerExport];
    if (typeof handler !== 'function') {
      throw new Error(`${handlerFile} does not export a function ${handlerExport}`);
    }
    return { handler: handler as BundledHandler, restoreEnvironment };
  } catch (error) {
    restoreEnvironment();
    throw error;
  }
};
