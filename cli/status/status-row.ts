/** What `status` reports about one secret: the row of its table and of `--json`. */

/**
 * - `ok`: nothing to do.
 * - `rotating`: AWSPENDING on a version that is not AWSCURRENT, younger than `stuckAfterMs`.
 * - `stuck`: the same, older: the rotation is failing and being retried, or was left behind.
 * - `overdue`: the next rotation date has passed.
 * - `ownership mismatch`: the user's `iam-key-rotation:secret` tag is missing or names another
 *   secret: the function refuses every rotation through this secret.
 * - `old key still used`: the user's other key (AWSPREVIOUS's after a rotation) signed a request
 *   after AWSCURRENT moved.
 * - `no key yet`: AWSCURRENT holds `{"UserName"}` only: the first rotation has not run or failed.
 * - `current key not active`: the AWSCURRENT key is Inactive or deleted: readers get a dead key.
 * - `current key unknown`: the secret's tag `iam-key-rotation:current-key` is absent or stale and
 *   the AWSCURRENT value may not be read (GetSecretValue denied, as for a read-only role).
 * - `rotation disabled`: the secret is not rotated on a schedule.
 * - `missing secret`: no secret `iam-key-rotation/<user>` exists for a user named or configured.
 * - `not managed`: the secret is not one of this project's (its name, binding tag or
 *   CloudFormation stack-id tag say so): the function and the command refuse it.
 * - `error`: the secret could not be read or its value is not ours (the note says why).
 */
export type Verdict =
  | 'ok'
  | 'rotating'
  | 'stuck'
  | 'overdue'
  | 'ownership mismatch'
  | 'old key still used'
  | 'no key yet'
  | 'current key not active'
  | 'current key unknown'
  | 'rotation disabled'
  | 'missing secret'
  | 'not managed'
  | 'error';

/** Verdicts that need nobody's attention; any other makes `status` exit 1. */
export const FINE_VERDICTS: ReadonlySet<Verdict> = new Set<Verdict>(['ok', 'rotating']);

export interface KeyLastUse {
  /** ISO date; absent when the key never signed a request. */
  readonly date?: string;
  readonly serviceName?: string;
  readonly region?: string;
}

export interface KeyStatus {
  readonly accessKeyId: string;
  /** `Active`, `Inactive`, `Expired`, or `deleted` when IAM no longer lists the key. */
  readonly status: string;
  readonly createDate?: string;
  readonly ageSeconds?: number;
  readonly lastUsed?: KeyLastUse;
}

/** One secret, as `status --json` prints it. Dates are ISO 8601. */
export interface StatusRow {
  readonly secretName: string;
  readonly secretArn: string;
  readonly userName?: string;
  /** How to name the secret to the other commands. */
  readonly reference: string;
  readonly rotationEnabled?: boolean;
  readonly lastRotatedDate?: string;
  readonly nextRotationDate?: string;
  readonly currentVersionId?: string;
  readonly currentKey?: KeyStatus;
  /**
   * Where the AWSCURRENT key id was read: the secret's tag `iam-key-rotation:current-key` (no
   * GetSecretValue), or the AWSCURRENT value when the tag was absent or stale.
   */
  readonly currentKeySource?: 'tag' | 'value';
  /** When AWSCURRENT moved to its version, as far as the version dates tell. */
  readonly currentSince?: string;
  readonly previousVersionId?: string;
  /** The user's other access key: the one AWSPREVIOUS holds after a rotation. */
  readonly previousKey?: KeyStatus;
  /** The version that carries AWSPENDING without AWSCURRENT, and since when. */
  readonly pending?: {
    readonly versionId: string;
    readonly createdDate?: string;
    readonly ageSeconds?: number;
  };
  /** The user's `iam-key-rotation:secret` tag. */
  readonly ownerTag?: string;
  readonly verdicts: readonly Verdict[];
  /** What each verdict means for this secret and the next command to run. */
  readonly notes: readonly string[];
}

/** A row for a secret that could not be judged: it is missing, not managed, or unreadable. */
export const problemRow = (
  reference: string,
  verdict: Extract<Verdict, 'missing secret' | 'not managed' | 'error'>,
  message: string,
  secret: { readonly name?: string; readonly arn?: string; readonly userName?: string } = {},
): StatusRow => ({
  secretName: secret.name ?? reference,
  secretArn: secret.arn ?? '',
  ...(secret.userName === undefined ? {} : { userName: secret.userName }),
  reference,
  verdicts: [verdict],
  notes: [`${reference}: ${verdict}: ${message}`],
});

/** A row of `status` across accounts: where the secret lives, then the secret. */
export interface LocatedStatusRow extends StatusRow {
  readonly account: string;
  readonly region: string;
}
