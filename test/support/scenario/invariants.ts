import { AWSCURRENT, AWSPREVIOUS, type RotationRecord } from '../../../local/simulation/index.js';
import { USER_NAME, type Scenario } from './scenario.js';

/**
 * The invariants of issue 3, checked against a {@link Scenario} after it settled. Each check
 * returns readable violations (empty when the invariant holds), so a failing test says what
 * broke, and where.
 *
 * Two of them only hold once the rotation had a chance to repair what a human did:
 * - 1 (AWSCURRENT works) from the first rotation that succeeded after the last out-of-band
 *   change (or from the start, for a secret created holding a working key); a later failed
 *   rotation must not break it.
 * - 3 (no orphans) when the latest rotation succeeded and started after the last out-of-band
 *   change. The one exception the product makes: a key the user had before the secret existed
 *   is kept by the bootstrap rotation (it may be in use), so it may remain until the second
 *   rotation, i.e. while AWSPREVIOUS holds no key. Keys created by hand are not exempt: the
 *   next rotation removes them (an Active one as an orphan, an Inactive one to make room).
 */

/** Rotations that started after the last out-of-band change. */
const rotationsSinceLastOutOfBand = (scenario: Scenario): readonly RotationRecord[] => {
  const last = scenario.outOfBandChanges.at(-1);
  return scenario.sim.rotations.slice(last?.rotationsBefore ?? 0);
};

const describeError = (error: unknown): string => {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      parts.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      current = undefined;
    }
  }
  return parts.join(' <- ');
};

/** 1. AWSCURRENT holds an Active key that authenticates as the bound user. */
export const checkCurrentKeyWorks = (scenario: Scenario): string[] => {
  const storedFromTheStart =
    scenario.start === 'stored-key' && scenario.outOfBandChanges.length === 0;
  if (
    !storedFromTheStart &&
    !rotationsSinceLastOutOfBand(scenario).some((r) => r.status === 'succeeded')
  ) {
    return [];
  }
  const id = scenario.storedKeyId(AWSCURRENT);
  if (id === undefined) return [`1: ${AWSCURRENT} holds no access key after a completed rotation`];
  const key = scenario.sim.accessKey(id);
  if (key === undefined) return [`1: ${AWSCURRENT} key ${id} does not exist in IAM`];
  const violations: string[] = [];
  if (key.userName !== USER_NAME) {
    violations.push(`1: ${AWSCURRENT} key ${id} belongs to ${key.userName}, expected ${USER_NAME}`);
  }
  if (key.status !== 'Active') violations.push(`1: ${AWSCURRENT} key ${id} is ${key.status}`);
  else if (!key.authenticates) violations.push(`1: ${AWSCURRENT} key ${id} does not authenticate`);
  return violations;
};

/**
 * 2. The user never holds more than two keys, and no rotation ever failed with LimitExceeded
 * (the keys that fill the slots are ours to manage).
 */
export const checkKeyLimit = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  const keys = scenario.keys();
  if (keys.length > 2) {
    violations.push(
      `2: user holds ${keys.length} keys: ${keys.map((k) => k.accessKeyId).join(', ')}`,
    );
  }
  for (const invocation of scenario.sim.invocations) {
    if (invocation.outcome !== 'failed') continue;
    const text = describeError(invocation.error);
    if (text.includes('LimitExceeded') || text.includes(`still has 2 access keys`)) {
      violations.push(
        `2: ${invocation.rotationId} ${invocation.step} (${invocation.id}) failed at the key limit: ${text}`,
      );
    }
  }
  return violations;
};

/** 3. Every key of the user is referenced by AWSCURRENT or AWSPREVIOUS (see the exception). */
export const checkNoOrphans = (scenario: Scenario): string[] => {
  const latest = scenario.sim.rotations.at(-1);
  if (latest?.status !== 'succeeded' || !rotationsSinceLastOutOfBand(scenario).includes(latest)) {
    return [];
  }
  const current = scenario.storedKeyId(AWSCURRENT);
  const previous = scenario.storedKeyId(AWSPREVIOUS);
  const violations: string[] = [];
  for (const key of scenario.keys()) {
    if (key.accessKeyId === current || key.accessKeyId === previous) continue;
    if (previous === undefined && scenario.preExistingKeyIds.has(key.accessKeyId)) continue;
    violations.push(
      `3: ${key.status} key ${key.accessKeyId} is in neither ${AWSCURRENT} (${String(current)}) nor ${AWSPREVIOUS} (${String(previous)})`,
    );
  }
  return violations;
};

/**
 * 4. No rotation call deactivates or deletes the key that was AWSCURRENT when the call arrived
 * (whether or not the call took effect: the intent is the bug).
 */
export const checkCurrentKeyNeverRemoved = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  for (const call of scenario.sim.calls) {
    if (call.invocationId === undefined) continue;
    const deactivates = call.operation === 'UpdateAccessKey' && call.params.Status === 'Inactive';
    if (!deactivates && call.operation !== 'DeleteAccessKey') continue;
    const current = scenario.currentKeyAtCall.get(call.index);
    if (current !== undefined && call.params.AccessKeyId === current) {
      violations.push(
        `4: call ${call.index} ${call.operation} by ${call.invocationId} (${String(call.step)}) targets the ${AWSCURRENT} key ${current}`,
      );
    }
  }
  return violations;
};

/** 5. No secret access key, secret string or RotationToken appears in any log line. */
export const checkNoSecretInLogs = (scenario: Scenario): string[] => {
  const sensitive = new Set(scenario.sensitiveValues);
  for (const version of scenario.sim.secretVersions(scenario.secretId)) {
    if (version.secretString?.includes('SecretAccessKey') === true) {
      sensitive.add(version.secretString);
    }
  }
  const text = scenario.logs.text;
  const violations: string[] = [];
  for (const value of sensitive) {
    if (value.length < 8) {
      violations.push(`5: a recorded sensitive value is too short to search for`);
      continue;
    }
    const at = text.indexOf(value);
    if (at >= 0) {
      const lineStart = text.lastIndexOf('\n', at) + 1;
      const message = /"message":"([^"]*)"/.exec(text.slice(lineStart, text.indexOf('\n', at)));
      violations.push(`5: a secret value appears in the log line "${message?.[1] ?? '?'}"`);
    }
  }
  return violations;
};

/** Every invariant; each applies only where its own condition holds (see above). */
export const checkInvariants = (scenario: Scenario): string[] => [
  ...checkCurrentKeyWorks(scenario),
  ...checkKeyLimit(scenario),
  ...checkNoOrphans(scenario),
  ...checkCurrentKeyNeverRemoved(scenario),
  ...checkNoSecretInLogs(scenario),
];
