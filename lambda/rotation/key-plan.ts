import type { AccessKeyMetadata } from '../aws/iam-access-key-store.js';

/** IAM's AccessKeysPerUser quota; inactive keys count. */
export const ACCESS_KEYS_PER_USER = 2;

export interface KeyRemovalPlan {
  /** Active keys nobody stored: created after the AWSCURRENT version by a crashed attempt. */
  readonly orphans: readonly AccessKeyMetadata[];
  /** Keys retired: every other key that is not Active, then the oldest Active ones for room. */
  readonly retire: readonly AccessKeyMetadata[];
}

export interface KeyRemovalInput {
  readonly keys: readonly AccessKeyMetadata[];
  /** The AccessKeyId stored in AWSCURRENT, if any. It is never planned for removal. */
  readonly currentAccessKeyId: string | undefined;
  /**
   * When the AWSCURRENT version was created. An Active key created at or after it (to the
   * second, IAM's precision) that AWSCURRENT does not hold can only come from a rotation
   * attempt whose secret was never stored: an orphan. `undefined` disables orphan detection.
   */
  readonly orphanCutoff: Date | undefined;
}

/**
 * True when the AWSCURRENT version's creation date can change the plan: only before the
 * secret holds a key (the first rotation keeps a key the user had before, but not an orphan)
 * and only when some key is Active. Once the secret holds a key, every other key goes anyway,
 * so the date (a ListSecretVersionIds call) would change nothing.
 */
export const needsOrphanCutoff = (
  keys: readonly AccessKeyMetadata[],
  currentAccessKeyId: string | undefined,
): boolean => currentAccessKeyId === undefined && keys.some((key) => key.status === 'Active');

const retirementOrder = (left: AccessKeyMetadata, right: AccessKeyMetadata): number => {
  const leftActive = left.status === 'Active' ? 1 : 0;
  const rightActive = right.status === 'Active' ? 1 : 0;
  if (leftActive !== rightActive) return leftActive - rightActive;
  const byAge = left.createDate.getTime() - right.createDate.getTime();
  if (byAge !== 0) return byAge;
  return left.accessKeyId < right.accessKeyId ? -1 : left.accessKeyId > right.accessKeyId ? 1 : 0;
};

/**
 * Decides which keys to remove before CreateAccessKey. Pure: the caller performs the plan.
 * The AWSCURRENT key is never in it. Removed are: orphans; every other key that is not Active
 * (it can authenticate nothing; in the steady state that is the AWSPREVIOUS key, whose
 * rollback role ends with this rotation); then, once the secret holds a key, every other
 * Active key, or, at the first rotation, the oldest other Active key while the user would
 * still hold two keys.
 */
export const planKeyRemoval = (input: KeyRemovalInput): KeyRemovalPlan => {
  const { keys, currentAccessKeyId, orphanCutoff } = input;
  const cutoffMs =
    orphanCutoff === undefined ? undefined : Math.floor(orphanCutoff.getTime() / 1000) * 1000;
  const others = keys.filter((key) => key.accessKeyId !== currentAccessKeyId);
  const orphans =
    cutoffMs === undefined
      ? []
      : others.filter((key) => key.status === 'Active' && key.createDate.getTime() >= cutoffMs);
  const inactive = others.filter((key) => key.status !== 'Active').sort(retirementOrder);
  const activeOthers = others
    .filter((key) => key.status === 'Active' && !orphans.includes(key))
    .sort(retirementOrder);
  const kept = keys.length - orphans.length - inactive.length;
  // Once the secret holds a key, every other key goes, even when the AWSCURRENT key itself was
  // deleted by hand; only the first rotation keeps a key the user had before the secret.
  const excess =
    currentAccessKeyId === undefined
      ? Math.max(0, kept - (ACCESS_KEYS_PER_USER - 1))
      : activeOthers.length;
  return { orphans, retire: [...inactive, ...activeOthers.slice(0, excess)] };
};
