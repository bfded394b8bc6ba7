import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expectObject, InvalidConfigurationError, oneLine } from './config-error.js';
import { parseConfigJson } from './config-json.js';
import { environmentKey, userKey, type PlacedUser } from './stack-sharding.js';

/**
 * The placement file: which user is in which stack, kept beside the configuration
 * (`users.json` -> `users.placement.json`), read and extended by every synth, and committed with
 * the configuration. It is what keeps every user in its stack when others are added or removed.
 *
 * ```json
 * {
 *   "version": 1,
 *   "stacks": [
 *     { "stack": "IamKeyRotation", "users": ["alice", "bob"] },
 *     { "stack": "IamKeyRotation-111111111111-eu-west-1", "account": "111111111111",
 *       "region": "eu-west-1", "users": ["carol"] }
 *   ]
 * }
 * ```
 */
export const PLACEMENT_FILE_VERSION = 1;

const ROOT_FIELDS = ['comment', 'version', 'stacks'];
const STACK_FIELDS = ['stack', 'account', 'region', 'users'];
const COMMENT =
  'Written by cdk synth (iam-key-rotation): the stack of every user. Commit it with the configuration; it keeps each user in its stack when others are added or removed.';

/** The placement file that belongs to a configuration file: `users.json` -> `users.placement.json`. */
export function placementFileFor(configFile: string): string {
  const parsed = path.parse(configFile);
  const base = parsed.ext === '.json' ? parsed.name : parsed.base;
  return path.join(parsed.dir, `${base}.placement.json`);
}

/**
 * Parses a placement file's text.
 *
 * @param field how the file is named in errors
 * @throws InvalidConfigurationError naming the field and what was expected
 */
export function parsePlacement(text: string, field: string): PlacedUser[] {
  const root = expectObject(parseConfigJson(text, field), field, ROOT_FIELDS);
  if (root.version !== PLACEMENT_FILE_VERSION) {
    throw new InvalidConfigurationError(
      `${field}.version`,
      `expected ${PLACEMENT_FILE_VERSION}, got ${describe(root.version)}`,
    );
  }
  if (!Array.isArray(root.stacks)) {
    throw new InvalidConfigurationError(
      `${field}.stacks`,
      `expected an array of {"stack", "account"?, "region"?, "users"}, got ${describe(root.stacks)}`,
    );
  }
  const entries: PlacedUser[] = [];
  const seen = new Map<string, string>();
  const environmentOfStack = new Map<string, string>();
  root.stacks.forEach((raw: unknown, index) => {
    const stackField = `${field}.stacks[${index}]`;
    const group = expectObject(raw, stackField, STACK_FIELDS);
    const { stack, account, region, users } = group;
    if (typeof stack !== 'string' || stack === '') {
      throw new InvalidConfigurationError(
        `${stackField}.stack`,
        `expected a stack name, got ${describe(stack)}`,
      );
    }
    for (const [name, value] of [
      ['account', account],
      ['region', region],
    ] as const) {
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        throw new InvalidConfigurationError(
          `${stackField}.${name}`,
          `expected a string or nothing, got ${describe(value)}`,
        );
      }
    }
    const environment = environmentKey(account as string | undefined, region as string | undefined);
    const otherEnvironment = environmentOfStack.get(stack);
    if (otherEnvironment !== undefined && otherEnvironment !== environment) {
      throw new InvalidConfigurationError(
        `${stackField}.stack`,
        `stack "${stack}" appears with two accounts or regions; a stack lives in one`,
      );
    }
    environmentOfStack.set(stack, environment);
    if (!Array.isArray(users)) {
      throw new InvalidConfigurationError(
        `${stackField}.users`,
        `expected an array of user names, got ${describe(users)}`,
      );
    }
    users.forEach((userName: unknown, userIndex) => {
      if (typeof userName !== 'string' || userName === '') {
        throw new InvalidConfigurationError(
          `${stackField}.users[${userIndex}]`,
          `expected a user name, got ${describe(userName)}`,
        );
      }
      const entry: PlacedUser = {
        userName,
        ...(account === undefined ? {} : { account: account as string }),
        ...(region === undefined ? {} : { region: region as string }),
        stack,
      };
      const first = seen.get(userKey(entry));
      if (first !== undefined) {
        throw new InvalidConfigurationError(
          `${stackField}.users[${userIndex}]`,
          `user "${userName}" is placed twice (also in stack "${first}"); a user is in one stack`,
        );
      }
      seen.set(userKey(entry), stack);
      entries.push(entry);
    });
  });
  return entries;
}

/** The placement as the file's text (stacks in order of first appearance, users in order). */
export function formatPlacement(placement: readonly PlacedUser[]): string {
  const groups = new Map<
    string,
    { stack: string; account?: string; region?: string; users: string[] }
  >();
  for (const entry of placement) {
    const key = `${environmentKey(entry.account, entry.region)}#${entry.stack}`;
    const group = groups.get(key) ?? {
      stack: entry.stack,
      ...(entry.account === undefined ? {} : { account: entry.account }),
      ...(entry.region === undefined ? {} : { region: entry.region }),
      users: [],
    };
    group.users.push(entry.userName);
    groups.set(key, group);
  }
  // One user per line: adding or removing a user is a one-line change.
  const file = { comment: COMMENT, version: PLACEMENT_FILE_VERSION, stacks: [...groups.values()] };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * Reads a placement file; `undefined` when it does not exist yet.
 *
 * @param field how the file is named in errors
 * @throws InvalidConfigurationError when it cannot be read or is not a placement
 */
export function readPlacementFile(file: string, field: string): PlacedUser[] | undefined {
  const filePath = path.resolve(file);
  if (!existsSync(filePath)) return undefined;
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new InvalidConfigurationError(
      field,
      `cannot read "${filePath}": ${oneLine((error as Error).message)}`,
    );
  }
  return parsePlacement(text, `${field} "${file}"`);
}

/**
 * Writes the placement file when its content changes.
 *
 * @returns whether the file was written
 */
export function writePlacementFile(file: string, placement: readonly PlacedUser[]): boolean {
  const filePath = path.resolve(file);
  const text = formatPlacement(placement);
  if (existsSync(filePath) && readFileSync(filePath, 'utf8') === text) return false;
  writeFileSync(filePath, text);
  return true;
}
