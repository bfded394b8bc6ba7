import { errorName } from '../../lambda/aws/aws-error.js';
import {
  AWSCURRENT,
  type SecretMetadata,
  type SecretStore,
} from '../../lambda/aws/secrets-manager-secret-store.js';
import { CURRENT_KEY_TAG_KEY } from '../../lambda/rotation/binding.js';
import { readVersionKey, versionsWithStage, type VersionKey } from '../secret-state.js';

/** The tag `iam-key-rotation:current-key`, `<versionId>:<accessKeyId>`, parsed. */
export interface CurrentKeyTag {
  readonly versionId: string;
  readonly accessKeyId: string;
}

/** IAM access key ids: 16-128 word characters (long-term keys start with AKIA). */
const ACCESS_KEY_ID_PATTERN = /^\w{16,128}$/;

/** Parses the tag's value; undefined when it is not `<versionId>:<accessKeyId>`. */
export const parseCurrentKeyTag = (value: string): CurrentKeyTag | undefined => {
  const separator = value.lastIndexOf(':');
  const versionId = value.slice(0, separator);
  const accessKeyId = value.slice(separator + 1);
  return separator > 0 && ACCESS_KEY_ID_PATTERN.test(accessKeyId)
    ? { versionId, accessKeyId }
    : undefined;
};

/** Which key the AWSCURRENT version holds, and how that was learnt. */
export interface CurrentKeyReading {
  /** The version that carries AWSCURRENT; absent when none does. */
  readonly versionId?: string;
  /** The AWSCURRENT version and its key; absent when none, or when the key is unknown. */
  readonly version?: VersionKey;
  /** `tag`: from the tag alone; `value`: GetSecretValue; absent: unknown or no version. */
  readonly source?: 'tag' | 'value';
  /** Why the tag could not be used (`tag absent`, `tag stale ...`), when it could not. */
  readonly tagProblem?: string;
  /** Why the key is unknown: the tag could not be used and GetSecretValue was denied. */
  readonly unknown?: string;
}

const DENIED = new Set(['AccessDeniedException', 'AccessDenied']);

/**
 * Finds the AWSCURRENT key id without reading the secret when the tag the function sets
 * (`iam-key-rotation:current-key`, when AWSCURRENT moves) names the AWSCURRENT version. When the
 * tag is absent or names another version (stale: a value put by hand, a rollback by an older
 * release), says so and reads the AWSCURRENT value instead (GetSecretValue; only the AccessKeyId
 * is kept); a principal denied that read (a read-only metadata role) gets `unknown`, not a
 * failure. The tag is a hint for this display only: nothing is decided on it.
 */
export const readCurrentKey = async (
  secrets: SecretStore,
  secret: SecretMetadata,
  userName: string,
): Promise<CurrentKeyReading> => {
  const versionId = versionsWithStage(secret, AWSCURRENT)[0];
  if (versionId === undefined) return {};
  const stages = secret.versionIdsToStages[versionId] ?? [];
  const raw = secret.tags[CURRENT_KEY_TAG_KEY];
  const tag = raw === undefined ? undefined : parseCurrentKeyTag(raw);
  if (tag?.versionId === versionId) {
    return {
      versionId,
      version: { versionId, stages, hasValue: true, accessKeyId: tag.accessKeyId },
      source: 'tag',
    };
  }
  const tagProblem =
    raw === undefined
      ? `tag absent (${CURRENT_KEY_TAG_KEY})`
      : tag === undefined
        ? `tag malformed (${CURRENT_KEY_TAG_KEY} is not <versionId>:<accessKeyId>)`
        : `tag stale (${CURRENT_KEY_TAG_KEY} names version ${tag.versionId}, ${AWSCURRENT} is version ${versionId})`;
  try {
    return {
      versionId,
      version: await readVersionKey(secrets, secret, userName, versionId, AWSCURRENT),
      source: 'value',
      tagProblem,
    };
  } catch (error) {
    const name = errorName(error);
    if (name === undefined || !DENIED.has(name)) throw error;
    return {
      versionId,
      tagProblem,
      unknown: `GetSecretValue of ${AWSCURRENT} was denied (${name})`,
    };
  }
};
