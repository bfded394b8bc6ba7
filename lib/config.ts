import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { DEFAULT_STALE_KEY_DAYS } from '../lambda/rotation/binding.js';
import { AWS_REGION_PATTERN } from '../lambda/rotation/ses-smtp-password.js';
import { MAX_TAG_VALUE_LENGTH } from '../lambda/rotation/ses-smtp-settings.js';
import { MAX_STALE_KEY_DAYS, MIN_STALE_KEY_DAYS } from './key-rotation-function.js';
import { KeyRotationSchedule } from './key-rotation-schedule.js';
import { assignStackNames, environmentKey } from './stack-sharding.js';

/** The cdk.json context key that holds the configuration object. */
export const CONFIG_CONTEXT_KEY = 'iamKeyRotation';
/** The cdk.json context key that names a JSON file holding the configuration instead. */
export const CONFIG_FILE_CONTEXT_KEY = 'iamKeyRotationConfigFile';

/** One IAM user whose access key is rotated. */
export interface RotatedUserConfig {
  /** The IAM user name. */
  readonly userName: string;
  /** The IAM path of the user, `/` or `/division/`. */
  readonly path: string;
  /**
   * The CloudFormation stack that holds the user's secret: the user's `stack`, or the automatic
   * stack that `assignStackNames` (lib/stack-sharding.ts) picks for it.
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
}

/** Where each stack sends its rotation events and alarm notifications. */
export interface NotificationsConfig {
  /**
   * Addresses subscribed by email to the topic the stack creates (each must confirm); empty with
   * `topicArn`.
   */
  readonly email: readonly string[];
  /** An existing SNS topic to publish to instead of a topic of the stack. */
  readonly topicArn?: string;
  /** Whether successful rotations (`RotationSucceeded`) are announced too. */
  readonly onSuccess: boolean;
}

/** The AWS Config rules each stack adds. */
export interface ComplianceRulesConfig {
  /** `maxAccessKeyAge` of the `access-keys-rotated` rule, in days. */
  readonly maxAccessKeyAgeDays: number;
}

/** The validated configuration of the app. */
export interface IamKeyRotationConfig {
  readonly users: readonly RotatedUserConfig[];
  /**
   * Days without use after which the rotation function may delete a key the secret does not
   * hold, to make room for a new one (every stack's function).
   */
  readonly staleKeyDays: number;
  /** Notifications of every stack; absent for none (alarms and dashboard exist regardless). */
  readonly notifications?: NotificationsConfig;
  /**
   * How long a previous key stays Active after a rotation (every stack's function); zero for
   * none.
   */
  readonly gracePeriod: Duration;
  /** The AWS Config rules of every stack; absent for none. */
  readonly complianceRules?: ComplianceRulesConfig;
}

/** `maxAccessKeyAgeDays` when `complianceRules` is `true` or leaves it out (AWS's default). */
export const DEFAULT_MAX_ACCESS_KEY_AGE_DAYS = 90;
const MIN_MAX_ACCESS_KEY_AGE_DAYS = 1;
const MAX_MAX_ACCESS_KEY_AGE_DAYS = 1000;

/** The stack that holds users without a `stack` field. */
export const DEFAULT_STACK_NAME = 'IamKeyRotation';

/**
 * Most users one stack may hold: each user costs 3 CloudFormation resources (secret, rotation
 * schedule, and the user or the custom resource that tags it) of the 500 a stack may hold, and
 * about 310 characters of the execution role's policies (10 KB inline plus the role's default
 * quota of 10 managed policies of 6 KB each, which CDK fills with overflow policies); an
 * existing user costs about as much of the ownership tagger's role.
 */
export const MAX_USERS_PER_STACK = 100;

/** The configured users grouped by stack name, in order of first appearance. */
export function usersByStack(
  config: IamKeyRotationConfig,
): ReadonlyMap<string, readonly RotatedUserConfig[]> {
  const groups = new Map<string, RotatedUserConfig[]>();
  for (const user of config.users) {
    const group = groups.get(user.stackName) ?? [];
    group.push(user);
    groups.set(user.stackName, group);
  }
  return groups;
}

/**
 * Thrown when the configuration is invalid; the message (one line) names the field and the
 * value, as in `iamKeyRotation.users[1].schedule: ...`.
 */
export class InvalidConfigurationError extends Error {
  public constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'InvalidConfigurationError';
  }
}

const USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;
const WINDOW_PATTERN = /^(\d+)h$/;
const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
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
];
const ACCOUNT_PATTERN = /^\d{12}$/;
/** A commercial, China or GovCloud region such as `eu-west-1` or `us-gov-west-1`. */
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ROOT_FIELDS = ['users', 'staleKeyDays', 'notifications', 'gracePeriod', 'complianceRules'];
const NOTIFICATIONS_FIELDS = ['email', 'topicArn', 'onSuccess'];
const COMPLIANCE_RULES_FIELDS = ['maxAccessKeyAgeDays'];
/**
 * An email address as SNS accepts it for a subscription: a local part, @, and a domain of at
 * least two labels (at most 254 characters in all).
 */
const EMAIL_PATTERN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const MAX_EMAIL_LENGTH = 254;
/** A standard SNS topic's ARN (FIFO topics end in .fifo and are refused separately). */
const TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const FIFO_TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,251}\.fifo$/;
/** `gracePeriod`: whole minutes, hours or days. */
const GRACE_PERIOD_PATTERN = /^(\d{1,7})(m|h|d)$/;

/**
 * Reads the configuration from the context: the object under `iamKeyRotation` (or a JSON string
 * of it, as passed with `-c`), or the JSON file named by `iamKeyRotationConfigFile` (relative to
 * the working directory).
 */
export function loadIamKeyRotationConfig(
  tryGetContext: (key: string) => unknown,
): IamKeyRotationConfig {
  const inline: unknown = tryGetContext(CONFIG_CONTEXT_KEY);
  const file: unknown = tryGetContext(CONFIG_FILE_CONTEXT_KEY);
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') {
      throw new InvalidConfigurationError(
        CONFIG_FILE_CONTEXT_KEY,
        `expected a file path, got ${JSON.stringify(file)}`,
      );
    }
    if (inline !== undefined) {
      throw new InvalidConfigurationError(
        CONFIG_FILE_CONTEXT_KEY,
        `set either ${CONFIG_CONTEXT_KEY} or ${CONFIG_FILE_CONTEXT_KEY}, not both (file "${file}")`,
      );
    }
    const filePath = path.resolve(file);
    let text: string;
    try {
      text = readFileSync(filePath, 'utf8');
    } catch (error) {
      throw new InvalidConfigurationError(
        CONFIG_FILE_CONTEXT_KEY,
        `cannot read "${filePath}": ${oneLine((error as Error).message)}`,
      );
    }
    return parseIamKeyRotationConfig(parseJson(text, `${CONFIG_FILE_CONTEXT_KEY} "${file}"`));
  }
  if (inline === undefined) {
    throw new InvalidConfigurationError(
      CONFIG_CONTEXT_KEY,
      `no configuration: name a JSON file with -c ${CONFIG_FILE_CONTEXT_KEY}=<file> (e.g. examples/users.json) or pass the JSON itself with -c ${CONFIG_CONTEXT_KEY}='{"users":[...]}'`,
    );
  }
  return parseIamKeyRotationConfig(typeof inline === 'string' ? parseInlineJson(inline) : inline);
}

/** How much of a received value an error message quotes. */
const MAX_QUOTED_CHARACTERS = 120;

/** `text` as a one-line JSON string, cut to {@link MAX_QUOTED_CHARACTERS} characters. */
function quoteReceived(text: string): string {
  return text.length <= MAX_QUOTED_CHARACTERS
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, MAX_QUOTED_CHARACTERS))}... (${text.length} characters)`;
}

/**
 * Parses the JSON passed as the `iamKeyRotation` context string. JSON spread over several lines
 * is fine where the value arrives whole (cdk.json, `CDK_CONTEXT_JSON`), but the CDK CLI keeps
 * only the first line of a `-c key=value`, so a one-line value that is not JSON gets a hint.
 */
function parseInlineJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const hint = text.includes('\n')
      ? ''
      : ` (the CDK CLI passes only the first line of a -c value: write the JSON on one line, or put it in a file and use -c ${CONFIG_FILE_CONTEXT_KEY}=<file>)`;
    throw new InvalidConfigurationError(
      CONFIG_CONTEXT_KEY,
      `invalid JSON (${oneLine((error as Error).message)}), got ${quoteReceived(text)}${hint}`,
    );
  }
}

/** A message on one line. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}

/**
 * Validates a raw configuration value into typed objects.
 *
 * @param field how the value is named in error messages
 * @throws InvalidConfigurationError naming the first bad field and its value
 */
export function parseIamKeyRotationConfig(
  raw: unknown,
  field: string = CONFIG_CONTEXT_KEY,
): IamKeyRotationConfig {
  const root = expectObject(raw, field, ROOT_FIELDS);
  const usersField = `${field}.users`;
  const users = root.users;
  if (!Array.isArray(users) || users.length === 0) {
    throw new InvalidConfigurationError(
      usersField,
      `expected a non-empty array of users, got ${describe(users)}`,
    );
  }
  const firstIndexByName = new Map<string, number>();
  const requestsSoFar: ParsedUser[] = [];
  const requests = users.map((user: unknown, index) => {
    const userField = `${usersField}[${index}]`;
    const result = parseUser(user, userField);
    // IAM user names are unique in an account regardless of case, and a user is owned by one
    // secret: the same user of the same account may be configured once (whatever the region).
    const key = `${result.account ?? ''}/${result.userName.toLowerCase()}`;
    const first = firstIndexByName.get(key);
    if (first !== undefined) {
      const firstPlace = describePlace(requestsSoFar[first]);
      throw new InvalidConfigurationError(
        `${userField}.userName`,
        `duplicate user name "${result.userName}" in ${result.account === undefined ? 'the default account' : `account ${result.account}`}: here ${describePlace(result)}, already configured at ${usersField}[${first}] ${firstPlace}; IAM user names are case-insensitive and global to an account, and one secret owns a user: configure it once`,
      );
    }
    firstIndexByName.set(key, index);
    requestsSoFar.push(result);
    return result;
  });
  const stackNames = assignStackNames(requests, DEFAULT_STACK_NAME, MAX_USERS_PER_STACK);
  const parsed: RotatedUserConfig[] = requests.map((request, index) => {
    const user: { -readonly [K in keyof ParsedUser]?: ParsedUser[K] } = { ...request };
    delete user.stack;
    return { ...(user as ParsedUser), stackName: stackNames[index] ?? DEFAULT_STACK_NAME };
  });
  const staleKeyDays = root.staleKeyDays ?? DEFAULT_STALE_KEY_DAYS;
  if (
    typeof staleKeyDays !== 'number' ||
    !Number.isInteger(staleKeyDays) ||
    staleKeyDays < MIN_STALE_KEY_DAYS ||
    staleKeyDays > MAX_STALE_KEY_DAYS
  ) {
    throw new InvalidConfigurationError(
      `${field}.staleKeyDays`,
      `expected a whole number of days from ${MIN_STALE_KEY_DAYS} to ${MAX_STALE_KEY_DAYS}, got ${describe(staleKeyDays)}`,
    );
  }
  const notifications =
    root.notifications === undefined
      ? undefined
      : parseNotifications(root.notifications, `${field}.notifications`);
  const gracePeriod = parseGracePeriod(root.gracePeriod, `${field}.gracePeriod`);
  if (gracePeriod.toSeconds() > 0) {
    parsed.forEach((user, index) => {
      if (gracePeriod.toSeconds() >= user.schedule.shortestInterval.toSeconds()) {
        throw new InvalidConfigurationError(
          `${field}.gracePeriod`,
          `must be shorter than the rotation interval of every user, got ${describe(root.gracePeriod)} (${gracePeriod.toHumanString()}) but user "${user.userName}" (${usersField}[${index}]) has schedule "${user.schedule.expressionString}": ${user.schedule.describeShortestInterval()}; the previous key must be retired before the next rotation`,
        );
      }
    });
  }
  const complianceRules =
    root.complianceRules === undefined
      ? undefined
      : parseComplianceRules(root.complianceRules, `${field}.complianceRules`);
  const config = { users: parsed, staleKeyDays, notifications, gracePeriod, complianceRules };
  const environmentOfStack = new Map<string, number>();
  parsed.forEach((user, index) => {
    const first = environmentOfStack.get(user.stackName);
    const firstUser = first === undefined ? undefined : parsed[first];
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
  for (const [stackName, stackUsers] of usersByStack(config)) {
    if (stackUsers.length > MAX_USERS_PER_STACK) {
      throw new InvalidConfigurationError(
        usersField,
        `stack "${stackName}" would hold ${stackUsers.length} users, at most ${MAX_USERS_PER_STACK} per stack (CloudFormation's 500 resources per stack, the role's 10 managed policies); give some users another "stack", e.g. "${stackName}-2", or leave "stack" out to have them placed in automatic stacks`,
      );
    }
  }
  return config;
}

/** A user as configured: its explicit `stack`, if any, instead of the stack it is placed in. */
type ParsedUser = Omit<RotatedUserConfig, 'stackName'> & { readonly stack?: string };

/** Where a user is deployed, for messages: `(region eu-west-1, stack "X")`. */
function describePlace(user: ParsedUser | RotatedUserConfig | undefined): string {
  if (user === undefined) return '(unknown)';
  const stack = 'stackName' in user ? user.stackName : user.stack;
  const parts = [
    user.region === undefined ? 'the default region' : `region ${user.region}`,
    ...(stack === undefined ? [] : [`stack "${stack}"`]),
  ];
  return `(${parts.join(', ')})`;
}

/** A user's account and region, for messages: `(account 123456789012, the default region)`. */
function describeEnvironment(user: RotatedUserConfig): string {
  return `(${user.account === undefined ? 'the default account' : `account ${user.account}`}, ${user.region === undefined ? 'the default region' : `region ${user.region}`})`;
}

function parseUser(raw: unknown, field: string): ParsedUser {
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

  return {
    userName,
    path: userPath,
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

function parseNotifications(raw: unknown, field: string): NotificationsConfig {
  const notifications = expectObject(raw, field, NOTIFICATIONS_FIELDS);

  const topicArn = notifications.topicArn;
  if (topicArn !== undefined) {
    if (typeof topicArn === 'string' && FIFO_TOPIC_ARN_PATTERN.test(topicArn)) {
      throw new InvalidConfigurationError(
        `${field}.topicArn`,
        `expected a standard SNS topic (CloudWatch alarms do not publish to FIFO topics), got ${describe(topicArn)}`,
      );
    }
    if (typeof topicArn !== 'string' || !TOPIC_ARN_PATTERN.test(topicArn)) {
      throw new InvalidConfigurationError(
        `${field}.topicArn`,
        `expected an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic name>), got ${describe(topicArn)}`,
      );
    }
  }

  const email = notifications.email ?? [];
  if (!Array.isArray(email) || (notifications.email !== undefined && email.length === 0)) {
    throw new InvalidConfigurationError(
      `${field}.email`,
      `expected a non-empty array of email addresses, got ${describe(notifications.email)}`,
    );
  }
  if (topicArn !== undefined && email.length > 0) {
    throw new InvalidConfigurationError(
      `${field}.email`,
      `subscriptions are made only to the topic the stack creates: leave out "topicArn", or subscribe the addresses to ${describe(topicArn)} where that topic is managed, got ${describe(email)}`,
    );
  }
  const firstIndexByAddress = new Map<string, number>();
  email.forEach((address: unknown, index) => {
    if (
      typeof address !== 'string' ||
      address.length > MAX_EMAIL_LENGTH ||
      !EMAIL_PATTERN.test(address)
    ) {
      throw new InvalidConfigurationError(
        `${field}.email[${index}]`,
        `expected an email address like "security-team@example.com", got ${describe(address)}`,
      );
    }
    const key = address.toLowerCase();
    const first = firstIndexByAddress.get(key);
    if (first !== undefined) {
      throw new InvalidConfigurationError(
        `${field}.email[${index}]`,
        `duplicate email address ${describe(address)} (already at ${field}.email[${first}])`,
      );
    }
    firstIndexByAddress.set(key, index);
  });

  const onSuccess = notifications.onSuccess ?? false;
  if (typeof onSuccess !== 'boolean') {
    throw new InvalidConfigurationError(
      `${field}.onSuccess`,
      `expected true or false, got ${describe(onSuccess)}`,
    );
  }
  return {
    email: email as string[],
    ...(topicArn === undefined ? {} : { topicArn }),
    onSuccess,
  };
}

/** `0` (or absent) for none, else whole minutes, hours or days such as `"90m"`, `"24h"`, `"7d"`. */
function parseGracePeriod(raw: unknown, field: string): Duration {
  if (raw === undefined || raw === 0 || raw === '0') {
    return Duration.minutes(0);
  }
  const match = typeof raw === 'string' ? GRACE_PERIOD_PATTERN.exec(raw) : null;
  if (!match) {
    throw new InvalidConfigurationError(
      field,
      `expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got ${describe(raw)}`,
    );
  }
  const amount = Number(match[1]);
  switch (match[2]) {
    case 'm':
      return Duration.minutes(amount);
    case 'h':
      return Duration.hours(amount);
    default:
      return Duration.days(amount);
  }
}

/** `true` for the defaults, `false` for none, or `{"maxAccessKeyAgeDays": N}`. */
function parseComplianceRules(raw: unknown, field: string): ComplianceRulesConfig | undefined {
  if (raw === false) {
    return undefined;
  }
  if (raw === true) {
    return { maxAccessKeyAgeDays: DEFAULT_MAX_ACCESS_KEY_AGE_DAYS };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigurationError(
      field,
      `expected true, false or an object like {"maxAccessKeyAgeDays": 90}, got ${describe(raw)}`,
    );
  }
  const rules = expectObject(raw, field, COMPLIANCE_RULES_FIELDS);
  const maxAccessKeyAgeDays = rules.maxAccessKeyAgeDays ?? DEFAULT_MAX_ACCESS_KEY_AGE_DAYS;
  if (
    typeof maxAccessKeyAgeDays !== 'number' ||
    !Number.isInteger(maxAccessKeyAgeDays) ||
    maxAccessKeyAgeDays < MIN_MAX_ACCESS_KEY_AGE_DAYS ||
    maxAccessKeyAgeDays > MAX_MAX_ACCESS_KEY_AGE_DAYS
  ) {
    throw new InvalidConfigurationError(
      `${field}.maxAccessKeyAgeDays`,
      `expected a whole number of days from ${MIN_MAX_ACCESS_KEY_AGE_DAYS} to ${MAX_MAX_ACCESS_KEY_AGE_DAYS}, got ${describe(maxAccessKeyAgeDays)}`,
    );
  }
  return { maxAccessKeyAgeDays };
}

function expectObject(raw: unknown, field: string, allowed: string[]): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigurationError(field, `expected an object, got ${describe(raw)}`);
  }
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      throw new InvalidConfigurationError(
        `${field}.${key}`,
        `unknown field (allowed: ${allowed.join(', ')}), got ${describe(record[key])}`,
      );
    }
  }
  return record;
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidConfigurationError(
      field,
      `invalid JSON: ${oneLine((error as Error).message)}`,
    );
  }
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
