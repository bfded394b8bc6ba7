/**
 * Stable placement: which stack holds each user. Pure: configuration and the previous placement
 * in, stack names and the new placement out (lib/stack-placement.ts reads and writes the file).
 *
 * The rule, per account and region (the users' `account` and `region`, absent for the CLI's):
 * - a user with `stack` is in that stack;
 * - a user the previous placement holds stays in the stack it was placed in;
 * - every other user (a new one) goes, in configuration order, into the first automatic stack of
 *   its account and region that has room (at most `maxUsersPerStack` users, counting those with
 *   `stack` and those already placed): a hole left by a removed user is filled first.
 *
 * The automatic stacks are named `<base><env>`, `<base><env>-2`, `<base><env>-3`, ... where
 * `<env>` is empty for the CLI's account and region and otherwise `-<account>`, `-<region>` or
 * `-<account>-<region>` for what the users name.
 *
 * So adding or removing a user never moves another one. A user whose `stack` (or account or
 * region) differs from the stack it was placed in is a move, reported in `moves`: the
 * configuration must allow it explicitly (`allowStackMove`).
 */

/** Where one user asks to be deployed. */
export interface StackPlacementRequest {
  /** The IAM user name (case-insensitive in IAM). */
  readonly userName: string;
  /** The stack the user names explicitly, if any. */
  readonly stack?: string;
  /** The account the user names (12 digits), absent for the CLI's. */
  readonly account?: string;
  /** The region the user names, absent for the CLI's. */
  readonly region?: string;
  /** Whether the user may leave the stack it was placed in. */
  readonly allowStackMove?: boolean;
}

/** One user's place: its stack, in its account and region. */
export interface PlacedUser {
  readonly userName: string;
  readonly account?: string;
  readonly region?: string;
  readonly stack: string;
}

/** A user that would leave the stack it was placed in. */
export interface StackMove {
  /** The user's index in the requests. */
  readonly index: number;
  /** Where it was placed. */
  readonly from: PlacedUser;
  /** Where the configuration now puts it. */
  readonly to: PlacedUser;
}

/** What {@link placeUsers} decides. */
export interface StackPlacementResult {
  /** The stack of every request, in the order given. */
  readonly stackNames: readonly string[];
  /** The new placement: the previous one's users in their order, then the new ones. */
  readonly placement: readonly PlacedUser[];
  /** Users of the previous placement that are no longer configured. */
  readonly removed: readonly PlacedUser[];
  /** Configured users that are not in the previous placement. */
  readonly added: readonly PlacedUser[];
  /** Users that leave the stack they were placed in without `allowStackMove`. */
  readonly moves: readonly StackMove[];
}

/**
 * The suffix that keeps the automatic stacks of an account and region apart from those of the
 * CLI's account and region: empty for neither, else `-<account>`, `-<region>` or
 * `-<account>-<region>`.
 */
export function environmentSuffix(account?: string, region?: string): string {
  return [account, region]
    .filter((part): part is string => part !== undefined)
    .map((part) => `-${part}`)
    .join('');
}

/** The key of an account and region (absent parts stand for the CLI's). */
export function environmentKey(account?: string, region?: string): string {
  return `${account ?? ''}/${region ?? ''}`;
}

/** The key of one IAM user: its account and its name, which IAM compares without case. */
export function userKey(user: { readonly userName: string; readonly account?: string }): string {
  return `${user.account ?? ''}/${user.userName.toLowerCase()}`;
}

/** The name of the `index`-th (from 0) automatic stack of an account and region. */
export function automaticStackName(
  baseName: string,
  index: number,
  account?: string,
  region?: string,
): string {
  const name = `${baseName}${environmentSuffix(account, region)}`;
  return index === 0 ? name : `${name}-${String(index + 1)}`;
}

function placed(request: StackPlacementRequest, stack: string): PlacedUser {
  return {
    userName: request.userName,
    ...(request.account === undefined ? {} : { account: request.account }),
    ...(request.region === undefined ? {} : { region: request.region }),
    stack,
  };
}

const sameEnvironment = (a: PlacedUser, b: StackPlacementRequest): boolean =>
  environmentKey(a.account, a.region) === environmentKey(b.account, b.region);

/**
 * Places every user: see the module's rule.
 *
 * @param previous the placement of the last synth, absent for none (as for a first synth)
 * @param maxUsersPerStack the most users one stack may hold (at least 1)
 */
export function placeUsers(
  users: readonly StackPlacementRequest[],
  previous: readonly PlacedUser[] | undefined,
  baseName: string,
  maxUsersPerStack: number,
): StackPlacementResult {
  if (!Number.isInteger(maxUsersPerStack) || maxUsersPerStack < 1) {
    throw new Error(
      `maxUsersPerStack must be a whole number of at least 1, got ${maxUsersPerStack}`,
    );
  }
  const previousByKey = new Map((previous ?? []).map((entry) => [userKey(entry), entry]));
  const names: (string | undefined)[] = [];
  const moves: StackMove[] = [];
  users.forEach((user, index) => {
    const before = previousByKey.get(userKey(user));
    const stays = before !== undefined && sameEnvironment(before, user);
    if (user.stack !== undefined) {
      names.push(user.stack);
      if (before !== undefined && (!stays || before.stack !== user.stack)) {
        if (user.allowStackMove !== true) {
          moves.push({ index, from: before, to: placed(user, user.stack) });
        }
      }
    } else if (stays) {
      names.push(before.stack);
    } else {
      names.push(undefined);
    }
  });
  // Users per stack name and account/region, then new users into the first stack with room.
  const counts = new Map<string, number>();
  const countKey = (name: string, user: StackPlacementRequest): string =>
    `${environmentKey(user.account, user.region)}#${name}`;
  users.forEach((user, index) => {
    const name = names[index];
    if (name !== undefined) {
      const key = countKey(name, user);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  });
  const stackNames = users.map((user, index) => {
    const fixed = names[index];
    if (fixed !== undefined) return fixed;
    let stackIndex = 0;
    let name = automaticStackName(baseName, stackIndex, user.account, user.region);
    while ((counts.get(countKey(name, user)) ?? 0) >= maxUsersPerStack) {
      stackIndex++;
      name = automaticStackName(baseName, stackIndex, user.account, user.region);
    }
    const key = countKey(name, user);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const before = previousByKey.get(userKey(user));
    if (before !== undefined && user.allowStackMove !== true) {
      moves.push({ index, from: before, to: placed(user, name) });
    }
    return name;
  });

  const current = users.map((user, index) => placed(user, stackNames[index] ?? baseName));
  const currentByKey = new Map(current.map((entry) => [userKey(entry), entry]));
  const unchanged = (entry: PlacedUser): boolean => {
    const now = currentByKey.get(userKey(entry));
    return (
      now !== undefined &&
      now.stack === entry.stack &&
      environmentKey(now.account, now.region) === environmentKey(entry.account, entry.region)
    );
  };
  const kept = (previous ?? []).filter(unchanged);
  const keptKeys = new Set(kept.map(userKey));
  const added = current.filter((entry) => !keptKeys.has(userKey(entry)));
  const removed = (previous ?? []).filter((entry) => !currentByKey.has(userKey(entry)));
  // A kept user takes its current spelling of the name (IAM names are case-insensitive).
  const placement = [...kept.map((entry) => currentByKey.get(userKey(entry)) ?? entry), ...added];
  return {
    stackNames,
    placement,
    removed,
    added: added.filter((entry) => !previousByKey.has(userKey(entry))),
    moves: moves.sort((a, b) => a.index - b.index),
  };
}
