import type { Duration } from 'aws-cdk-lib';
import { describe, InvalidConfigurationError } from './config-error.js';
import type { ComplianceRulesConfig } from './config-monitoring.js';
import { kmsKeyRegion, type ConfiguredUser, type RotatedUserConfig } from './config-user.js';
import { environmentKey } from './stack-sharding.js';

/** The account and region that users without `account` or `region` deploy to, when known. */
export interface DefaultEnvironment {
  /** The CLI's account (`CDK_DEFAULT_ACCOUNT`), known when synth has credentials. */
  readonly account?: string;
  /** The CLI's region (`CDK_DEFAULT_REGION`). */
  readonly region?: string;
}

const DAY_SECONDS = 86_400;

/** Where a user is deployed, for messages: `(region eu-west-1, stack "X")`. */
export function describePlace(user: ConfiguredUser | RotatedUserConfig | undefined): string {
  if (user === undefined) return '(unknown)';
  const stack = 'stackName' in user ? user.stackName : user.stack;
  const parts = [
    user.region === undefined ? 'the default region' : `region ${user.region}`,
    ...(stack === undefined ? [] : [`stack "${stack}"`]),
  ];
  return `(${parts.join(', ')})`;
}

/** A user's account and region, for messages: `(account 123456789012, the default region)`. */
export function describeEnvironment(user: { account?: string; region?: string }): string {
  return `(${user.account === undefined ? 'the default account' : `account ${user.account}`}, ${user.region === undefined ? 'the default region' : `region ${user.region}`})`;
}

/**
 * One user of an account (IAM user names are case-insensitive and global to an account, and one
 * secret owns a user): the same name twice in one account, also when one names the default
 * account's id explicitly and the other leaves `account` out.
 */
export function checkDuplicateUsers(
  users: readonly ConfiguredUser[],
  usersField: string,
  defaults: DefaultEnvironment,
): void {
  const firstIndexByName = new Map<string, number>();
  users.forEach((user, index) => {
    const account = user.account ?? defaults.account;
    const key = `${account ?? ''}/${user.userName.toLowerCase()}`;
    const first = firstIndexByName.get(key);
    if (first !== undefined) {
      const firstUser = users[first];
      const sameByDefault = (firstUser?.account ?? '') !== (user.account ?? '');
      const where =
        account === undefined
          ? 'the default account'
          : `account ${account}${sameByDefault ? ` (the default account, CDK_DEFAULT_ACCOUNT, is ${defaults.account ?? ''}: one entry names it, the other leaves "account" out)` : ''}`;
      throw new InvalidConfigurationError(
        `${usersField}[${index}].userName`,
        `duplicate user name "${user.userName}" in ${where}: here ${describePlace(user)}, already configured at ${usersField}[${first}] ${describePlace(firstUser)}; IAM user names are case-insensitive and global to an account, and one secret owns a user: configure it once`,
      );
    }
    firstIndexByName.set(key, index);
  });
}

/** A customer-managed key encrypts secrets of its own region only. */
export function checkKmsKeyRegions(
  users: readonly ConfiguredUser[],
  usersField: string,
  defaults: DefaultEnvironment,
): void {
  users.forEach((user, index) => {
    if (user.kmsKeyArn === undefined) return;
    const stackRegion = user.region ?? defaults.region;
    const keyRegion = kmsKeyRegion(user.kmsKeyArn);
    if (stackRegion !== undefined && keyRegion !== undefined && keyRegion !== stackRegion) {
      throw new InvalidConfigurationError(
        `${usersField}[${index}].kmsKeyArn`,
        `expected a KMS key in region ${stackRegion}, the region of user "${user.userName}"'s secret${user.region === undefined ? ' (the default region, CDK_DEFAULT_REGION)' : ''}, got a key in ${keyRegion}: ${describe(user.kmsKeyArn)}; Secrets Manager encrypts a secret only with a key of its own region`,
      );
    }
  });
}

/**
 * `maxAccessKeyAgeDays` must cover every user's rotation interval plus the grace period, or the
 * `access-keys-rotated` rule flags keys that are rotated on schedule.
 */
export function checkMaxAccessKeyAge(
  users: readonly RotatedUserConfig[],
  usersField: string,
  rules: ComplianceRulesConfig,
  gracePeriod: Duration,
  field: string,
): void {
  users.forEach((user, index) => {
    const neededSeconds = user.schedule.shortestInterval.toSeconds() + gracePeriod.toSeconds();
    const neededDays = Math.ceil(neededSeconds / DAY_SECONDS);
    if (rules.maxAccessKeyAgeDays < neededDays) {
      const grace =
        gracePeriod.toSeconds() > 0
          ? ` plus the grace period of ${gracePeriod.toHumanString()} (the previous key stays Active that long)`
          : '';
      throw new InvalidConfigurationError(
        `${field}.maxAccessKeyAgeDays`,
        `expected at least ${neededDays} days, got ${rules.maxAccessKeyAgeDays}: user "${user.userName}" (${usersField}[${index}]) has schedule "${user.schedule.expressionString}" (${user.schedule.describeShortestInterval()})${grace}, so the access-keys-rotated rule would flag its keys although they are rotated on schedule`,
      );
    }
  });
}

/** A stack lives in one account and region. */
export function checkStackEnvironments(
  users: readonly RotatedUserConfig[],
  usersField: string,
): void {
  const environmentOfStack = new Map<string, number>();
  users.forEach((user, index) => {
    const first = environmentOfStack.get(user.stackName);
    const firstUser = first === undefined ? undefined : users[first];
    if (
      firstUser !== undefined &&
      environmentKey(firstUser.account, firstUser.region) !==
        environmentKey(user.account, user.region)
    ) {
      throw new InvalidConfigurationError(
        `${usersField}[${index}].stack`,
        `stack "${user.stackName}" is used in two places: here ${describeEnvironment(user)}, and at ${usersField}[${first}] ${describeEnvironment(firstUser)}; a stack lives in one account and region: give one of them another "stack", or leave "stack" out to have one chosen per account and region`,
      );
    }
    if (first === undefined) environmentOfStack.set(user.stackName, index);
  });
}
