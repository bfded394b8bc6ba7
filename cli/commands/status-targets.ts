import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CliClientConfig, CliDependencies, CliIo } from '../dependencies.js';
import { UsageError, type ExitCode } from '../errors.js';
import { systemClock } from '../dependencies.js';
import { runStatusAcrossAccounts, type StatusCommandOptions, type StatusTarget } from './status.js';

/** The options of `status` that look into other accounts. */
export interface AccountStatusOptions {
  /** The role to assume in each account. */
  readonly roleName?: string;
  /** Accounts named with `--account` (repeatable). */
  readonly account?: readonly string[];
  /** An iamKeyRotation configuration file whose users' accounts and regions are read. */
  readonly config?: string;
}

export interface AccountStatusRuntime {
  readonly io: CliIo;
  readonly clientConfig: CliClientConfig;
  readonly createTargetDependencies?: (
    clientConfig: CliClientConfig,
    target: { readonly account?: string; readonly region?: string; readonly roleName: string },
  ) => Promise<CliDependencies>;
}

const ACCOUNT_PATTERN = /^\d{12}$/;
/** An IAM role name (the path, if any, is not part of `--role-name`). */
const ROLE_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/**
 * The accounts and regions of a configuration's users, in order of first appearance: a user
 * without `account` is read with the CLI's own credentials, without `region` in the CLI's region.
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
  let users: readonly { readonly account?: string; readonly region?: string }[];
  try {
    users = parseIamKeyRotationConfig(raw).users;
  } catch (error) {
    throw new UsageError(`--config "${file}": ${(error as Error).message}`);
  }
  const seen = new Set<string>();
  const targets: StatusTarget[] = [];
  for (const { account, region } of users) {
    const key = `${account ?? ''}/${region ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    targets.push({
      ...(account === undefined ? {} : { account }),
      ...(region === undefined ? {} : { region }),
    });
  }
  return targets;
};

/**
 * `status --role-name <role> (--account <id>... | --config <file>)`: checks the options, finds
 * the accounts and regions, and shows them in one table (see `runStatusAcrossAccounts`).
 *
 * @throws UsageError naming the option and what was expected
 */
export const runStatusAcrossAccountsCommand = async (
  runtime: AccountStatusRuntime,
  options: AccountStatusOptions & StatusCommandOptions,
): Promise<ExitCode> => {
  const { roleName, account: accounts = [], config } = options;
  if (roleName === undefined) {
    throw new UsageError(
      `--account and --config need --role-name <role>: the role to assume in each account (e.g. --role-name IamKeyRotationStatus)`,
    );
  }
  if (!ROLE_NAME_PATTERN.test(roleName)) {
    throw new UsageError(
      `--role-name: expected an IAM role name (1-64 characters of letters, digits and _+=,.@-), got ${JSON.stringify(roleName)}`,
    );
  }
  if (accounts.length > 0 === (config !== undefined)) {
    throw new UsageError(
      `--role-name needs either --account <id> (repeat for several) or --config <file>, ${config === undefined ? 'got neither' : 'not both'}`,
    );
  }
  for (const account of accounts) {
    if (!ACCOUNT_PATTERN.test(account)) {
      throw new UsageError(
        `--account: expected an AWS account id of 12 digits, got ${JSON.stringify(account)}`,
      );
    }
  }
  const createTargetDependencies = runtime.createTargetDependencies;
  if (createTargetDependencies === undefined) {
    throw new UsageError('status --role-name is not available in this runtime');
  }
  const targets: readonly StatusTarget[] =
    config === undefined
      ? [...new Set(accounts)].map((account) => ({ account }))
      : await statusTargetsOfConfig(config);
  return runStatusAcrossAccounts(
    {
      io: runtime.io,
      clock: systemClock,
      dependenciesFor: (target) =>
        createTargetDependencies(runtime.clientConfig, { ...target, roleName }),
    },
    {
      ...options,
      roleName,
      // The region column names the CLI's region when --region gives it.
      targets: targets.map((target) =>
        target.region === undefined && typeof runtime.clientConfig.region === 'string'
          ? { ...target, region: runtime.clientConfig.region }
          : target,
      ),
    },
  );
};
