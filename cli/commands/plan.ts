import { existsSync } from 'node:fs';
import type { CliClientConfig, CliDependencies, CliIo, Clock } from '../dependencies.js';
import { systemClock } from '../dependencies.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { formatSpan, printable } from '../format.js';
import { readUserFacts, type PlanReadDependencies } from '../plan/read-user-facts.js';
import { CAN_ROTATE, planUser, type PlannedUserConfig, type UserPlan } from '../plan/user-plan.js';
import { describeLastUse } from '../status/status-table.js';
import { renderTable, type Column } from '../table.js';
import { describeWhere, type Whereabouts } from '../whereabouts.js';
import { loadConfigurationFile } from './placement.js';
import { mapWithConcurrency } from './status.js';
import {
  checkRoleOptions,
  describeAccess,
  oneLineMessage,
  type TargetAccess,
} from './status-targets.js';

export type { UserPlan } from '../plan/user-plan.js';

/** One row of `plan`: a configured user's plan, in its account and region. */
export interface LocatedUserPlan extends UserPlan {
  readonly account: string;
  readonly region: string;
}

/** What `plan --json` prints. */
export interface PlanReport {
  /** Every configured user, in the configuration's order. */
  readonly users: readonly LocatedUserPlan[];
  /** Every verdict is `ok` or `rotating` (exit 0). */
  readonly canRotate: boolean;
}

export interface PlanCommandOptions {
  /** The iamKeyRotation configuration file. */
  readonly config: string;
  /** The placement file; absent: beside the configuration (users.placement.json). */
  readonly placement?: string;
  readonly json: boolean;
  readonly roleName?: string;
  readonly externalId?: string;
}

export interface PlanRuntime {
  readonly io: CliIo;
  readonly clientConfig: CliClientConfig;
  /** The clients of one account (through the role) and region. */
  readonly dependenciesFor: (target: TargetAccess) => Promise<CliDependencies>;
  readonly clock?: Pick<Clock, 'now'>;
}

/** A configured user and where it lives. */
interface PlacedUser extends PlannedUserConfig {
  readonly account?: string;
  readonly region?: string;
}

interface Target {
  readonly account?: string;
  readonly region?: string;
  readonly users: PlacedUser[];
}

/** How many users of one account and region are read at once. */
const CONCURRENCY = 4;
const CURRENT_ACCOUNT = '(current)';
const CURRENT_REGION = '(default)';

/**
 * The configuration's users and `staleKeyDays`, each user in the stack the placement gives it
 * (as `cdk synth` places it; nothing is written).
 *
 * @throws UsageError naming the file and the field
 */
const loadConfiguration = async (
  options: PlanCommandOptions,
): Promise<{ users: PlacedUser[]; staleKeyDays: number }> => {
  // synth takes a missing placement file as "no placement yet"; named here, it is a typo.
  if (options.placement !== undefined && !existsSync(options.placement)) {
    throw new UsageError(
      `--placement "${options.placement}": no such file; expected the placement file cdk synth writes beside the configuration (omit --placement to use it)`,
    );
  }
  const config = await loadConfigurationFile(
    options,
    (message) => new UsageError(`--config "${options.config}": ${message}`),
  );
  return {
    staleKeyDays: config.staleKeyDays,
    users: config.users.map((user) => ({
      userName: user.userName,
      path: user.path,
      createUser: user.createUser,
      stackName: user.stackName,
      ...(user.account === undefined ? {} : { account: user.account }),
      ...(user.region === undefined ? {} : { region: user.region }),
    })),
  };
};

/** The users grouped by account and region, in order of first appearance. */
const targetsOf = (users: readonly PlacedUser[], region: string | undefined): Target[] => {
  const targets = new Map<string, Target>();
  for (const user of users) {
    const userRegion = user.region ?? region;
    const key = `${user.account ?? ''}/${userRegion ?? ''}`;
    const target = targets.get(key) ?? {
      ...(user.account === undefined ? {} : { account: user.account }),
      ...(userRegion === undefined ? {} : { region: userRegion }),
      users: [],
    };
    target.users.push(user);
    targets.set(key, target);
  }
  return [...targets.values()];
};

/** The row of a user whose facts could not be read. */
const errorRow = (user: PlacedUser, message: string): UserPlan => ({
  userName: user.userName,
  stack: user.stackName,
  secretName: `iam-key-rotation/${user.userName}`,
  user: 'unknown',
  secret: 'unknown',
  rotation: 'first',
  verdict: 'error',
  summary: 'error: could not read the user and its secret',
  keys: [],
  findings: [{ code: 'error', blocking: true, message }],
});

const PLAN_COLUMNS: readonly Column[] = [
  { header: 'ACCOUNT' },
  { header: 'REGION' },
  { header: 'USER', truncatable: true },
  { header: 'IAM USER' },
  { header: 'SECRET' },
  { header: 'ROTATION' },
  { header: 'VERDICT' },
  { header: 'PLAN', truncatable: true },
];

const KEY_COLUMNS: readonly Column[] = [
  { header: 'USER', truncatable: true },
  { header: 'ACCESS KEY' },
  { header: 'STATUS' },
  { header: 'AGE' },
  { header: 'LAST USED', truncatable: true },
  { header: 'AT ROTATION', truncatable: true },
];

/** The two tables of `plan`: one row per user, then one row per existing key. */
/** A shell word: as is when safe, else in single quotes. */
const shellQuote = (word: string): string =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;

export const renderPlanTables = (
  rows: readonly LocatedUserPlan[],
  now: number,
  columns?: number,
): string => {
  const users = renderTable(
    PLAN_COLUMNS,
    rows.map((row) =>
      [
        row.account,
        row.region,
        row.userName,
        row.user,
        row.secret,
        row.rotation,
        row.verdict,
        row.summary,
      ].map(printable),
    ),
    columns,
  );
  const keyRows = rows.flatMap((row) =>
    row.keys.map((key) =>
      [
        row.userName,
        key.accessKeyId,
        key.status,
        formatSpan(key.ageSeconds * 1000),
        describeLastUse(key.lastUsed, now),
        key.reason === undefined ? key.action : `${key.action} (${key.reason})`,
      ].map(printable),
    ),
  );
  return keyRows.length === 0 ? users : `${users}\n${renderTable(KEY_COLUMNS, keyRows, columns)}`;
};

/**
 * `iam-key-rotation plan --config users.json`: for every configured user, in its account (through
 * `--role-name`) and region, whether the deployment can take it and what its first (or next)
 * rotation will do, judged by the function's own key plan; read-only (Get, List and Describe
 * calls; never GetSecretValue). The tables (or `--json`) on stdout, each finding and its fix on
 * stderr. Exit 0 when every user can rotate, 1 when one cannot.
 *
 * @throws UsageError for a bad option or configuration (exit 2)
 */
export const runPlan = async (
  runtime: PlanRuntime,
  options: PlanCommandOptions,
): Promise<ExitCode> => {
  const { io } = runtime;
  checkRoleOptions(options.roleName, options.externalId);
  const { users, staleKeyDays } = await loadConfiguration(options);
  const commandRegion =
    typeof runtime.clientConfig.region === 'string' ? runtime.clientConfig.region : undefined;
  const targets = targetsOf(users, commandRegion);
  const withAccount = targets.find((target) => target.account !== undefined);
  if (withAccount?.account !== undefined && options.roleName === undefined) {
    throw new UsageError(
      `account ${withAccount.account} is read through a role: add --role-name <role> (e.g. --role-name IamKeyRotationStatus)`,
    );
  }
  const now = (runtime.clock ?? systemClock).now();
  const planned = new Map<PlacedUser, LocatedUserPlan>();
  for (const target of targets) {
    let account = target.account ?? CURRENT_ACCOUNT;
    let region = target.region ?? CURRENT_REGION;
    let where: Whereabouts = {
      ...(target.account === undefined ? {} : { account: target.account }),
      ...(target.region === undefined ? {} : { region: target.region }),
    };
    let deps: CliDependencies;
    try {
      deps = await runtime.dependenciesFor({
        ...(target.account === undefined ? {} : { account: target.account }),
        ...(target.region === undefined ? {} : { region: target.region }),
        ...(options.roleName === undefined ? {} : { roleName: options.roleName }),
        ...(options.externalId === undefined ? {} : { externalId: options.externalId }),
      });
      const located = await deps.secrets.whereabouts();
      where = { ...located, ...where };
      account = where.account ?? CURRENT_ACCOUNT;
      region = where.region ?? CURRENT_REGION;
    } catch (error) {
      const message = `cannot read users and secrets through ${describeAccess(target, options.roleName)}: ${oneLineMessage(error)}; check that the role exists in that account, trusts your identity (sts:AssumeRole, with --external-id if its trust asks for one) and may read users' and secrets' metadata (docs/organization.md)`;
      for (const user of target.users) {
        planned.set(user, { account, region, ...errorRow(user, message) });
      }
      continue;
    }
    const reader: PlanReadDependencies = {
      secrets: deps.secrets,
      iam: deps.iam,
      stackResources: deps.stackResources,
    };
    const rows = await mapWithConcurrency(target.users, CONCURRENCY, async (user) => {
      try {
        const facts = await readUserFacts(reader, user.userName, user.stackName);
        return planUser(user, facts, {
          now,
          staleKeyDays,
          ...(where.region === undefined ? {} : { region: where.region }),
        });
      } catch (error) {
        return errorRow(
          user,
          `cannot read IAM user ${user.userName} or secret iam-key-rotation/${user.userName} in ${describeWhere(where)}: ${describeFailure(error)}; plan needs iam:GetUser, iam:ListAccessKeys, iam:GetAccessKeyLastUsed, secretsmanager:DescribeSecret and secretsmanager:ListSecretVersionIds (docs/organization.md)`,
        );
      }
    });
    target.users.forEach((user, index) => {
      const row = rows[index];
      if (row !== undefined) planned.set(user, { account, region, ...row });
    });
  }
  const located = users
    .map((user) => planned.get(user))
    .filter((row): row is LocatedUserPlan => row !== undefined);
  const canRotate = located.every((row) => CAN_ROTATE.has(row.verdict));
  if (options.json) {
    const report: PlanReport = { users: located, canRotate };
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.stdout(renderPlanTables(located, now, io.columns));
  }
  const notes = located.flatMap((row) =>
    row.findings.map((finding) =>
      printable(
        `${row.account} ${row.region} ${row.userName}: ${finding.blocking ? 'refused' : 'note'}: ${finding.code}: ${finding.message}`,
      ),
    ),
  );
  if (notes.length > 0) io.stderr(`\n${notes.join('\n')}\n`);
  const context = `-c ${shellQuote(`iamKeyRotationConfigFile=${options.config}`)}${options.placement === undefined ? '' : ` -c ${shellQuote(`iamKeyRotationPlacementFile=${options.placement}`)}`}`;
  const blocked = located.filter((row) => !CAN_ROTATE.has(row.verdict));
  // A user that is only unknown has notes, not refusals: say what to do about those.
  const onlyUnknown = blocked.every((row) => row.verdict === 'unknown');
  io.stderr(
    canRotate
      ? `\nEvery user can rotate (${String(located.length)}): synthesize, bootstrap once per account and region, and deploy (README "Deploy"): npx cdk synth ${context}; npx cdk bootstrap ${context}; npx cdk deploy --all ${context}\n`
      : `\n${String(blocked.length)} of ${String(located.length)} users cannot rotate yet: ${onlyUnknown ? 'plan cannot tell without reading the secret; see each with iam-key-rotation status <user> (the notes above)' : 'fix the findings above'}, then plan again\n`,
  );
  return canRotate ? EXIT_OK : EXIT_FAILURE;
};
