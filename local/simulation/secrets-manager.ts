import type { Clock } from './clock.js';
import { AwsServiceError } from './errors.js';
import type { Tag } from './iam.js';
import type { SeededRandom } from './random.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

/** The value of a version. Sensitive: never log it. */
export interface SecretValue {
  readonly SecretString?: string;
  /** Base64, as on the wire. */
  readonly SecretBinary?: string;
}

export interface SecretVersion {
  readonly versionId: string;
  /** Absent on the placeholder RotateSecret creates, until PutSecretValue stores one. */
  value?: SecretValue;
  readonly stages: Set<string>;
  readonly createdDate: number;
  lastAccessedDate?: number;
  /**
   * Bookkeeping of the simulation that AWS does not expose (tests judge the function by it):
   * every staging label the version ever carried, and whether its value was stored by the
   * secret's rotation function (a PutSecretValue inside its rotation) rather than by anyone else.
   */
  readonly labelsEverHeld: Set<string>;
  storedByRotation?: boolean;
}

export interface RotationRules {
  readonly AutomaticallyAfterDays?: number;
  readonly Duration?: string;
  readonly ScheduleExpression?: string;
}

export interface SecretState {
  readonly arn: string;
  readonly name: string;
  description?: string;
  readonly createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  lastRotatedDate?: number;
  /** Absent until rotation was ever configured: DescribeSecret then omits RotationEnabled. */
  rotationEnabled?: boolean;
  rotationLambdaArn?: string;
  rotationRules?: RotationRules;
  tags: Tag[];
  /** In creation order. */
  readonly versions: Map<string, SecretVersion>;
}

/** What Secrets Manager does around a rotation; implemented by the simulation's rotation runner. */
export interface RotationHooks {
  isRotationFunction(arn: string): boolean;
  /** RotateSecret accepted: run the rotation (or, not immediately, only testSecret) asynchronously. */
  startRotation(secret: SecretState, token: string, rotateImmediately: boolean): void;
  /** Someone else's PutSecretValue removed AWSPENDING from `versionId`: stop that rotation. */
  abandonRotation(secret: SecretState, versionId: string): void;
}

/** Who is calling, as far as Secrets Manager's rotation rules care. */
export interface SecretsManagerCaller {
  /** ARN of the secret whose rotation function this call runs in, if any. */
  readonly rotatingSecretArn?: string;
}

export const ROTATION_INCOMPLETE_MESSAGE =
  "A previous rotation isn't complete. That rotation will be reattempted.";

const secretNotFound = (): AwsServiceError =>
  new AwsServiceError(
    'ResourceNotFoundException',
    "Secrets Manager can't find the specified secret.",
  );

const invalidParameter = (message: string): AwsServiceError =>
  new AwsServiceError('InvalidParameterException', message);

const invalidRequest = (message: string): AwsServiceError =>
  new AwsServiceError('InvalidRequestException', message);

/** The tag key prefix AWS reserves for itself (CloudFormation's `aws:cloudformation:*`, ...). */
export const RESERVED_TAG_PREFIX = 'aws:';

const isReserved = (key: string): boolean => key.toLowerCase().startsWith(RESERVED_TAG_PREFIX);

/**
 * AWS refuses a caller's tag whose key starts with `aws:` (the prefix is reserved for AWS: no
 * principal can create, change or remove such a tag; shared/docs/aws-rotation-facts.md). The
 * error code is not documented; InvalidParameterException is what the API lists for bad tags.
 */
const refuseReservedTagKeys = (operation: string, keys: readonly string[]): void => {
  const reserved = keys.find(isReserved);
  if (reserved !== undefined) {
    throw invalidParameter(
      `${operation}: tag key ${JSON.stringify(reserved.slice(0, 128))} uses the reserved prefix ${RESERVED_TAG_PREFIX}; only AWS can set, change or remove such tags`,
    );
  }
};

/** What CloudFormation adds to a secret of a stack: its system tags. */
export interface CloudFormationOrigin {
  readonly stackId: string;
  readonly stackName: string;
  readonly logicalId: string;
}

const sameValue = (a: SecretValue, b: SecretValue): boolean =>
  a.SecretString === b.SecretString && a.SecretBinary === b.SecretBinary;

const RATE_EXPRESSION = /^rate\((\d+) (hour|hours|day|days)\)$/;

/** Validates rotation rules as RotateSecret does; messages show the bad value. */
export const validateRotationRules = (rules: RotationRules): void => {
  const days = rules.AutomaticallyAfterDays;
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 1000)) {
    throw invalidParameter(`AutomaticallyAfterDays must be between 1 and 1000, got ${days}`);
  }
  const expression = rules.ScheduleExpression;
  if (expression !== undefined) {
    const rate = RATE_EXPRESSION.exec(expression);
    if (rate !== null) {
      const amount = Number(rate[1]);
      const hours = rate[2]?.startsWith('hour') === true ? amount : amount * 24;
      if (hours < 4) {
        throw invalidParameter(
          `ScheduleExpression must not be shorter than 4 hours, got ${expression}`,
        );
      }
    } else if (!/^cron\(.+\)$/.test(expression)) {
      throw invalidParameter(
        `ScheduleExpression must be rate(...) or cron(...), got ${expression}`,
      );
    }
  }
};

/** The secrets of one account and region, and the Secrets Manager operations on them. */
export class SecretsManagerModel {
  private readonly secrets = new Map<string, SecretState>();

  public constructor(
    private readonly region: string,
    private readonly accountId: string,
    private readonly clock: Clock,
    private readonly random: SeededRandom,
    private readonly hooks: RotationHooks,
  ) {}

  /** Finds a secret by name or full ARN. */
  public find(secretId: string): SecretState | undefined {
    const byName = this.secrets.get(secretId);
    if (byName !== undefined) return byName;
    return [...this.secrets.values()].find((secret) => secret.arn === secretId);
  }

  public get(secretId: string): SecretState {
    const secret = this.find(secretId);
    if (secret === undefined) throw secretNotFound();
    return secret;
  }

  public all(): SecretState[] {
    return [...this.secrets.values()];
  }

  /**
   * CreateSecret. A caller's `aws:` tag is refused; `origin`, given only when CloudFormation
   * creates the secret for a stack (never through the API), adds CloudFormation's system tags
   * `aws:cloudformation:stack-id`, `stack-name` and `logical-id`.
   */
  public createSecret(
    input: {
      Name: string;
      ClientRequestToken?: string;
      Description?: string;
      SecretString?: string;
      SecretBinary?: string;
      Tags?: Tag[];
    },
    origin?: CloudFormationOrigin,
  ): SecretState {
    refuseReservedTagKeys(
      'CreateSecret',
      (input.Tags ?? []).map((tag) => tag.Key),
    );
    if (!/^[\w/+=.@-]{1,512}$/.test(input.Name)) {
      throw invalidParameter(`Invalid name: ${JSON.stringify(input.Name)}`);
    }
    if (this.secrets.has(input.Name)) {
      throw new AwsServiceError(
        'ResourceExistsException',
        `The operation failed because the secret ${input.Name} already exists.`,
      );
    }
    if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
      throw invalidParameter('You can only specify one of SecretString and SecretBinary.');
    }
    const now = this.clock.now();
    const secret: SecretState = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${input.Name}-${this.random.arnSuffix()}`,
      name: input.Name,
      createdDate: now,
      lastChangedDate: now,
      tags: [
        ...(input.Tags ?? []),
        ...(origin === undefined
          ? []
          : [
              { Key: 'aws:cloudformation:stack-name', Value: origin.stackName },
              { Key: 'aws:cloudformation:logical-id', Value: origin.logicalId },
              { Key: 'aws:cloudformation:stack-id', Value: origin.stackId },
            ]),
      ],
      versions: new Map(),
      ...(input.Description === undefined ? {} : { description: input.Description }),
    };
    const value = this.valueOf(input);
    if (value !== undefined) {
      const versionId = input.ClientRequestToken ?? this.random.uuid();
      secret.versions.set(versionId, {
        versionId,
        value,
        stages: new Set([AWSCURRENT]),
        createdDate: now,
        labelsEverHeld: new Set([AWSCURRENT]),
      });
    }
    this.secrets.set(input.Name, secret);
    return secret;
  }

  /**
   * DeleteSecret with ForceDeleteWithoutRecovery, as CloudFormation deletes a stack's secret: the
   * secret and its versions are gone and its name is free at once (no recovery window).
   */
  public forceDeleteSecret(secretId: string): void {
    this.secrets.delete(this.get(secretId).name);
  }

  /**
   * GetSecretValue: by VersionId and/or VersionStage (default AWSCURRENT). A version without a
   * value (the AWSPENDING placeholder of RotateSecret) is ResourceNotFoundException.
   */
  public getSecretValue(input: { SecretId: string; VersionId?: string; VersionStage?: string }): {
    secret: SecretState;
    version: SecretVersion;
    value: SecretValue;
  } {
    const secret = this.get(input.SecretId);
    let version: SecretVersion | undefined;
    if (input.VersionId !== undefined) {
      version = secret.versions.get(input.VersionId);
      if (version === undefined) {
        throw new AwsServiceError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${input.VersionId}`,
        );
      }
      if (input.VersionStage !== undefined && !version.stages.has(input.VersionStage)) {
        throw invalidRequest(
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
    } else {
      const stage = input.VersionStage ?? AWSCURRENT;
      version = this.holderOf(secret, stage);
      if (version === undefined) {
        throw new AwsServiceError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
        );
      }
    }
    if (version.value === undefined) {
      throw new AwsServiceError(
        'ResourceNotFoundException',
        input.VersionStage === undefined
          ? `Secrets Manager can't find the specified secret value for VersionId: ${version.versionId}`
          : `Secrets Manager can't find the specified secret value for staging label: ${input.VersionStage}`,
      );
    }
    const now = this.clock.now();
    version.lastAccessedDate = now;
    secret.lastAccessedDate = now;
    return { secret, version, value: version.value };
  }

  /**
   * PutSecretValue. Same token and same value: ignored (idempotent); same token and a different
   * value: ResourceExistsException; the token of the valueless AWSPENDING placeholder: stores
   * the value there. A call from outside the secret's rotation function abandons an incomplete
   * rotation: AWSPENDING is removed first.
   */
  public putSecretValue(
    input: {
      SecretId: string;
      ClientRequestToken?: string;
      SecretString?: string;
      SecretBinary?: string;
      VersionStages?: string[];
    },
    caller: SecretsManagerCaller,
  ): { secret: SecretState; version: SecretVersion } {
    const secret = this.get(input.SecretId);
    const value = this.valueOf(input);
    if (value === undefined) {
      throw invalidParameter('You must provide either SecretString or SecretBinary.');
    }
    if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
      throw invalidParameter('You can only specify one of SecretString and SecretBinary.');
    }
    const versionId = input.ClientRequestToken ?? this.random.uuid();
    const stages = input.VersionStages ?? [AWSCURRENT];
    const existing = secret.versions.get(versionId);
    if (existing?.value !== undefined) {
      if (sameValue(existing.value, value)) return { secret, version: existing };
      throw new AwsServiceError(
        'ResourceExistsException',
        `You can't use ClientRequestToken ${versionId} because that value is already in use for a version of secret ${secret.arn}.`,
      );
    }
    if (caller.rotatingSecretArn !== secret.arn) this.abandonIncompleteRotation(secret);
    const version: SecretVersion = existing ?? {
      versionId,
      stages: new Set(),
      createdDate: this.clock.now(),
      labelsEverHeld: new Set(),
    };
    version.value = value;
    version.storedByRotation = caller.rotatingSecretArn === secret.arn;
    secret.versions.set(versionId, version);
    for (const stage of stages) this.attachStage(secret, stage, version);
    secret.lastChangedDate = this.clock.now();
    return { secret, version };
  }

  /**
   * UpdateSecretVersionStage. A label attached to another version can only move if
   * RemoveFromVersionId names that version (InvalidParameterException otherwise); moving
   * AWSCURRENT gives the old current version AWSPREVIOUS.
   */
  public updateSecretVersionStage(input: {
    SecretId: string;
    VersionStage: string;
    MoveToVersionId?: string;
    RemoveFromVersionId?: string;
  }): SecretState {
    const secret = this.get(input.SecretId);
    const stage = input.VersionStage;
    const holder = this.holderOf(secret, stage);
    const { MoveToVersionId: moveTo, RemoveFromVersionId: removeFrom } = input;
    if (moveTo === undefined && removeFrom === undefined) {
      throw invalidParameter('You must specify MoveToVersionId or RemoveFromVersionId.');
    }
    if (removeFrom !== undefined) {
      if (!secret.versions.has(removeFrom))
        throw invalidParameter(`Not a valid version: ${removeFrom}`);
      if (holder?.versionId !== removeFrom) {
        throw invalidParameter(`Version stage ${stage} not found in version ${removeFrom}`);
      }
    }
    if (moveTo === undefined) {
      if (stage === AWSCURRENT) {
        throw invalidParameter(
          'You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.',
        );
      }
      holder?.stages.delete(stage);
      secret.lastChangedDate = this.clock.now();
      return secret;
    }
    const target = secret.versions.get(moveTo);
    if (target === undefined) throw invalidParameter(`Not a valid version: ${moveTo}`);
    if (holder !== undefined && holder !== target && holder.versionId !== removeFrom) {
      throw invalidParameter(
        `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    this.attachStage(secret, stage, target);
    secret.lastChangedDate = this.clock.now();
    return secret;
  }

  /**
   * RotateSecret. Fails while AWSPENDING sits on a version that is not AWSCURRENT; otherwise
   * enables rotation, attaches AWSPENDING to a new version without a value whose id is the
   * ClientRequestToken, and hands the rotation to {@link RotationHooks.startRotation}.
   */
  public rotateSecret(input: {
    SecretId: string;
    ClientRequestToken?: string;
    RotationLambdaARN?: string;
    RotationRules?: RotationRules;
    RotateImmediately?: boolean;
  }): { secret: SecretState; versionId: string } {
    const secret = this.get(input.SecretId);
    const functionArn = input.RotationLambdaARN ?? secret.rotationLambdaArn;
    if (functionArn === undefined) {
      throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
    }
    if (!this.hooks.isRotationFunction(functionArn)) {
      throw new AwsServiceError(
        'AccessDeniedException',
        `Secrets Manager cannot invoke the specified Lambda function ${functionArn}.`,
      );
    }
    if (input.RotationRules !== undefined) validateRotationRules(input.RotationRules);
    if (this.hasIncompleteRotation(secret)) throw invalidRequest(ROTATION_INCOMPLETE_MESSAGE);
    const versionId = input.ClientRequestToken ?? this.random.uuid();
    if (secret.versions.has(versionId)) {
      throw new AwsServiceError(
        'ResourceExistsException',
        `You can't use ClientRequestToken ${versionId} because that value is already in use for a version of secret ${secret.arn}.`,
      );
    }
    secret.rotationEnabled = true;
    secret.rotationLambdaArn = functionArn;
    if (input.RotationRules !== undefined) secret.rotationRules = input.RotationRules;
    this.createPendingVersion(secret, versionId);
    this.hooks.startRotation(secret, versionId, input.RotateImmediately ?? true);
    return { secret, versionId };
  }

  /**
   * TagResource (a caller's `aws:` key is refused): adds the tags to the secret; a tag whose key the secret already has (keys are
   * case-sensitive in Secrets Manager) gets the new value in place.
   */
  public tagResource(secretId: string, tags: readonly Tag[]): SecretState {
    refuseReservedTagKeys(
      'TagResource',
      tags.map((tag) => tag.Key),
    );
    const secret = this.get(secretId);
    const merged = [...secret.tags];
    for (const tag of tags) {
      const tagged = { Key: tag.Key, Value: tag.Value };
      const index = merged.findIndex((existing) => existing.Key === tag.Key);
      if (index === -1) merged.push(tagged);
      else merged[index] = tagged;
    }
    secret.tags = merged;
    return secret;
  }

  /** UntagResource (a caller's `aws:` key is refused): removes the tags with these keys; keys the secret does not have are ignored. */
  public untagResource(secretId: string, tagKeys: readonly string[]): SecretState {
    refuseReservedTagKeys('UntagResource', tagKeys);
    const secret = this.get(secretId);
    secret.tags = secret.tags.filter((tag) => !tagKeys.includes(tag.Key));
    return secret;
  }

  public cancelRotateSecret(secretId: string): SecretState {
    const secret = this.get(secretId);
    secret.rotationEnabled = false;
    return secret;
  }

  /** AWSPENDING sits on a version that is not AWSCURRENT. */
  public hasIncompleteRotation(secret: SecretState): boolean {
    const pending = this.holderOf(secret, AWSPENDING);
    return pending !== undefined && !pending.stages.has(AWSCURRENT);
  }

  /** Attaches AWSPENDING to a new version without a value (moving it from wherever it was). */
  public createPendingVersion(secret: SecretState, versionId: string): SecretVersion {
    const version: SecretVersion = {
      versionId,
      stages: new Set(),
      createdDate: this.clock.now(),
      labelsEverHeld: new Set(),
    };
    secret.versions.set(versionId, version);
    this.attachStage(secret, AWSPENDING, version);
    return version;
  }

  public holderOf(secret: SecretState, stage: string): SecretVersion | undefined {
    return [...secret.versions.values()].find((version) => version.stages.has(stage));
  }

  /** Removes AWSPENDING from a non-current version and tells the rotation runner. */
  public abandonIncompleteRotation(secret: SecretState): void {
    const pending = this.holderOf(secret, AWSPENDING);
    if (pending === undefined || pending.stages.has(AWSCURRENT)) return;
    pending.stages.delete(AWSPENDING);
    this.hooks.abandonRotation(secret, pending.versionId);
  }

  /** Moves `stage` to `target`; moving AWSCURRENT moves AWSPREVIOUS to the old current version. */
  private attachStage(secret: SecretState, stage: string, target: SecretVersion): void {
    const holder = this.holderOf(secret, stage);
    if (holder === target) return;
    holder?.stages.delete(stage);
    target.stages.add(stage);
    target.labelsEverHeld.add(stage);
    if (stage === AWSCURRENT && holder !== undefined) {
      this.holderOf(secret, AWSPREVIOUS)?.stages.delete(AWSPREVIOUS);
      holder.stages.add(AWSPREVIOUS);
      holder.labelsEverHeld.add(AWSPREVIOUS);
      target.stages.delete(AWSPREVIOUS);
    }
  }

  private valueOf(input: {
    SecretString?: string;
    SecretBinary?: string;
  }): SecretValue | undefined {
    if (input.SecretString !== undefined) return { SecretString: input.SecretString };
    if (input.SecretBinary !== undefined) return { SecretBinary: input.SecretBinary };
    return undefined;
  }
}
