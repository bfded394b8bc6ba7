import { Duration } from 'aws-cdk-lib';
import { AWS_REGION_PATTERN } from '../lambda/rotation/ses-smtp-password.js';
import { MAX_TAG_VALUE_LENGTH } from '../lambda/rotation/ses-smtp-settings.js';
import {
  describe,
  expectBoolean,
  expectObject,
  InvalidConfigurationError,
} from './config-error.js';
import { KeyRotationSchedule } from './key-rotation-schedule.js';

/**
 * What happens to a user's secret and created IAM user when the user leaves the configuration or
 * its stack is destroyed: `retain` keeps them (CloudFormation's `DeletionPolicy: Retain`),
 * `destroy` deletes them.
 */
export type RemovalPolicyName = 'retain' | 'destroy';

/** The removal policies the configuration accepts. */
export const REMOVAL_POLICY_NAMES: readonly RemovalPolicyName[] = ['retain', 'destroy'];

/** One IAM user whose access key is rotated. */
export interface RotatedUserConfig {
  /** The IAM user name. */
  readonly userName: string;
  /** The IAM path of the user, `/` or `/division/`. */
  readonly path: string;
  /**
   * The CloudFormation stack that holds the user's secret: the user's `stack`, or the stack the
   * placement (lib/stack-placement.ts) keeps it in or picks for it.
   */
  readonly stackName: string;
  /** The AWS account (12 digits) the user and its secret live in; absent for the CLI's account. */
  readonly account?: string;
  /** The region of the user's secret and stack; absent for the CLI's region. */
  readonly region?: string;
  /** Whether the stack creates the user (otherwise it must exist already). */
  readonly createUser: boolean;
  /** When to rotate. */
  readonly schedule: KeyRotationSchedule;
  /** The rotation window, if not Secrets Manager's default. */
  readonly window?: Duration;
  /** ARN of the customer-managed KMS key that encrypts the secret, if any. */
  readonly kmsKeyArn?: string;
  /** Regions whose SES SMTP password the secret holds beside the key; absent for none. */
  readonly sesSmtpRegions?: readonly string[];
  /** Whether testSecret proves the SMTP login in each of `sesSmtpRegions`. */
  readonly sesSmtpTest?: boolean;
  /** Whether the secret (and a created user) is kept or deleted when removed. */
  readonly removalPolicy: RemovalPolicyName;
}

/**
 * A user as configured: its explicit `stack`, if any, instead of the stack it is placed in, and
 * whether the configuration allows moving it; `removalPolicy` only when the user sets it.
 */
export type ConfiguredUser = Omit<RotatedUserConfig, 'stackName' | 'removalPolicy'> & {
  readonly stack?: string;
  readonly allowStackMove: boolean;
  readonly removalPolicy?: RemovalPolicyName;
};

const USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;
const WINDOW_PATTERN = /^(\d+)h$/;
const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key\/[A-Za-z0-9-]+$/;
const PATH_PATTERN = /^\/([\x21-\x7E]+\/)?$/;
const STACK_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const USER_FIELDS = [
  'userName',
  'path',
  'createUser',
  'schedule',
  'window',
  'kmsKeyArn',
  'stack',
  'account',
  'region',
  'sesSmtpRegions',
  'sesSmtpTest',
  'removalPolicy',
  'allowStackMove',
];
const ACCOUNT_PATTERN = /^\d{12}$/;
/** A commercial, China or GovCloud region such as `eu-west-1` or `us-gov-west-1`. */
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The region of a KMS key ARN (validated by the user's parser). */
export function kmsKeyRegion(kmsKeyArn: string): string | undefined {
  return KMS_KEY_ARN_PATTERN.exec(kmsKeyArn)?.[1];
}

/**
 * `removalPolicy`: `"retain"` or `"destroy"`, or `undefined` when absent.
 *
 * @throws InvalidConfigurationError naming the field
 */
export function parseRemovalPolicy(raw: unknown, field: string): RemovalPolicyName | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(REMOVAL_POLICY_NAMES as readonly string[]).includes(raw)) {
    throw new InvalidConfigurationError(
      field,
      `expected "retain" (keep the secret and a created user when removed, the default) or "destroy" (delete them), got ${describe(raw)}`,
    );
  }
  return raw as RemovalPolicyName;
}

/** Validates one entry of `users`. */
export function parseUser(raw: unknown, field: string): ConfiguredUser {
  const user = expectObject(raw, field, USER_FIELDS);

  const userName = user.userName;
  if (typeof userName !== 'string' || !USER_NAME_PATTERN.test(userName)) {
    throw new InvalidConfigurationError(
      `${field}.userName`,
      `expected an IAM user name (1-64 characters of letters, digits and _+=,.@-), got ${describe(userName)}`,
    );
  }

  const userPath = user.path ?? '/';
  if (typeof userPath !== 'string' || userPath.length > 512 || !PATH_PATTERN.test(userPath)) {
    throw new InvalidConfigurationError(
      `${field}.path`,
      `expected an IAM path that starts and ends with / (at most 512 characters), got ${describe(userPath)}`,
    );
  }

  const stack = user.stack;
  if (stack !== undefined && (typeof stack !== 'string' || !STACK_NAME_PATTERN.test(stack))) {
    throw new InvalidConfigurationError(
      `${field}.stack`,
      `expected a CloudFormation stack name (a letter, then letters, digits and -, at most 128), got ${describe(stack)}`,
    );
  }

  const account = user.account;
  if (account !== undefined && (typeof account !== 'string' || !ACCOUNT_PATTERN.test(account))) {
    throw new InvalidConfigurationError(
      `${field}.account`,
      `expected an AWS account id of 12 digits as a string, e.g. "123456789012", got ${describe(account)}`,
    );
  }
  const region = user.region;
  if (region !== undefined && (typeof region !== 'string' || !REGION_PATTERN.test(region))) {
    throw new InvalidConfigurationError(
      `${field}.region`,
      `expected an AWS region such as "eu-west-1", got ${describe(region)}`,
    );
  }

  const createUser = user.createUser ?? false;
  if (typeof createUser !== 'boolean') {
    throw new InvalidConfigurationError(
      `${field}.createUser`,
      `expected true or false, got ${describe(createUser)}`,
    );
  }

  const scheduleText = user.schedule;
  let schedule: KeyRotationSchedule;
  if (typeof scheduleText !== 'string') {
    throw new InvalidConfigurationError(
      `${field}.schedule`,
      `expected rate(N days), rate(N hours) or cron(...), got ${describe(scheduleText)}`,
    );
  }
  try {
    schedule = KeyRotationSchedule.fromExpression(scheduleText);
  } catch (error) {
    throw new InvalidConfigurationError(`${field}.schedule`, (error as Error).message);
  }

  let window: Duration | undefined;
  if (user.window !== undefined) {
    const match = typeof user.window === 'string' ? WINDOW_PATTERN.exec(user.window) : null;
    if (!match) {
      throw new InvalidConfigurationError(
        `${field}.window`,
        `expected whole hours like "4h", got ${describe(user.window)}`,
      );
    }
    window = Duration.hours(Number(match[1]));
    const problem = schedule.windowProblem(window);
    if (problem !== undefined) {
      throw new InvalidConfigurationError(
        `${field}.window`,
        `${problem} (window ${describe(user.window)}, schedule "${scheduleText}")`,
      );
    }
  }

  const kmsKeyArn = user.kmsKeyArn;
  if (
    kmsKeyArn !== undefined &&
    (typeof kmsKeyArn !== 'string' || !KMS_KEY_ARN_PATTERN.test(kmsKeyArn))
  ) {
    throw new InvalidConfigurationError(
      `${field}.kmsKeyArn`,
      `expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; aliases are not accepted), got ${describe(kmsKeyArn)}`,
    );
  }

  const removalPolicy = parseRemovalPolicy(user.removalPolicy, `${field}.removalPolicy`);
  const allowStackMove = expectBoolean(user.allowStackMove, `${field}.allowStackMove`, false);

  return {
    userName,
    path: userPath,
    ...(removalPolicy === undefined ? {} : { removalPolicy }),
    allowStackMove,
    ...(stack === undefined ? {} : { stack }),
    ...(account === undefined ? {} : { account }),
    ...(region === undefined ? {} : { region }),
    createUser,
    schedule,
    window,
    kmsKeyArn,
    ...parseSesSmtp(user, field),
  };
}

/**
 * `sesSmtpRegions` (a non-empty list of distinct AWS region names, which must fit the secret's
 * tag value) and `sesSmtpTest` (a boolean, only with `sesSmtpRegions`).
 */
function parseSesSmtp(
  user: Record<string, unknown>,
  field: string,
): Pick<RotatedUserConfig, 'sesSmtpRegions' | 'sesSmtpTest'> {
  const { sesSmtpRegions: regions, sesSmtpTest: test } = user;
  if (regions === undefined) {
    if (test !== undefined) {
      throw new InvalidConfigurationError(
        `${field}.sesSmtpTest`,
        `is only allowed with sesSmtpRegions (the regions whose SMTP login to test), got ${describe(test)}`,
      );
    }
    return {};
  }
  if (!Array.isArray(regions) || regions.length === 0) {
    throw new InvalidConfigurationError(
      `${field}.sesSmtpRegions`,
      `expected a non-empty array of AWS region names like ["eu-west-1"], got ${describe(regions)}`,
    );
  }
  regions.forEach((region: unknown, index) => {
    if (typeof region !== 'string' || !AWS_REGION_PATTERN.test(region)) {
      throw new InvalidConfigurationError(
        `${field}.sesSmtpRegions[${index}]`,
        `expected an AWS region name like "eu-west-1", got ${describe(region)}`,
      );
    }
    const first = regions.indexOf(region);
    if (first !== index) {
      throw new InvalidConfigurationError(
        `${field}.sesSmtpRegions[${index}]`,
        `duplicate region ${describe(region)} (already at ${field}.sesSmtpRegions[${first}])`,
      );
    }
  });
  const tagValue = (regions as string[]).join(' ');
  if (tagValue.length > MAX_TAG_VALUE_LENGTH) {
    throw new InvalidConfigurationError(
      `${field}.sesSmtpRegions`,
      `the regions, separated by spaces, must fit in a secret tag of ${MAX_TAG_VALUE_LENGTH} characters, got ${tagValue.length} characters for ${regions.length} regions`,
    );
  }
  if (test !== undefined && typeof test !== 'boolean') {
    throw new InvalidConfigurationError(
      `${field}.sesSmtpTest`,
      `expected true or false, got ${describe(test)}`,
    );
  }
  return {
    sesSmtpRegions: regions as string[],
    ...(test === undefined ? {} : { sesSmtpTest: test }),
  };
}
