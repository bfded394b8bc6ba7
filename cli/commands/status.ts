import { DEFAULT_STUCK_AFTER_MS } from '../command-defaults.js';
import { errorName } from '../../lambda/aws/aws-error.js';
import type { AccessKeyMetadata, AccessKeyStore } from '../../lambda/aws/iam-access-key-store.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import type { OperatorSecretStore } from '../aws/operator-secret-store.js';
import type { CliIo, Clock } from '../dependencies.js';
import { CliError, EXIT_FAILURE, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { formatRelative, formatSpan } from '../format.js';
import { describeManagedSecret, type ManagedSecret } from '../secret-ref.js';
import { readSecretVersions, type VersionKey } from '../secret-state.js';
import { renderTable, type Column } from '../table.js';

/** The tag CloudFormation puts on every resource of a stack. */
export const STACK_NAME_TAG_KEY = 'aws:cloudformation:stack-name';

export { DEFAULT_STUCK_AFTER_MS };

/**
 * - `ok`: nothing to do.
 * - `rotating`: AWSPENDING on a version that is not AWSCURRENT, younger than `stuckAfterMs`.
 * - `stuck`: the same, older: the rotation is failing and being retried, or was left behind.
 * - `overdue`: the next rotation date has passed.
 * - `ownership mismatch`: the user's `iam-key-rotation:secret` tag is missing or names another
 *   secret: the function refuses every rotation through this secret.
 * - `old key still used`: the AWSPREVIOUS key signed a request after the AWSCURRENT key was made.
 * - `no key yet`: AWSCURRENT holds `{"UserName"}` only: the first rotation has not run or failed.
 * - `current key not active`: the AWSCURRENT key is Inactive or deleted: readers get a dead key.
 * - `rotation disabled`: the secret is not rotated on a schedule.
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
  | 'rotation disabled'
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

/** One managed secret, as `status --json` prints it. Dates are ISO 8601. */
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
  readonly previousVersionId?: string;
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

export interface StatusOptions {
  /** Secrets by user name, name or ARN; none: every secret tagged `iam-key-rotation:user`. */
  readonly secrets?: readonly string[];
  /** Only the secrets of this CloudFormation stack (its `aws:cloudformation:stack-name` tag). */
  readonly stack?: string;
  /**
   * A pending rotation older than this is `stuck`.
   * @default 120000 (the function's default timeout)
   */
  readonly stuckAfterMs?: number;
}

export interface StatusDependencies {
  readonly secrets: OperatorSecretStore;
  readonly iam: AccessKeyStore;
  readonly clock: Pick<Clock, 'now'>;
}

export interface StatusReport {
  readonly rows: readonly StatusRow[];
  /** The table, one line per secret (empty when there is none). */
  readonly table: string;
  /** One line per problem: what it means and the next command to run. */
  readonly notes: readonly string[];
  /** The table, then the notes. */
  readonly text: string;
  /** Some row is neither `ok` nor `rotating`. */
  readonly needsAttention: boolean;
}

/** How many secrets are read at once. */
const CONCURRENCY = 8;

const mapWithConcurrency = async <T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T) => Promise<R>,
): Promise<R[]> => {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
};

const iso = (date: Date | undefined): string | undefined => date?.toISOString();

const keyStatus = async (
  iam: AccessKeyStore,
  userName: string,
  version: VersionKey | undefined,
  keys: readonly AccessKeyMetadata[],
  now: number,
): Promise<KeyStatus | undefined> => {
  const accessKeyId = version?.accessKeyId;
  if (accessKeyId === undefined) return undefined;
  const key = keys.find((candidate) => candidate.accessKeyId === accessKeyId);
  if (key === undefined) return { accessKeyId, status: 'deleted' };
  const lastUse = await iam.getAccessKeyLastUsed(userName, accessKeyId);
  return {
    accessKeyId,
    status: key.status,
    createDate: key.createDate.toISOString(),
    ageSeconds: Math.floor((now - key.createDate.getTime()) / 1000),
    lastUsed: {
      ...(lastUse.lastUsedDate === undefined ? {} : { date: lastUse.lastUsedDate.toISOString() }),
      ...(lastUse.serviceName === undefined ? {} : { serviceName: lastUse.serviceName }),
      ...(lastUse.region === undefined ? {} : { region: lastUse.region }),
    },
  };
};

const describeLastUse = (lastUsed: KeyLastUse | undefined, now: number): string => {
  if (lastUsed === undefined) return '-';
  if (lastUsed.date === undefined) return 'never';
  const where = [lastUsed.serviceName, lastUsed.region].filter(Boolean).join(' ');
  return `${formatRelative(new Date(lastUsed.date), now)}${where === '' ? '' : `, ${where}`}`;
};

/** Reads one managed secret and judges it. */
const inspect = async (
  deps: StatusDependencies,
  managed: ManagedSecret,
  stuckAfterMs: number,
): Promise<StatusRow> => {
  const { description: secret, userName, reference } = managed;
  const now = deps.clock.now();
  const [versions, listed, user, keys] = await Promise.all([
    readSecretVersions(deps.secrets, secret, userName),
    deps.secrets.listVersions(secret.arn),
    deps.iam.getUser(userName).catch((error: unknown) => {
      if (errorName(error) === 'NoSuchEntityException') return undefined;
      throw error;
    }),
    deps.iam.listAccessKeys(userName).catch((error: unknown) => {
      if (errorName(error) === 'NoSuchEntityException') return [];
      throw error;
    }),
  ]);
  const verdicts: Verdict[] = [];
  const notes: string[] = [];
  const problem = (verdict: Verdict, note: string): void => {
    if (!verdicts.includes(verdict)) verdicts.push(verdict);
    notes.push(`${reference}: ${verdict}: ${note}`);
  };

  const [currentKey, previousKey] = await Promise.all([
    keyStatus(deps.iam, userName, versions.current, keys, now),
    keyStatus(deps.iam, userName, versions.previous, keys, now),
  ]);

  // Ownership: the function refuses every step unless the user's tag names this secret.
  const ownerTag = user?.tags[OWNER_TAG_KEY];
  if (user === undefined) {
    problem('error', `IAM user ${userName} (the secret's ${BINDING_TAG_KEY} tag) does not exist`);
  } else if (ownerTag !== secret.arn) {
    problem(
      'ownership mismatch',
      ownerTag === undefined
        ? `IAM user ${userName} has no tag ${OWNER_TAG_KEY}, so the function refuses to rotate through ${secret.arn}. Deploy the stack again (it sets the tag), or tag the user by hand: aws iam tag-user --user-name ${userName} --tags Key=${OWNER_TAG_KEY},Value=${secret.arn}`
        : `IAM user ${userName} is owned by secret ${ownerTag} (its tag ${OWNER_TAG_KEY}), not by ${secret.arn}, so the function refuses to rotate through this secret. See "Move a user to another secret" in the README`,
    );
  }

  for (const version of [versions.current, versions.previous, ...versions.pending]) {
    if (version?.problem !== undefined) problem('error', version.problem);
  }

  // A rotation in progress, or failing and retried, or left behind.
  const pendingVersion = versions.pending[0];
  let pending: StatusRow['pending'];
  if (pendingVersion !== undefined) {
    const createdDate = listed.find((v) => v.versionId === pendingVersion.versionId)?.createdDate;
    const ageMs = createdDate === undefined ? undefined : now - createdDate.getTime();
    pending = {
      versionId: pendingVersion.versionId,
      ...(createdDate === undefined ? {} : { createdDate: createdDate.toISOString() }),
      ...(ageMs === undefined ? {} : { ageSeconds: Math.floor(ageMs / 1000) }),
    };
    if (ageMs !== undefined && ageMs > stuckAfterMs) {
      problem(
        'stuck',
        `AWSPENDING has been on version ${pendingVersion.versionId} for ${formatSpan(ageMs)}, longer than a rotation takes (${formatSpan(stuckAfterMs)}): it is failing and being retried, or was left behind. Its errors are in the rotation function's log group (search for the version id). Give it up: iam-key-rotation cancel ${reference}`,
      );
    } else if (!verdicts.includes('rotating')) {
      verdicts.push('rotating');
    }
  }

  if (versions.current !== undefined && versions.current.problem === undefined) {
    if (versions.current.accessKeyId === undefined) {
      if (pendingVersion === undefined) {
        problem(
          'no key yet',
          `AWSCURRENT holds no access key ({"UserName"} only): the first rotation has not run or failed. Start it and watch it: iam-key-rotation rotate ${reference} --wait`,
        );
      }
    } else if (currentKey !== undefined && currentKey.status !== 'Active') {
      problem(
        'current key not active',
        `AWSCURRENT holds access key ${currentKey.accessKeyId}, which is ${currentKey.status}: whoever reads the secret gets a key that does not work. Go back to the previous key: iam-key-rotation rollback ${reference}, or make a new one: iam-key-rotation rotate ${reference} --wait`,
      );
    }
  }

  if (!secret.rotationEnabled) {
    problem(
      'rotation disabled',
      `rotation of ${secret.arn} is not enabled, so it is never rotated on schedule. Deploy the stack again to restore its rotation schedule`,
    );
  } else if (
    secret.nextRotationDate !== undefined &&
    secret.nextRotationDate.getTime() < now &&
    pendingVersion === undefined
  ) {
    problem(
      'overdue',
      `its next rotation was due ${formatRelative(secret.nextRotationDate, now)}. Rotate it now: iam-key-rotation rotate ${reference} --wait`,
    );
  }

  const previousUse = previousKey?.lastUsed?.date;
  if (
    previousKey !== undefined &&
    previousUse !== undefined &&
    currentKey?.createDate !== undefined &&
    new Date(previousUse).getTime() > new Date(currentKey.createDate).getTime()
  ) {
    problem(
      'old key still used',
      `the AWSPREVIOUS access key ${previousKey.accessKeyId} (${previousKey.status}) signed a request ${describeLastUse(previousKey.lastUsed, now)}, after the AWSCURRENT key ${currentKey.accessKeyId} was created: some consumer still has the old key. Point it at the secret's AWSCURRENT; the next rotation deletes ${previousKey.accessKeyId}`,
    );
  }

  return {
    secretName: secret.name,
    secretArn: secret.arn,
    userName,
    reference,
    rotationEnabled: secret.rotationEnabled,
    ...(secret.lastRotatedDate === undefined
      ? {}
      : { lastRotatedDate: iso(secret.lastRotatedDate) }),
    ...(secret.nextRotationDate === undefined
      ? {}
      : { nextRotationDate: iso(secret.nextRotationDate) }),
    ...(versions.current === undefined ? {} : { currentVersionId: versions.current.versionId }),
    ...(currentKey === undefined ? {} : { currentKey }),
    ...(versions.previous === undefined ? {} : { previousVersionId: versions.previous.versionId }),
    ...(previousKey === undefined ? {} : { previousKey }),
    ...(pending === undefined ? {} : { pending }),
    ...(ownerTag === undefined ? {} : { ownerTag }),
    verdicts: verdicts.length === 0 ? ['ok'] : verdicts,
    notes,
  };
};

/** A row for a secret that could not be read at all. */
const errorRow = (reference: string, error: unknown): StatusRow => {
  const message = error instanceof CliError ? error.message : describeFailure(error);
  return {
    secretName: reference,
    secretArn: '',
    reference,
    verdicts: ['error'],
    notes: [`${reference}: error: ${message}`],
  };
};

const STATUS_COLUMNS: readonly Column[] = [
  { header: 'USER', truncatable: true },
  { header: 'CURRENT KEY' },
  { header: 'AGE' },
  { header: 'LAST USED', truncatable: true },
  { header: 'PREVIOUS KEY', truncatable: true },
  { header: 'ROTATED' },
  { header: 'NEXT' },
  { header: 'VERDICT' },
];

const verdictCell = (row: StatusRow, now: number): string =>
  row.verdicts
    .map((verdict) =>
      (verdict === 'rotating' || verdict === 'stuck') && row.pending?.createdDate !== undefined
        ? `${verdict} ${formatSpan(now - new Date(row.pending.createdDate).getTime())}`
        : verdict,
    )
    .join(', ');

const tableCells = (row: StatusRow, now: number): string[] => {
  const user =
    row.userName === undefined
      ? row.reference
      : row.reference === row.userName
        ? row.userName
        : `${row.userName} (${row.secretName})`;
  const current = row.currentKey;
  const previous = row.previousKey;
  return [
    user,
    current?.accessKeyId ?? (row.currentVersionId === undefined ? '-' : 'none'),
    current?.ageSeconds === undefined ? '-' : formatSpan(current.ageSeconds * 1000),
    describeLastUse(current?.lastUsed, now),
    previous === undefined ? '-' : `${previous.accessKeyId} ${previous.status}`,
    row.lastRotatedDate === undefined
      ? 'never'
      : formatRelative(new Date(row.lastRotatedDate), now),
    row.rotationEnabled === false
      ? 'disabled'
      : row.nextRotationDate === undefined
        ? '-'
        : formatRelative(new Date(row.nextRotationDate), now),
    verdictCell(row, now),
  ];
};

/** Renders rows as the status table (fitted to `columns` when given). */
export const renderStatusTable = (
  rows: readonly StatusRow[],
  now: number,
  columns?: number,
): string =>
  rows.length === 0
    ? ''
    : renderTable(
        STATUS_COLUMNS,
        rows.map((row) => tableCells(row, now)),
        columns,
      );

/**
 * Reads and judges the managed secrets: the data of `iam-key-rotation status`, for callers that
 * show it themselves (`npm start` shows it before and after its rotations). Against the local
 * simulation, name the secrets: it does not implement ListSecrets.
 */
export const renderStatus = async (
  deps: StatusDependencies,
  options: StatusOptions = {},
  columns?: number,
): Promise<StatusReport> => {
  const stuckAfterMs = options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  const named = options.secrets ?? [];
  const references =
    named.length > 0 ? named : await deps.secrets.listSecretArnsWithTagKey(BINDING_TAG_KEY);
  const rows = (
    await mapWithConcurrency(references, CONCURRENCY, async (reference) => {
      let managed: ManagedSecret;
      try {
        managed = await describeManagedSecret(deps.secrets, reference);
      } catch (error) {
        return errorRow(reference, error);
      }
      const stack = options.stack;
      if (stack !== undefined && managed.description.tags[STACK_NAME_TAG_KEY] !== stack) {
        return undefined;
      }
      try {
        return await inspect(deps, managed, stuckAfterMs);
      } catch (error) {
        return errorRow(managed.reference, error);
      }
    })
  )
    .filter((row): row is StatusRow => row !== undefined)
    .sort((left, right) => left.reference.localeCompare(right.reference));
  const now = deps.clock.now();
  const table = renderStatusTable(rows, now, columns);
  const notes = rows.flatMap((row) => row.notes);
  return {
    rows,
    table,
    notes,
    text: notes.length === 0 ? table : `${table}\n${notes.join('\n')}\n`,
    needsAttention: rows.some((row) => row.verdicts.some((verdict) => !FINE_VERDICTS.has(verdict))),
  };
};

export interface StatusCommandOptions extends StatusOptions {
  readonly json?: boolean;
}

/**
 * `iam-key-rotation status`: the table (or `--json`) on stdout, what to do about each problem on
 * stderr. Exit 1 when any secret needs attention.
 */
export const runStatus = async (
  deps: StatusDependencies & { readonly io: CliIo },
  options: StatusCommandOptions,
): Promise<ExitCode> => {
  const { io } = deps;
  const report = await renderStatus(deps, options, options.json === true ? undefined : io.columns);
  if (options.json === true) {
    io.stdout(`${JSON.stringify({ secrets: report.rows }, null, 2)}\n`);
  } else if (report.rows.length > 0) {
    io.stdout(report.table);
  }
  if (report.rows.length === 0) {
    io.stderr(
      options.stack === undefined
        ? `No secrets tagged ${BINDING_TAG_KEY} were found in this region and account.\n`
        : `No secrets tagged ${BINDING_TAG_KEY} belong to stack ${options.stack} (tag ${STACK_NAME_TAG_KEY}) in this region and account.\n`,
    );
  }
  if (report.notes.length > 0) io.stderr(`\n${report.notes.join('\n')}\n`);
  return report.needsAttention ? EXIT_FAILURE : EXIT_OK;
};

/** One account and region that `status --role-name` looks into; absent parts are the CLI's. */
export interface StatusTarget {
  /** The account, reached through the role; absent: the CLI's own credentials. */
  readonly account?: string;
  /** The region; absent: the CLI's region. */
  readonly region?: string;
}

/** A row of `status --role-name`: where the secret lives, then the secret. */
export interface LocatedStatusRow extends StatusRow {
  readonly account: string;
  readonly region: string;
}

export interface AcrossAccountsDependencies {
  readonly io: CliIo;
  readonly clock: Pick<Clock, 'now'>;
  /** The clients of one account and region (through the assumed role, for an account). */
  readonly dependenciesFor: (target: StatusTarget) => Promise<StatusDependencies>;
}

export interface AcrossAccountsOptions extends StatusCommandOptions {
  /** The role assumed in each account (`arn:aws:iam::<account>:role/<roleName>`). */
  readonly roleName: string;
  readonly targets: readonly StatusTarget[];
}

const LOCATED_COLUMNS: readonly Column[] = [
  { header: 'ACCOUNT' },
  { header: 'REGION' },
  ...STATUS_COLUMNS,
];

/** Renders located rows as one table with ACCOUNT and REGION columns. */
export const renderLocatedStatusTable = (
  rows: readonly LocatedStatusRow[],
  now: number,
  columns?: number,
): string =>
  rows.length === 0
    ? ''
    : renderTable(
        LOCATED_COLUMNS,
        rows.map((row) => [row.account, row.region, ...tableCells(row, now)]),
        columns,
      );

const CURRENT_ACCOUNT = '(current)';
const CURRENT_REGION = '(default)';

/**
 * `iam-key-rotation status --role-name <role>`: the status of every target account and region,
 * each read through `arn:aws:iam::<account>:role/<role>` (the CLI's own credentials for a target
 * without account), in one table (or `--json`) with account and region columns. A target that
 * cannot be read (the role cannot be assumed, access is denied) is reported on stderr with what
 * to check, and the others are still shown. Exit 1 when a target failed or a secret needs
 * attention.
 */
export const runStatusAcrossAccounts = async (
  deps: AcrossAccountsDependencies,
  options: AcrossAccountsOptions,
): Promise<ExitCode> => {
  const { io } = deps;
  const located: LocatedStatusRow[] = [];
  const notes: string[] = [];
  let failed = false;
  for (const target of options.targets) {
    const account = target.account ?? CURRENT_ACCOUNT;
    const region = target.region ?? CURRENT_REGION;
    try {
      const report = await renderStatus(await deps.dependenciesFor(target), options);
      located.push(...report.rows.map((row) => ({ account, region, ...row })));
      notes.push(...report.notes.map((note) => `${account} ${region}: ${note}`));
      failed ||= report.needsAttention;
    } catch (error) {
      failed = true;
      const role =
        target.account === undefined
          ? 'the current credentials'
          : `role arn:aws:iam::${target.account}:role/${options.roleName}`;
      notes.push(
        `${account} ${region}: error: cannot read the secrets through ${role}: ${oneLineMessage(error)}; check that the role exists in that account, trusts your identity (sts:AssumeRole) and may read the secrets (README: "Run it in an Organization")`,
      );
    }
  }
  if (options.json === true) {
    io.stdout(`${JSON.stringify({ secrets: located }, null, 2)}\n`);
  } else if (located.length > 0) {
    io.stdout(renderLocatedStatusTable(located, deps.clock.now(), io.columns));
  } else {
    io.stderr(
      `No secrets tagged ${BINDING_TAG_KEY} were found in the accounts and regions read.\n`,
    );
  }
  if (notes.length > 0) io.stderr(`\n${notes.join('\n')}\n`);
  return failed ? EXIT_FAILURE : EXIT_OK;
};

const oneLineMessage = (error: unknown): string =>
  (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replace(
    /\s*\n\s*/g,
    ' ',
  );
