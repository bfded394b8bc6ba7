import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import type { CliClientConfig, CliDependencies, CliIo, Clock } from '../dependencies.js';
import { systemClock } from '../dependencies.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type ExitCode } from '../errors.js';
import { partitionOfRegion } from '../partition.js';
import { problemRow, type LocatedStatusRow } from '../status/status-row.js';
import { renderLocatedStatusTable } from '../status/status-table.js';
import { renderStatus, type StatusCommandOptions, type StatusDependencies } from './status.js';

/** One account and region that `status` looks into; absent parts are the command's own. */
export interface StatusTarget {
  /** The account, reached through the role; absent: the command's own credentials. */
  readonly account?: string;
  /** The region; absent: the command's region. */
  readonly region?: string;
  /** The configured users there (`--config`): one row each; absent: every managed secret. */
  readonly users?: readonly string[];
}

/** The options of `status` that look into other accounts or at a configuration's users. */
export interface AccountStatusOptions {
  /** The role to assume in each account. */
  readonly roleName?: string;
  /** Passed to AssumeRole as `ExternalId`, when the role's trust policy asks for one. */
  readonly externalId?: string;
  /** Accounts named with `--account` (repeatable). */
  readonly account?: readonly string[];
  /** An iamKeyRotation configuration file: one row per user, in its account and region. */
  readonly config?: string;
}

/** How `status` reaches one account and region. */
export interface TargetAccess {
  readonly account?: string;
  readonly region?: string;
  readonly roleName?: string;
  readonly externalId?: string;
}

export interface AccountStatusRuntime {
  readonly io: CliIo;
  readonly clientConfig: CliClientConfig;
  readonly createTargetDependencies?: (
    clientConfig: CliClientConfig,
    target: TargetAccess,
  ) => Promise<CliDependencies>;
}

const ACCOUNT_PATTERN = /^\d{12}$/;
/** An IAM role name (the path, if any, is not part of `--role-name`). */
const ROLE_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;
/** STS AssumeRole's ExternalId: 2-1224 characters of `[\w+=,.@:/-]`. */
const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;

/**
 * The accounts and regions of a configuration's users, in order of first appearance, each with
 * its users: a user without `account` is read with the command's own credentials, without
 * `region` in the command's region.
 *
 * @throws UsageError naming the file and the field when the file is not a valid configuration
 */
export const statusTargetsOfConfig = async (file: string): Promise<StatusTarget[]> => {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path.resolve(file), 'utf8')) as unknown;
  } catch (error) {
    throw new UsageError(
      `--config: cannot read an iamKeyRotation configuration from "${file}": ${(error as Error).message}`,
    );
  }
  // Loaded only here: the configuration module brings aws-cdk-lib with it.
  const { parseIamKeyRotationConfig } = await import('../../lib/config.js');
  let users: readonly {
    readonly userName: string;
    readonly account?: string;
    readonly region?: string;
  }[];
  try {
    users = parseIamKeyRotationConfig(raw).users;
  } catch (error) {
    throw new UsageError(`--config "${file}": ${(error as Error).message}`);
  }
  const targets = new Map<string, { account?: string; region?: string; users: string[] }>();
  for (const { userName, account, region } of users) {
    const key = `${account ?? ''}/${region ?? ''}`;
    const target = targets.get(key) ?? {
      ...(account === undefined ? {} : { account }),
      ...(region === undefined ? {} : { region }),
      users: [],
    };
    target.users.push(userName);
    targets.set(key, target);
  }
  return [...targets.values()];
};

export interface AcrossAccountsDependencies {
  readonly io: CliIo;
  readonly clock: Pick<Clock, 'now'>;
  /** The clients of one account and region (through the assumed role, for an account). */
  readonly dependenciesFor: (target: StatusTarget) => Promise<StatusDependencies>;
}

export interface AcrossAccountsOptions extends StatusCommandOptions {
  /** The role assumed in each account (`arn:<partition>:iam::<account>:role/<roleName>`). */
  readonly roleName?: string;
  readonly targets: readonly StatusTarget[];
}

const CURRENT_ACCOUNT = '(current)';
const CURRENT_REGION = '(default)';

/** An error as one line: its name and message. */
export const oneLineMessage = (error: unknown): string =>
  (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replace(
    /\s*\n\s*/g,
    ' ',
  );

/** How a target is reached, for a message: the role's ARN in the target's partition. */
export const describeAccess = (
  target: Pick<StatusTarget, 'account' | 'region'>,
  roleName: string | undefined,
): string => {
  if (target.account === undefined) return 'the current credentials';
  if (roleName === undefined) return `account ${target.account}`;
  return target.region === undefined
    ? `role ${roleName} of account ${target.account}`
    : `role arn:${partitionOfRegion(target.region)}:iam::${target.account}:role/${roleName}`;
};

/**
 * `status` over several accounts and regions: each read through the role (the command's own
 * credentials for a target without account), in one table (or `--json`) with account and
 * region columns. With users (`--config`), one row per user, a missing secret being a finding.
 * A target that cannot be read (the role cannot be assumed, access is denied) is reported with
 * what to check (one error row per configured user), and the others are still shown. Exit 1
 * when a target failed or a row needs attention.
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
    let account = target.account ?? CURRENT_ACCOUNT;
    let region = target.region ?? CURRENT_REGION;
    try {
      const targetDeps = await deps.dependenciesFor(target);
      if (target.account === undefined || target.region === undefined) {
        // Name the command's own account and region where it can tell them.
        const where = await targetDeps.secrets.whereabouts();
        account = target.account ?? where.account ?? CURRENT_ACCOUNT;
        region = target.region ?? where.region ?? CURRENT_REGION;
      }
      const report = await renderStatus(targetDeps, {
        ...options,
        ...(target.users === undefined ? {} : { secrets: target.users }),
      });
      located.push(...report.rows.map((row) => ({ account, region, ...row })));
      notes.push(...report.notes.map((note) => `${account} ${region}: ${note}`));
      failed ||= report.needsAttention;
    } catch (error) {
      failed = true;
      const message = `cannot read the secrets through ${describeAccess(target, options.roleName)}: ${oneLineMessage(error)}; check that the role exists in that account, trusts your identity (sts:AssumeRole, with --external-id if its trust asks for one) and may read the secrets' metadata (docs/organization.md)`;
      if (target.users === undefined) {
        notes.push(`${account} ${region}: error: ${message}`);
      } else {
        for (const userName of target.users) {
          const row = problemRow(userName, 'error', message, { userName });
          located.push({ account, region, ...row, notes: [] });
        }
        notes.push(`${account} ${region}: error: ${message}`);
      }
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

/**
 * Checks `--role-name` and `--external-id` (of `status` and `plan`).
 *
 * @throws UsageError naming the option and what was expected
 */
export const checkRoleOptions = (
  roleName: string | undefined,
  externalId: string | undefined,
): void => {
  if (roleName !== undefined && !ROLE_NAME_PATTERN.test(roleName)) {
    throw new UsageError(
      `--role-name: expected an IAM role name (1-64 characters of letters, digits and _+=,.@-), got ${JSON.stringify(roleName)}`,
    );
  }
  if (externalId !== undefined && !EXTERNAL_ID_PATTERN.test(externalId)) {
    throw new UsageError(
      `--external-id: expected 2-1224 characters of letters, digits and _+=,.@:/-, got ${externalId.length} characters`,
    );
  }
  if (externalId !== undefined && roleName === undefined) {
    throw new UsageError(
      '--external-id is passed to the role of --role-name: add --role-name <role>',
    );
  }
};

/**
 * `status --config <file>` (one row per configured user, each in its account and region) and
 * `status --role-name <role> --account <id>...`: checks the options, finds the targets, and
 * shows them in one table (see {@link runStatusAcrossAccounts}). `--role-name` is needed for
 * every account named (by `--account`, or by a user's `account` in the configuration).
 *
 * @throws UsageError naming the option and what was expected
 */
export const runStatusAcrossAccountsCommand = async (
  runtime: AccountStatusRuntime,
  options: AccountStatusOptions & StatusCommandOptions,
): Promise<ExitCode> => {
  const { roleName, externalId, account: accounts = [], config } = options;
  if (accounts.length > 0 && config !== undefined) {
    throw new UsageError('--account and --config: pass one of them, not both');
  }
  if (config !== undefined && (options.secrets?.length ?? 0) > 0) {
    throw new UsageError(
      '--config lists the users to show: name secrets or pass --config, not both',
    );
  }
  checkRoleOptions(roleName, externalId);
  for (const account of accounts) {
    if (!ACCOUNT_PATTERN.test(account)) {
      throw new UsageError(
        `--account: expected an AWS account id of 12 digits, got ${JSON.stringify(account)}`,
      );
    }
  }
  if (accounts.length === 0 && config === undefined) {
    throw new UsageError(
      '--role-name needs the accounts to look into: --account <id> (repeat for several) or --config <file>',
    );
  }
  const targets: readonly StatusTarget[] =
    config === undefined
      ? [...new Set(accounts)].map((account) => ({ account }))
      : await statusTargetsOfConfig(config);
  const withAccount = targets.find((target) => target.account !== undefined);
  if (withAccount?.account !== undefined && roleName === undefined) {
    throw new UsageError(
      `account ${withAccount.account} is read through a role: add --role-name <role> (e.g. --role-name IamKeyRotationStatus)`,
    );
  }
  const createTargetDependencies = runtime.createTargetDependencies;
  if (createTargetDependencies === undefined) {
    throw new UsageError('status --role-name and --config are not available in this runtime');
  }
  return runStatusAcrossAccounts(
    {
      io: runtime.io,
      clock: systemClock,
      dependenciesFor: (target) =>
        createTargetDependencies(runtime.clientConfig, {
          ...(target.account === undefined ? {} : { account: target.account }),
          ...(target.region === undefined ? {} : { region: target.region }),
          ...(roleName === undefined ? {} : { roleName }),
          ...(externalId === undefined ? {} : { externalId }),
        }),
    },
    {
      ...options,
      ...(roleName === undefined ? {} : { roleName }),
      // The region column names the command's region when --region gives it.
      targets: targets.map((target) =>
        target.region === undefined && typeof runtime.clientConfig.region === 'string'
          ? { ...target, region: runtime.clientConfig.region }
          : target,
      ),
    },
  );
};
