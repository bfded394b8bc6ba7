/**
 * Automatic sharding: which stack holds each user that names no `stack`. Pure: configuration in,
 * stack names out.
 *
 * The rule, per account and region (the users' `account` and `region`, absent for the CLI's):
 * users without `stack` are placed in configuration order, each into the first automatic stack
 * of its account and region that still has room for one more user (at most `maxUsersPerStack`,
 * counting users that name that stack explicitly). The automatic stacks are named `<base><env>`,
 * `<base><env>-2`, `<base><env>-3`, ... where `<env>` is empty for the CLI's account and region
 * and otherwise `-<account>`, `-<region>` or `-<account>-<region>` for what the users name.
 *
 * Appending users never moves a user: earlier users keep their place and the new ones fill the
 * last stack, then new stacks. Removing an automatically placed user moves, in each later stack
 * of its account and region, the first automatically placed user into the stack before it (its
 * secret is deleted in one stack and created in the other): pin users with `stack` before
 * removing others, as README's "Automatic sharding" explains.
 */

/** Where one user asks to be deployed. */
export interface StackPlacementRequest {
  /** The stack the user names explicitly, if any. */
  readonly stack?: string;
  /** The account the user names (12 digits), absent for the CLI's. */
  readonly account?: string;
  /** The region the user names, absent for the CLI's. */
  readonly region?: string;
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

/**
 * The stack name of every user, in the order given: the explicit `stack`, or the automatic stack
 * the rule above picks.
 *
 * @param maxUsersPerStack the most users one stack may hold (at least 1)
 */
export function assignStackNames(
  users: readonly StackPlacementRequest[],
  baseName: string,
  maxUsersPerStack: number,
): string[] {
  if (!Number.isInteger(maxUsersPerStack) || maxUsersPerStack < 1) {
    throw new Error(
      `maxUsersPerStack must be a whole number of at least 1, got ${maxUsersPerStack}`,
    );
  }
  // Users per stack name and account/region: explicit users first, then the automatic ones.
  const counts = new Map<string, number>();
  const countKey = (name: string, user: StackPlacementRequest): string =>
    `${environmentKey(user.account, user.region)}#${name}`;
  for (const user of users) {
    if (user.stack !== undefined) {
      const key = countKey(user.stack, user);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  // Automatic stacks are filled in order: the first with room is the current one, per environment.
  const currentIndex = new Map<string, number>();
  return users.map((user) => {
    if (user.stack !== undefined) {
      return user.stack;
    }
    const environment = environmentKey(user.account, user.region);
    let index = currentIndex.get(environment) ?? 0;
    let name = automaticStackName(baseName, index, user.account, user.region);
    while ((counts.get(countKey(name, user)) ?? 0) >= maxUsersPerStack) {
      index++;
      name = automaticStackName(baseName, index, user.account, user.region);
    }
    currentIndex.set(environment, index);
    const key = countKey(name, user);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return name;
  });
}
