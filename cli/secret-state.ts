import type { AccessKeyMetadata } from '../lambda/aws/iam-access-key-store.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  type SecretMetadata,
  type SecretStore,
} from '../lambda/aws/secrets-manager-secret-store.js';
import { InvalidSecretValueError } from '../lambda/errors.js';
import { parseSecretValue } from '../lambda/rotation/secret-value.js';
import { formatRelative, shortVersionId } from './format.js';

/** One labelled version of a secret and the access key its value holds. */
export interface VersionKey {
  readonly versionId: string;
  readonly stages: readonly string[];
  /** False for RotateSecret's placeholder, which has no value until createSecret stores one. */
  readonly hasValue: boolean;
  /** The AccessKeyId of its value; absent when it holds none (`{"UserName"}` only). */
  readonly accessKeyId?: string;
  /** Why its value cannot be used (malformed, or naming another user); never its content. */
  readonly problem?: string;
}

/** Which version carries which label, and the keys they hold. */
export interface SecretVersions {
  readonly current?: VersionKey;
  readonly previous?: VersionKey;
  /**
   * Versions that carry AWSPENDING but not AWSCURRENT: a rotation in progress, one failing and
   * being retried, or a label left behind. Any of them blocks RotateSecret.
   */
  readonly pending: readonly VersionKey[];
}

/** The ids of the versions that carry `stage`. */
export const versionsWithStage = (secret: SecretMetadata, stage: string): string[] =>
  Object.entries(secret.versionIdsToStages)
    .filter(([, stages]) => stages.includes(stage))
    .map(([versionId]) => versionId);

/** Versions that carry AWSPENDING but not AWSCURRENT (see {@link SecretVersions.pending}). */
export const pendingVersionIds = (secret: SecretMetadata): string[] =>
  versionsWithStage(secret, AWSPENDING).filter(
    (versionId) => secret.versionIdsToStages[versionId]?.includes(AWSCURRENT) !== true,
  );

/**
 * Reads the value of one version (GetSecretValue with its id and one of its labels, as moto and
 * AWS both need) and keeps only the AccessKeyId. The secret access key is never kept.
 */
export const readVersionKey = async (
  secrets: SecretStore,
  secret: SecretMetadata,
  userName: string,
  versionId: string,
  versionStage: string,
): Promise<VersionKey> => {
  const stages = secret.versionIdsToStages[versionId] ?? [];
  const secretString = await secrets.getSecretString(secret.arn, { versionId, versionStage });
  if (secretString === undefined) return { versionId, stages, hasValue: false };
  try {
    const value = parseSecretValue(secretString, { secretId: secret.arn, version: versionId });
    if (value.userName !== userName) {
      return {
        versionId,
        stages,
        hasValue: true,
        problem: `Secret ${secret.arn} version ${versionId} names IAM user ${value.userName} in its UserName, but the secret's tag binds it to ${userName}`,
      };
    }
    return {
      versionId,
      stages,
      hasValue: true,
      ...(value.credentials === undefined ? {} : { accessKeyId: value.credentials.accessKeyId }),
    };
  } catch (error) {
    if (!(error instanceof InvalidSecretValueError)) throw error;
    return { versionId, stages, hasValue: true, problem: error.message };
  }
};

/** Reads the AWSCURRENT, AWSPREVIOUS and pending versions of a secret and the keys they hold. */
export const readSecretVersions = async (
  secrets: SecretStore,
  secret: SecretMetadata,
  userName: string,
): Promise<SecretVersions> => {
  const read = (versionId: string | undefined, stage: string): Promise<VersionKey | undefined> =>
    versionId === undefined
      ? Promise.resolve(undefined)
      : readVersionKey(secrets, secret, userName, versionId, stage);
  const [current, previous, ...pending] = await Promise.all([
    read(versionsWithStage(secret, AWSCURRENT)[0], AWSCURRENT),
    read(versionsWithStage(secret, AWSPREVIOUS)[0], AWSPREVIOUS),
    ...pendingVersionIds(secret).map((versionId) => read(versionId, AWSPENDING)),
  ]);
  return {
    ...(current === undefined ? {} : { current }),
    ...(previous === undefined ? {} : { previous }),
    pending: pending.filter((version): version is VersionKey => version !== undefined),
  };
};

/** `AKIA... (Active, created 3d ago)`, `AKIA... (deleted)`, `no access key`. */
export const describeKey = (
  version: VersionKey,
  keys: readonly AccessKeyMetadata[],
  now: number,
): string => {
  if (version.problem !== undefined) return 'unreadable value:';
  if (!version.hasValue) return 'no value yet (RotateSecret placeholder)';
  if (version.accessKeyId === undefined) return 'no access key ({"UserName"} only)';
  const key = keys.find((candidate) => candidate.accessKeyId === version.accessKeyId);
  return key === undefined
    ? `access key ${version.accessKeyId} (deleted)`
    : `access key ${version.accessKeyId} (${key.status}, created ${formatRelative(key.createDate, now)})`;
};

/** One line per labelled version: its labels, its id and its key. */
export const versionLines = (
  versions: SecretVersions,
  keys: readonly AccessKeyMetadata[],
  now: number,
): string[] => {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const version of [versions.current, versions.previous, ...versions.pending]) {
    if (version === undefined || seen.has(version.versionId)) continue;
    seen.add(version.versionId);
    lines.push(
      `  ${version.stages.join(', ').padEnd(24)} version ${shortVersionId(version.versionId).padEnd(10)} ${describeKey(version, keys, now)}`,
    );
    if (version.problem !== undefined) lines.push(`    ${version.problem}`);
  }
  if (lines.length === 0) lines.push('  (no labelled versions)');
  return lines;
};
