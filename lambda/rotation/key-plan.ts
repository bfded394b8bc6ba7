import type { AccessKeyLastUse, AccessKeyMetadata } from '../aws/iam-access-key-store.js';

/** IAM's AccessKeysPerUser quota; inactive keys count. */
export const ACCESS_KEYS_PER_USER = 2;

const DAY_MS = 86_400_000;

/**
 * Why a key is removed:
 * - `not Active`: Inactive or Expired, it authenticates nothing (in the steady state, the
 *   AWSPREVIOUS key finishSecret deactivated);
 * - `AWSPREVIOUS`: the key the secret held before; its rollback role ends with this rotation;
 * - `orphan`: created after the AWSCURRENT version by an attempt whose secret was never stored,
 *   and never used;
 * - `unused`: a key the secret does not hold, never used or not used for `staleKeyDays`;
 * - `abandoned`: a key createSecret made for a version of this secret that never became
 *   AWSCURRENT (a rotation retried under a new token, abandoned by a value put by hand,
 *   cancelled or given up), whatever its last use.
 */
export type RemovalReason = 'not Active' | 'AWSPREVIOUS' | 'orphan' | 'unused' | 'abandoned';

export interface KeyRemoval {
  readonly key: AccessKeyMetadata;
  readonly reason: RemovalReason;
  readonly lastUse?: AccessKeyLastUse;
}

/** A key that keeps its slot although room is needed, and why. */
export interface BlockingKey {
  readonly key: AccessKeyMetadata;
  readonly role: 'AWSCURRENT' | 'in use';
  readonly lastUse?: AccessKeyLastUse;
}

export type KeyRemovalPlan =
  | { readonly kind: 'remove'; readonly removals: readonly KeyRemoval[] }
  /** Room is needed and every key that holds a slot may be in use: remove nothing, fail. */
  | { readonly kind: 'no-room'; readonly blocking: readonly BlockingKey[] };

export interface KeyRemovalInput {
  /** The user's keys, except a pending key that already holds its slot (see `reservedSlots`). */
  readonly keys: readonly AccessKeyMetadata[];
  /** The AccessKeyId stored in AWSCURRENT, if any. It is never planned for removal. */
  readonly currentAccessKeyId: string | undefined;
  /** The AccessKeyId stored in AWSPREVIOUS, if it was read (only needed for an Active other key). */
  readonly previousAccessKeyId: string | undefined;
  /**
   * When the AWSCURRENT version was created. An Active key created at or after it (to the
   * second, IAM's precision) that AWSCURRENT does not hold, and that never signed anything,
   * can only come from a rotation attempt whose secret was never stored: an orphan.
   * `undefined` disables orphan detection.
   */
  readonly orphanCutoff: Date | undefined;
  /** Slots held by keys outside `keys` that stay: 1 for the key of a resumed rotation. */
  readonly reservedSlots: number;
  /** Slots the caller needs free afterwards: 1 before CreateAccessKey, 0 to only tidy up. */
  readonly slotsNeeded: number;
  /** The last use of every key {@link keysAwaitingLastUse} names (more is fine). */
  readonly lastUse: ReadonlyMap<string, AccessKeyLastUse>;
  /** A key last used before this moment, or never, may be deleted although the secret does not hold it. */
  readonly staleBefore: Date;
  /**
   * Keys stored in versions of this secret that never became AWSCURRENT (see
   * create-secret.ts): removed whatever their last use. Never the AWSCURRENT key.
   */
  readonly abandonedKeyIds?: ReadonlySet<string>;
}

/** `now` minus `staleKeyDays`. */
export const staleBefore = (now: number, staleKeyDays: number): Date =>
  new Date(now - staleKeyDays * DAY_MS);

/**
 * True when the AWSCURRENT version's creation date can change the plan: only before the
 * secret holds a key (the first rotation keeps a key the user had before, but not an orphan)
 * and only when some key is Active. Once the secret holds a key, every other key that is not
 * in use goes anyway, so the date (a ListSecretVersionIds call) would change nothing.
 */
export const needsOrphanCutoff = (
  keys: readonly AccessKeyMetadata[],
  currentAccessKeyId: string | undefined,
): boolean => currentAccessKeyId === undefined && keys.some((key) => key.status === 'Active');

const byAge = (left: AccessKeyMetadata, right: AccessKeyMetadata): number => {
  const age = left.createDate.getTime() - right.createDate.getTime();
  if (age !== 0) return age;
  return left.accessKeyId < right.accessKeyId ? -1 : left.accessKeyId > right.accessKeyId ? 1 : 0;
};

const lastUsedMs = (lastUse: AccessKeyLastUse | undefined): number =>
  lastUse?.lastUsedDate?.getTime() ?? Number.NEGATIVE_INFINITY;

interface Partition {
  readonly others: readonly AccessKeyMetadata[];
  readonly notActive: readonly AccessKeyMetadata[];
  readonly previous: readonly AccessKeyMetadata[];
  /** Active keys of abandoned versions of this secret (not AWSCURRENT, not AWSPREVIOUS). */
  readonly abandoned: readonly AccessKeyMetadata[];
  /** Other Active keys the secret holds in neither AWSCURRENT nor AWSPREVIOUS. */
  readonly foreign: readonly AccessKeyMetadata[];
  /** Foreign keys created at or after the orphan cutoff (orphans if never used). */
  readonly orphanCandidates: readonly AccessKeyMetadata[];
}

const partition = (input: Omit<KeyRemovalInput, 'lastUse' | 'staleBefore'>): Partition => {
  const { keys, currentAccessKeyId, previousAccessKeyId, orphanCutoff } = input;
  const cutoffMs =
    orphanCutoff === undefined ? undefined : Math.floor(orphanCutoff.getTime() / 1000) * 1000;
  const others = keys.filter((key) => key.accessKeyId !== currentAccessKeyId);
  const notActive = others.filter((key) => key.status !== 'Active').sort(byAge);
  const active = others.filter((key) => key.status === 'Active');
  const previous = active.filter((key) => key.accessKeyId === previousAccessKeyId);
  const isAbandoned = (key: AccessKeyMetadata): boolean =>
    input.abandonedKeyIds?.has(key.accessKeyId) === true;
  const abandoned = active.filter(
    (key) => key.accessKeyId !== previousAccessKeyId && isAbandoned(key),
  );
  const foreign = active
    .filter((key) => key.accessKeyId !== previousAccessKeyId && !isAbandoned(key))
    .sort(byAge);
  const orphanCandidates =
    currentAccessKeyId !== undefined || cutoffMs === undefined
      ? []
      : foreign.filter((key) => key.createDate.getTime() >= cutoffMs);
  return { others, notActive, previous, abandoned, foreign, orphanCandidates };
};

const hasRoom = (input: { reservedSlots: number; slotsNeeded: number }, kept: number): boolean =>
  kept + input.reservedSlots + input.slotsNeeded <= ACCESS_KEYS_PER_USER;

/**
 * The keys whose last use decides whether they may go, so the caller can ask IAM
 * (GetAccessKeyLastUsed) before {@link planKeyRemoval}. Empty in the steady state, where the
 * only other key is the Inactive AWSPREVIOUS key.
 */
export const keysAwaitingLastUse = (
  input: Omit<KeyRemovalInput, 'lastUse' | 'staleBefore'>,
): AccessKeyMetadata[] => {
  const { keys, currentAccessKeyId } = input;
  const { notActive, previous, abandoned, foreign, orphanCandidates } = partition(input);
  if (currentAccessKeyId !== undefined) return [...foreign];
  // Keys left once every key that goes regardless is gone: is there room without a foreign one?
  const roomDependsOnForeign = !hasRoom(
    input,
    keys.length - notActive.length - previous.length - abandoned.length,
  );
  return orphanCandidates.length > 0 || roomDependsOnForeign ? [...foreign] : [];
};

/**
 * Decides which keys to remove before CreateAccessKey (or, for a resumed rotation, which strays
 * to tidy up). Pure: the caller performs the plan, deactivating an Active key before deleting it.
 *
 * The AWSCURRENT key is never in it. Removed are every other key that is not Active, the
 * AWSPREVIOUS key, orphans, and, once the secret holds a key, every key it does not hold that
 * was never used or not used since `staleBefore`. At the first rotation a key the user had
 * before the secret is kept while there is room; when there is none, the least recently used
 * of those not used since `staleBefore` goes. A key used since then is never deleted to make
 * room: when nothing else can go, the plan is `no-room` and nothing is removed.
 */
export const planKeyRemoval = (input: KeyRemovalInput): KeyRemovalPlan => {
  const { keys, currentAccessKeyId, lastUse } = input;
  const { notActive, previous, abandoned, foreign, orphanCandidates } = partition(input);
  const useOf = (key: AccessKeyMetadata): AccessKeyLastUse | undefined =>
    lastUse.get(key.accessKeyId);
  const awaited = new Set(keysAwaitingLastUse(input).map((key) => key.accessKeyId));
  for (const id of awaited) {
    if (!lastUse.has(id)) {
      throw new Error(
        `planKeyRemoval: the last use of access key ${id} is needed but was not given`,
      );
    }
  }
  const isStale = (key: AccessKeyMetadata): boolean =>
    lastUsedMs(useOf(key)) < input.staleBefore.getTime();

  const removals: KeyRemoval[] = [
    ...notActive.map((key): KeyRemoval => ({ key, reason: 'not Active' })),
    ...previous.map((key): KeyRemoval => ({ key, reason: 'AWSPREVIOUS' })),
    ...abandoned.map((key): KeyRemoval => ({ key, reason: 'abandoned' })),
  ];
  const withUse = (key: AccessKeyMetadata, reason: RemovalReason): KeyRemoval => {
    const use = useOf(key);
    return use === undefined ? { key, reason } : { key, reason, lastUse: use };
  };
  let keptForeign: AccessKeyMetadata[];
  if (currentAccessKeyId !== undefined) {
    // Once the secret holds a key, every key it does not hold goes, unless it may be in use.
    removals.push(...foreign.filter(isStale).map((key) => withUse(key, 'unused')));
    keptForeign = foreign.filter((key) => !isStale(key));
  } else {
    const orphans = orphanCandidates.filter((key) => awaited.has(key.accessKeyId) && isStale(key));
    removals.push(...orphans.map((key) => withUse(key, 'orphan')));
    keptForeign = foreign.filter((key) => !orphans.includes(key));
    // The first rotation keeps keys the user had while there is room; otherwise the least
    // recently used of those not in use make room.
    const kept = (): number => keys.length - removals.length;
    const unused = keptForeign
      .filter((key) => awaited.has(key.accessKeyId) && isStale(key))
      .sort(
        (left, right) => lastUsedMs(useOf(left)) - lastUsedMs(useOf(right)) || byAge(left, right),
      );
    for (const key of unused) {
      if (hasRoom(input, kept())) break;
      removals.push(withUse(key, 'unused'));
      keptForeign = keptForeign.filter((candidate) => candidate !== key);
    }
  }
  if (hasRoom(input, keys.length - removals.length)) return { kind: 'remove', removals };
  const current = keys.filter((key) => key.accessKeyId === currentAccessKeyId);
  return {
    kind: 'no-room',
    blocking: [
      ...current.map((key): BlockingKey => ({ key, role: 'AWSCURRENT' })),
      ...keptForeign.map((key): BlockingKey => {
        const use = useOf(key);
        return use === undefined ? { key, role: 'in use' } : { key, role: 'in use', lastUse: use };
      }),
    ],
  };
};

/** `never used`, or `last used 2026-11-28T10:00:00.000Z by s3 in eu-west-1`. */
export const describeKeyUse = (use: AccessKeyLastUse | undefined): string =>
  use?.lastUsedDate === undefined
    ? 'never used'
    : `last used ${use.lastUsedDate.toISOString()}${use.serviceName === undefined ? '' : ` by ${use.serviceName}`}${use.region === undefined ? '' : ` in ${use.region}`}`;

const describeBlocking = (blocking: readonly BlockingKey[]): string =>
  blocking
    .map((entry) =>
      entry.role === 'AWSCURRENT'
        ? `${entry.key.accessKeyId} (the AWSCURRENT key)`
        : `${entry.key.accessKeyId} (not held by the secret, ${describeKeyUse(entry.lastUse)})`,
    )
    .join(' and ');

/** What {@link noRoomMessage} says a `no-room` plan means. */
export interface NoRoomDescription {
  /** Where it is said: the step (`createSecret`), or `plan`. */
  readonly step: string;
  readonly userName: string;
  /** The keys that hold a slot (a resumed rotation's pending key included). */
  readonly keyCount: number;
  readonly blocking: readonly BlockingKey[];
  readonly staleKeyDays: number;
  /** The secret to rotate again once a key is freed (its ARN, or its name before it exists). */
  readonly secretId: string;
}

/**
 * Why a rotation is refused when no key may be deleted to make room, and what to do: the message
 * of the function's AccessKeyInUseError and of `iam-key-rotation plan`, so both say the same.
 */
export const noRoomMessage = (refusal: NoRoomDescription): string => {
  const { step, userName, keyCount, blocking, staleKeyDays, secretId } = refusal;
  const candidate = blocking.find((entry) => entry.role === 'in use')?.key.accessKeyId;
  return `${step}: IAM user ${userName} holds ${String(keyCount)} access keys and none may be deleted to make room for a new one: ${describeBlocking(blocking)}. A key the secret does not hold is deleted only when it was never used or not used for ${String(staleKeyDays)} days (staleKeyDays). Move the applications that use ${candidate ?? 'the other key'} to the secret, deactivate it (aws iam update-access-key --user-name ${userName} --access-key-id ${candidate ?? '<id>'} --status Inactive), then rotate again (aws secretsmanager rotate-secret --secret-id ${secretId})`;
};
