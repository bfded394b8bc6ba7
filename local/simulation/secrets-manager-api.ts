import { AwsServiceError } from './errors.js';
import type { Tag } from './iam.js';
import type { SecretState, SecretsManagerModel } from './secrets-manager.js';
import { epochSeconds } from './wire.js';

/** The Secrets Manager operations the simulation serves (JSON 1.1), on {@link SecretsManagerModel}. */

const str = (params: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new AwsServiceError(
      'InvalidParameterException',
      `${name} must be a string, got ${typeof value}`,
    );
  }
  return value;
};

const requiredStr = (params: Readonly<Record<string, unknown>>, name: string): string => {
  const value = str(params, name);
  if (value === undefined || value === '') {
    throw new AwsServiceError('InvalidParameterException', `${name} is required`);
  }
  return value;
};

const optional = <K extends string>(
  params: Readonly<Record<string, unknown>>,
  names: readonly K[],
): Partial<Record<K, string>> => {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const value = str(params, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
};

/** `Tags`: a list of `{Key, Value}` (a missing Value is an empty one, as for the SDK's Tag). */
const tagsParam = (params: Readonly<Record<string, unknown>>): Tag[] => {
  const tags = params.Tags;
  if (!Array.isArray(tags)) {
    throw new AwsServiceError('InvalidParameterException', 'Tags is required');
  }
  return tags.map((tag: unknown, index): Tag => {
    const { Key, Value } = (typeof tag === 'object' && tag !== null ? tag : {}) as {
      Key?: unknown;
      Value?: unknown;
    };
    if (
      typeof Key !== 'string' ||
      Key === '' ||
      (Value !== undefined && typeof Value !== 'string')
    ) {
      throw new AwsServiceError(
        'InvalidParameterException',
        `Tags[${index}] must have a non-empty string Key and a string Value`,
      );
    }
    return { Key, Value: Value ?? '' };
  });
};

/** `TagKeys`: a list of strings. */
const tagKeysParam = (params: Readonly<Record<string, unknown>>): string[] => {
  const keys = params.TagKeys;
  if (!Array.isArray(keys) || !keys.every((key): key is string => typeof key === 'string')) {
    throw new AwsServiceError('InvalidParameterException', 'TagKeys must be a list of strings');
  }
  return keys;
};

/** DescribeSecret's answer for `secret`. */
export const describeSecret = (secret: SecretState): Record<string, unknown> => {
  const versionIdsToStages: Record<string, string[]> = {};
  for (const version of secret.versions.values()) {
    if (version.stages.size > 0) versionIdsToStages[version.versionId] = [...version.stages];
  }
  return {
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description === undefined ? {} : { Description: secret.description }),
    ...(secret.rotationEnabled === undefined ? {} : { RotationEnabled: secret.rotationEnabled }),
    ...(secret.rotationLambdaArn === undefined
      ? {}
      : { RotationLambdaARN: secret.rotationLambdaArn }),
    ...(secret.rotationRules === undefined ? {} : { RotationRules: secret.rotationRules }),
    ...(secret.lastRotatedDate === undefined
      ? {}
      : { LastRotatedDate: epochSeconds(secret.lastRotatedDate) }),
    LastChangedDate: epochSeconds(secret.lastChangedDate),
    ...(secret.lastAccessedDate === undefined
      ? {}
      : { LastAccessedDate: epochSeconds(secret.lastAccessedDate) }),
    ...(secret.tags.length === 0 ? {} : { Tags: secret.tags }),
    VersionIdsToStages: versionIdsToStages,
    CreatedDate: epochSeconds(secret.createdDate),
  };
};

/**
 * Runs one Secrets Manager operation and returns its JSON answer. `rotatingSecretArn` is the
 * secret whose rotation function makes the call, if any (see {@link SecretsManagerModel.putSecretValue}).
 */
export const executeSecretsManager = (
  sm: SecretsManagerModel,
  operation: string,
  params: Readonly<Record<string, unknown>>,
  rotatingSecretArn: string | undefined,
): Record<string, unknown> => {
  switch (operation) {
    case 'CreateSecret': {
      const secret = sm.createSecret({
        Name: requiredStr(params, 'Name'),
        ...optional(params, ['ClientRequestToken', 'Description', 'SecretString', 'SecretBinary']),
        ...(Array.isArray(params.Tags) ? { Tags: params.Tags as Tag[] } : {}),
      });
      const current = sm.holderOf(secret, 'AWSCURRENT');
      return {
        ARN: secret.arn,
        Name: secret.name,
        ...(current === undefined ? {} : { VersionId: current.versionId }),
      };
    }
    case 'DescribeSecret':
      return describeSecret(sm.get(requiredStr(params, 'SecretId')));
    case 'GetSecretValue': {
      const { secret, version, value } = sm.getSecretValue({
        SecretId: requiredStr(params, 'SecretId'),
        ...optional(params, ['VersionId', 'VersionStage']),
      });
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        ...value,
        VersionStages: [...version.stages],
        CreatedDate: epochSeconds(version.createdDate),
      };
    }
    case 'PutSecretValue': {
      const stages = params.VersionStages;
      const { secret, version } = sm.putSecretValue(
        {
          SecretId: requiredStr(params, 'SecretId'),
          ...optional(params, ['ClientRequestToken', 'SecretString', 'SecretBinary']),
          ...(Array.isArray(stages) ? { VersionStages: stages as string[] } : {}),
        },
        rotatingSecretArn === undefined ? {} : { rotatingSecretArn },
      );
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        VersionStages: [...version.stages],
      };
    }
    case 'UpdateSecretVersionStage': {
      const secret = sm.updateSecretVersionStage({
        SecretId: requiredStr(params, 'SecretId'),
        VersionStage: requiredStr(params, 'VersionStage'),
        ...optional(params, ['MoveToVersionId', 'RemoveFromVersionId']),
      });
      return { ARN: secret.arn, Name: secret.name };
    }
    case 'ListSecretVersionIds': {
      const secret = sm.get(requiredStr(params, 'SecretId'));
      const includeDeprecated = params.IncludeDeprecated === true;
      const versions = [...secret.versions.values()].filter(
        (v) => includeDeprecated || v.stages.size > 0,
      );
      const maxResults = typeof params.MaxResults === 'number' ? params.MaxResults : 100;
      const start = Number(str(params, 'NextToken') ?? '0');
      const page = versions.slice(start, start + maxResults);
      return {
        ARN: secret.arn,
        Name: secret.name,
        Versions: page.map((v) => ({
          VersionId: v.versionId,
          VersionStages: [...v.stages],
          CreatedDate: epochSeconds(v.createdDate),
          ...(v.lastAccessedDate === undefined
            ? {}
            : { LastAccessedDate: epochSeconds(v.lastAccessedDate) }),
        })),
        ...(start + maxResults < versions.length ? { NextToken: String(start + maxResults) } : {}),
      };
    }
    case 'RotateSecret': {
      const { secret, versionId } = sm.rotateSecret({
        SecretId: requiredStr(params, 'SecretId'),
        ...optional(params, ['ClientRequestToken', 'RotationLambdaARN']),
        ...(typeof params.RotationRules === 'object' && params.RotationRules !== null
          ? { RotationRules: params.RotationRules }
          : {}),
        ...(typeof params.RotateImmediately === 'boolean'
          ? { RotateImmediately: params.RotateImmediately }
          : {}),
      });
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId };
    }
    case 'TagResource':
      sm.tagResource(requiredStr(params, 'SecretId'), tagsParam(params));
      return {};
    case 'UntagResource':
      sm.untagResource(requiredStr(params, 'SecretId'), tagKeysParam(params));
      return {};
    case 'CancelRotateSecret': {
      const secret = sm.cancelRotateSecret(requiredStr(params, 'SecretId'));
      return { ARN: secret.arn, Name: secret.name };
    }
    default:
      throw new AwsServiceError(
        'UnknownOperationException',
        `The simulation does not implement Secrets Manager ${operation}`,
      );
  }
};
