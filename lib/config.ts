import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { DEFAULT_STALE_KEY_DAYS } from '../lambda/rotation/binding.js';
import {
  checkDuplicateUsers,
  checkKmsKeyRegions,
  checkMaxAccessKeyAge,
  checkStackEnvironments,
  describeEnvironment,
  type DefaultEnvironment,
} from './config-checks.js';
import {
  describe,
  expectBoolean,
  expectObject,
  InvalidConfigurationError,
  oneLine,
} from './config-error.js';
import { parseConfigJson, parseInlineConfigJson } from './config-json.js';
import {
  CONFIG_CONTEXT_KEY,
  CONFIG_FILE_CONTEXT_KEY,
  PLACEMENT_FILE_CONTEXT_KEY,
} from './config-keys.js';
import {
  parseComplianceRules,
  parseGracePeriod,
  parseNotifications,
  type ComplianceRulesConfig,
  type NotificationsConfig,
} from './config-monitoring.js';
import {
  parseRemovalPolicy,
  parseUser,
  type ConfiguredUser,
  type RemovalPolicyName,
  type RotatedUserConfig,
} from './config-user.js';
import { MAX_STALE_KEY_DAYS, MIN_STALE_KEY_DAYS } from './key-rotation-function.js';
import { placementFileFor, readPlacementFile } from './stack-placement.js';
import { placeUsers, type PlacedUser, type StackPlacementResult } from './stack-sharding.js';

export { CONFIG_CONTEXT_KEY, CONFIG_FILE_CONTEXT_KEY, PLACEMENT_FILE_CONTEXT_KEY };
export { InvalidConfigurationError };
export { DEFAULT_MAX_ACCESS_KEY_AGE_DAYS } from './config-monitoring.js';
export type { ComplianceRulesConfig, NotificationsConfig, RemovalPolicyName, RotatedUserConfig };
export type { DefaultEnvironment };

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
  /** Whether every stack has its CloudWatch dashboard (default true). */
  readonly dashboard: boolean;
  /** Whether every stack has the rotation function's CloudWatch alarms (default true). */
  readonly alarms: boolean;
  /** Whether every deployment awaits the first rotation of the secrets it creates (default true). */
  readonly awaitFirstRotation: boolean;
  /** Which user is in which stack, and what changed since the previous placement. */
  readonly placement: StackPlacementResult;
  /** The placement file to write the new placement to; absent for a configuration without one. */
  readonly placementFile?: string;
}

/** What {@link parseIamKeyRotationConfig} needs besides the raw configuration. */
export interface ParseConfigOptions {
  /** The placement of the previous synth (the placement file), absent for none. */
  readonly previousPlacement?: readonly PlacedUser[];
  /** How the placement is named in errors, e.g. `the placement file "users.placement.json"`. */
  readonly placementSource?: string;
  /** The account and region of users without them, when known (for the checks that need them). */
  readonly defaults?: DefaultEnvironment;
}

/** The stack that holds users without a `stack` field. */
export const DEFAULT_STACK_NAME = 'IamKeyRotation';

/**
 * Most users one stack may hold: each user costs 4 CloudFormation resources (secret, rotation
 * schedule, the user or the custom resource that tags it, and the first-rotation wait) of the 500
 * a stack may hold, and
 * about 310 characters of the execution role's policies (10 KB inline plus the role's default
 * quota of 10 managed policies of 6 KB each, which CDK fills with overflow policies); an
 * existing user costs about as much of the ownership tagger's role.
 */
export const MAX_USERS_PER_STACK = 100;

const ROOT_FIELDS = [
  'users',
  'staleKeyDays',
  'notifications',
  'gracePeriod',
  'complianceRules',
  'removalPolicy',
  'dashboard',
  'alarms',
  'awaitFirstRotation',
];

/** The configured users grouped by stack name, in order of first appearance. */
export function usersByStack(
  config: Pick<IamKeyRotationConfig, 'users'>,
): ReadonlyMap<string, readonly RotatedUserConfig[]> {
  const groups = new Map<string, RotatedUserConfig[]>();
  for (const user of config.users) {
    const group = groups.get(user.stackName) ?? [];
    group.push(user);
    groups.set(user.stackName, group);
  }
  return groups;
}

/** The placement file of the context: named by `iamKeyRotationPlacementFile`, else beside `file`. */
function placementFileOf(
  tryGetContext: (key: string) => unknown,
  file?: string,
): string | undefined {
  const named: unknown = tryGetContext(PLACEMENT_FILE_CONTEXT_KEY);
  if (named === undefined) return file === undefined ? undefined : placementFileFor(file);
  if (typeof named !== 'string' || named === '') {
    throw new InvalidConfigurationError(
      PLACEMENT_FILE_CONTEXT_KEY,
      `expected a file path, got ${describe(named)}`,
    );
  }
  return named;
}

/**
 * Reads the configuration from the context: the object under `iamKeyRotation` (or a JSON string
 * of it, as passed with `-c`), or the JSON file named by `iamKeyRotationConfigFile` (relative to
 * the working directory), and the placement file (`iamKeyRotationPlacementFile`, by default
 * beside the configuration file; none for an inline configuration without it).
 */
export function loadIamKeyRotationConfig(
  tryGetContext: (key: string) => unknown,
  defaults: DefaultEnvironment = {},
): IamKeyRotationConfig {
  const inline: unknown = tryGetContext(CONFIG_CONTEXT_KEY);
  const file: unknown = tryGetContext(CONFIG_FILE_CONTEXT_KEY);
  let raw: unknown;
  let placementFile: string | undefined;
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
    raw = parseConfigJson(text, `${CONFIG_FILE_CONTEXT_KEY} "${file}"`);
    placementFile = placementFileOf(tryGetContext, file);
  } else {
    if (inline === undefined) {
      throw new InvalidConfigurationError(
        CONFIG_CONTEXT_KEY,
        `no configuration: name a JSON file with -c ${CONFIG_FILE_CONTEXT_KEY}=<file> (e.g. examples/users.json) or pass the JSON itself with -c ${CONFIG_CONTEXT_KEY}='{"users":[...]}'`,
      );
    }
    raw = typeof inline === 'string' ? parseInlineConfigJson(inline, CONFIG_CONTEXT_KEY) : inline;
    placementFile = placementFileOf(tryGetContext);
  }
  const previousPlacement =
    placementFile === undefined
      ? undefined
      : readPlacementFile(placementFile, PLACEMENT_FILE_CONTEXT_KEY);
  const config = parseIamKeyRotationConfig(raw, CONFIG_CONTEXT_KEY, {
    previousPlacement,
    placementSource:
      placementFile === undefined ? undefined : `the placement file "${placementFile}"`,
    defaults,
  });
  return placementFile === undefined ? config : { ...config, placementFile };
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
  options: ParseConfigOptions = {},
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
  const defaults = options.defaults ?? {};
  const configured = users.map((user: unknown, index) =>
    parseUser(user, `${usersField}[${index}]`),
  );
  checkDuplicateUsers(configured, usersField, defaults);
  checkKmsKeyRegions(configured, usersField, defaults);
  const removalPolicy =
    parseRemovalPolicy(root.removalPolicy, `${field}.removalPolicy`) ?? 'retain';

  const placement = placeUsers(
    configured,
    options.previousPlacement,
    DEFAULT_STACK_NAME,
    MAX_USERS_PER_STACK,
  );
  const [move] = placement.moves;
  if (move !== undefined) {
    const user = configured[move.index];
    throw new InvalidConfigurationError(
      `${usersField}[${move.index}]${user?.stack === undefined ? '' : '.stack'}`,
      `user "${move.from.userName}" is placed in stack "${move.from.stack}" ${describeEnvironment(move.from)} by ${options.placementSource ?? 'the previous placement'}, but this configuration puts it in stack "${move.to.stack}" ${describeEnvironment(move.to)}: a move deletes its secret from one stack and creates it in the other, whose name stays taken while the old one exists (retained or in its recovery window). To keep it, leave "stack", "account" and "region" as they were; to move it, remove it first and finish "Remove a user" (README), then add it again, or set "allowStackMove": true on this user to accept the move`,
    );
  }
  const parsed: RotatedUserConfig[] = configured.map((request: ConfiguredUser, index) => {
    const user: { -readonly [K in keyof ConfiguredUser]?: ConfiguredUser[K] } = { ...request };
    delete user.stack;
    delete user.allowStackMove;
    return {
      ...(user as Omit<ConfiguredUser, 'stack' | 'allowStackMove'>),
      removalPolicy: request.removalPolicy ?? removalPolicy,
      stackName: placement.stackNames[index] ?? DEFAULT_STACK_NAME,
    };
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
  if (complianceRules !== undefined) {
    checkMaxAccessKeyAge(
      parsed,
      usersField,
      complianceRules,
      gracePeriod,
      `${field}.complianceRules`,
    );
  }
  const dashboard = expectBoolean(root.dashboard, `${field}.dashboard`, true);
  const alarms = expectBoolean(root.alarms, `${field}.alarms`, true);
  const awaitFirstRotation = expectBoolean(
    root.awaitFirstRotation,
    `${field}.awaitFirstRotation`,
    true,
  );
  const config: IamKeyRotationConfig = {
    users: parsed,
    staleKeyDays,
    notifications,
    gracePeriod,
    complianceRules,
    dashboard,
    alarms,
    awaitFirstRotation,
    placement,
  };
  checkStackEnvironments(parsed, usersField);
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
