import {
  AWSCURRENT,
  AWSPREVIOUS,
  type CallRecord,
  type RotationRecord,
} from '../../../local/simulation/index.js';
import type { CallSnapshot } from './call-snapshots.js';
import { OTHER_USER_NAME, STALE_KEY_DAYS, USER_NAME, type Scenario } from './scenario.js';

/**
 * The invariants, checked against a {@link Scenario} after it settled. Each check returns
 * readable violations (empty when the invariant holds), so a failing test says what broke, and
 * where. Checks about calls judge each call of the rotation function by the world as it found
 * the call on arrival (the scenario's snapshots), not by the state at the end.
 *
 * Invariant 10 (the grace period) applies to scenarios with a grace period only.
 *
 * Two of them only hold once the rotation had a chance to repair what a human did:
 * - 1 (AWSCURRENT works) from the first rotation of alice's secret that succeeded after the
 *   last change by hand (or from the start, for a secret created holding a working key); a
 *   later failed rotation must not break it.
 * - 3 (no orphans) when alice's latest rotation succeeded and started after the last change by
 *   hand. Exempt are keys that existed before that rotation when it found no key in the secret
 *   (AWSPREVIOUS then holds none: a first rotation keeps keys while there is room, as it cannot
 *   tell a key alice had before the secret from one left by edits that emptied it), and any key
 *   the secret does not hold that signed a request within staleKeyDays before that rotation (it
 *   may be in use: invariant 8 forbids deleting it), and a key that no ListAccessKeys of that
 *   rotation's createSecret showed yet (IAM listings lag). Keys created by hand after the
 *   secret's value and never used, and keys of crashed attempts, are not exempt.
 */

const DAY_MS = 86_400_000;

/**
 * Rotations of alice's secret that started after the last change by hand (configuration tests,
 * RotateImmediately=false, change no key and do not count).
 */
const rotationsSinceLastOutOfBand = (scenario: Scenario): readonly RotationRecord[] => {
  const last = scenario.outOfBandChanges.at(-1);
  return scenario.rotations
    .slice(last?.rotationsBefore ?? 0)
    .filter((rotation) => rotation.kind === 'rotation');
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

/** A call the rotation function made, with the secret it rotated and the world it found. */
interface FunctionCall {
  readonly call: CallRecord;
  readonly secretArn: string;
  readonly snapshot: CallSnapshot;
}

/** The secret a grace-period schedule's invocation acts on: its event's SecretId. */
const secretOfScheduled = (input: string): string => {
  try {
    const secretId = (JSON.parse(input) as { SecretId?: unknown }).SecretId;
    return typeof secretId === 'string' ? secretId : '';
  } catch {
    return '';
  }
};

/**
 * The calls the rotation function sent. A call of an invocation that Lambda had already ended
 * (`dead`: an SDK retry after the function's timeout, recorded by the simulation) is left out:
 * a killed function sends nothing, so it neither acted nor meant to.
 */
const functionCalls = (scenario: Scenario): FunctionCall[] => {
  const secretOf = new Map<string, string>(
    scenario.sim.invocations.map((i) => [i.id, i.secretArn]),
  );
  for (const invocation of scenario.sim.scheduledInvocations) {
    secretOf.set(invocation.id, secretOfScheduled(invocation.input));
  }
  const calls: FunctionCall[] = [];
  for (const call of scenario.sim.calls) {
    if (call.invocationId === undefined || call.outcome === 'dead') continue;
    const secretArn = secretOf.get(call.invocationId);
    const snapshot = scenario.snapshots.get(call.index);
    if (secretArn === undefined || snapshot === undefined) {
      throw new Error(
        `call ${call.index} has no invocation or no snapshot: instrumentation broken`,
      );
    }
    calls.push({ call, secretArn, snapshot });
  }
  return calls;
};

export const param = (call: CallRecord, name: string): string | undefined => {
  const value = call.params[name];
  return typeof value === 'string' ? value : undefined;
};

/** An IAM call that deactivates or deletes a key. */
export const removesKey = (call: CallRecord): boolean =>
  call.service === 'iam' &&
  ((call.operation === 'UpdateAccessKey' && call.params.Status === 'Inactive') ||
    call.operation === 'DeleteAccessKey');

const describeCall = ({ call, secretArn }: FunctionCall): string =>
  `call ${call.index} ${call.operation} by ${String(call.invocationId)} (${String(call.step)}) of ${secretArn.split(':').at(-1) ?? secretArn}`;

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
 * 2. No user ever holds more than two keys, and no rotation ever failed with LimitExceeded (the
 * keys that fill the slots are ours to manage).
 */
export const checkKeyLimit = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  for (const userName of [USER_NAME, OTHER_USER_NAME]) {
    const keys = scenario.keys(userName);
    if (keys.length > 2) {
      violations.push(
        `2: ${userName} holds ${keys.length} keys: ${keys.map((k) => k.accessKeyId).join(', ')}`,
      );
    }
  }
  // At any moment, not only at the end (snapshots are taken as each request arrives); the
  // first moment per user is reported.
  const reported = new Set<string>();
  for (const [index, snapshot] of scenario.snapshots) {
    const perUser = new Map<string, number>();
    for (const key of snapshot.keys.values()) {
      perUser.set(key.userName, (perUser.get(key.userName) ?? 0) + 1);
    }
    for (const [userName, count] of perUser) {
      if (count <= 2 || reported.has(userName)) continue;
      reported.add(userName);
      violations.push(`2: ${userName} held ${count} keys when call ${index} arrived`);
    }
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

/** 3. Every key of alice is referenced by AWSCURRENT or AWSPREVIOUS (see the exemptions). */
export const checkNoOrphans = (scenario: Scenario): string[] => {
  const latest = scenario.rotations.filter((rotation) => rotation.kind === 'rotation').at(-1);
  if (latest?.status !== 'succeeded' || !rotationsSinceLastOutOfBand(scenario).includes(latest)) {
    return [];
  }
  const current = scenario.storedKeyId(AWSCURRENT);
  const previous = scenario.storedKeyId(AWSPREVIOUS);
  const inUseSince = latest.startedAt - STALE_KEY_DAYS * DAY_MS;
  const invocations = new Set(latest.invocations.map((invocation) => invocation.id));
  const listings = scenario.sim.calls.filter(
    (call) =>
      call.invocationId !== undefined &&
      invocations.has(call.invocationId) &&
      call.step === 'createSecret' &&
      call.operation === 'ListAccessKeys',
  );
  const violations: string[] = [];
  for (const key of scenario.keys()) {
    if (key.accessKeyId === current || key.accessKeyId === previous) continue;
    // A rotation that found no key in the secret (AWSPREVIOUS then holds none) keeps keys that
    // were there before it while there is room: the user's own, or any left by edits that
    // emptied the secret. It cannot tell them apart, and they may be in use.
    if (previous === undefined && key.createDate < latest.startedAt) continue;
    if (key.lastUsedDate !== undefined && key.lastUsedDate >= inUseSince) continue;
    // IAM listings lag: a key that no listing of the rotation's createSecret showed could not
    // be seen by it (the next rotation sees it).
    const hiddenFromEveryListing =
      listings.length > 0 &&
      listings.every(
        (call) =>
          call.time >= key.createDate && call.time < key.createDate + key.listPropagationDelayMs,
      );
    if (hiddenFromEveryListing) continue;
    violations.push(
      `3: ${key.status} key ${key.accessKeyId} is in neither ${AWSCURRENT} (${String(current)}) nor ${AWSPREVIOUS} (${String(previous)})`,
    );
  }
  return violations;
};

/**
 * 4. No rotation call deactivates or deletes the key that was AWSCURRENT of the secret it
 * rotates when the call arrived (whether or not the call took effect: the intent is the bug).
 */
export const checkCurrentKeyNeverRemoved = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  for (const entry of functionCalls(scenario)) {
    if (!removesKey(entry.call)) continue;
    const current = entry.snapshot.secrets.get(entry.secretArn)?.current;
    if (current !== undefined && param(entry.call, 'AccessKeyId') === current) {
      violations.push(`4: ${describeCall(entry)} targets the ${AWSCURRENT} key ${current}`);
    }
  }
  return violations;
};

/** 5. No secret access key, secret string or RotationToken appears in any log line. */
export const checkNoSecretInLogs = (scenario: Scenario): string[] => {
  const sensitive = new Set(scenario.sensitiveValues);
  for (const secretName of scenario.secretArns.keys()) {
    for (const version of scenario.sim.secretVersions(secretName)) {
      if (version.secretString?.includes('SecretAccessKey') === true) {
        sensitive.add(version.secretString);
      }
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

/**
 * 6. An operator's label move or value is never undone: after a rollback or a value put by hand
 * completed, no AWSCURRENT move of the function takes effect towards a version that existed
 * then (only towards one a later rotation created), and the function never writes a value into
 * AWSCURRENT itself.
 */
export const checkOperatorChangesKept = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  for (const entry of functionCalls(scenario)) {
    const { call } = entry;
    if (call.operation === 'PutSecretValue') {
      const stages = call.params.VersionStages;
      if (!Array.isArray(stages) || stages.includes(AWSCURRENT)) {
        violations.push(
          `6: ${describeCall(entry)} writes a value without VersionStages [AWSPENDING]`,
        );
      }
      continue;
    }
    if (
      call.operation !== 'UpdateSecretVersionStage' ||
      param(call, 'VersionStage') !== AWSCURRENT
    ) {
      continue;
    }
    if (entry.secretArn !== scenario.secretArn) continue;
    // The move names the version it replaces (RemoveFromVersionId): one refused because an
    // operator moved AWSCURRENT first is that protection working, not an undo.
    if (!call.effectApplied) continue;
    const target = param(call, 'MoveToVersionId');
    for (const move of scenario.labelMoves) {
      if (call.index > move.endCall && target !== undefined && move.versionIds.has(target)) {
        violations.push(
          `6: ${describeCall(entry)} moves ${AWSCURRENT} to version ${target}, older than the ${move.action} that made ${move.currentVersionId} current (ending at call ${move.endCall})`,
        );
      }
    }
  }
  return violations;
};

/**
 * 7. No key of a user is stored in, or touched through, a secret that the user's ownership tag
 * did not name when the call arrived: every IAM write of the function names a user owned by the
 * secret it rotates, and every key it stores belongs to such a user.
 */
export const checkOwnership = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  for (const entry of functionCalls(scenario)) {
    const { call, snapshot, secretArn } = entry;
    let userName: string | undefined;
    if (
      call.service === 'iam' &&
      ['CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey'].includes(call.operation)
    ) {
      userName = param(call, 'UserName');
      if (userName === undefined) {
        violations.push(`7: ${describeCall(entry)} names no user`);
        continue;
      }
    } else if (call.operation === 'PutSecretValue' && snapshot.storedAccessKeyId !== undefined) {
      userName = snapshot.keys.get(snapshot.storedAccessKeyId)?.userName;
      if (userName === undefined) continue;
    } else {
      continue;
    }
    // A user that does not exist has no key to touch (IAM answers NoSuchEntity).
    if (!snapshot.ownerTags.has(userName)) continue;
    const owner = snapshot.ownerTags.get(userName);
    if (owner !== secretArn) {
      violations.push(
        `7: ${describeCall(entry)} touches a key of ${userName}, whose owner tag names ${String(owner)}`,
      );
    }
  }
  return violations;
};

/**
 * 8. A key the secret does not hold (not AWSCURRENT, AWSPREVIOUS, the pending key or the key of
 * a version that never became AWSCURRENT, when the call arrives or when its invocation began)
 * that signed a request within staleKeyDays is never
 * deactivated or deleted. And 9: an Active key is
 * never deleted without being deactivated first.
 */
export const checkKeysInUseKept = (scenario: Scenario): string[] => {
  const violations: string[] = [];
  const calls = functionCalls(scenario);
  // What each invocation's first call found: the labels its decisions rest on.
  const atStart = new Map<string, FunctionCall>();
  for (const entry of calls) {
    const id = entry.call.invocationId ?? '';
    if (!atStart.has(id)) atStart.set(id, entry);
  }
  for (const entry of calls) {
    const { call, snapshot, secretArn } = entry;
    if (!removesKey(call)) continue;
    const id = param(call, 'AccessKeyId') ?? '';
    const key = snapshot.keys.get(id);
    if (key === undefined) continue;
    if (call.operation === 'DeleteAccessKey' && key.status === 'Active') {
      violations.push(
        `9: ${describeCall(entry)} deletes the Active key ${id} without deactivating it first`,
      );
    }
    const held = snapshot.secrets.get(secretArn);
    if (id === held?.current || id === held?.previous || id === held?.pending) continue;
    // A key of a version of this secret that never became AWSCURRENT is the secret's own.
    if (held?.abandoned.has(id) === true) continue;
    // A key the secret held (AWSCURRENT or AWSPREVIOUS) when the invocation began is the
    // rotation's own to retire: a value put by hand during the step only unlabels its version
    // (finishSecret still deactivates the key it replaced; with a grace period it is Active).
    const first = atStart.get(call.invocationId ?? '')?.snapshot.secrets.get(secretArn);
    if (id === first?.previous || id === first?.current) continue;
    // An Inactive key authenticates nothing: it may go whatever its last use.
    if (key.status !== 'Active') continue;
    if (
      key.lastUsedDate !== undefined &&
      key.lastUsedDate >= snapshot.time - STALE_KEY_DAYS * DAY_MS
    ) {
      violations.push(
        `8: ${describeCall(entry)} removes key ${id}, which the secret does not hold and which signed a request ${Math.round((snapshot.time - key.lastUsedDate) / 60_000)} min before`,
      );
    }
  }
  return violations;
};

/** A function call that moved AWSCURRENT of alice's secret and the key it made AWSPREVIOUS. */
interface PreviousKeyStart {
  readonly accessKeyId: string;
  readonly time: number;
  readonly callIndex: number;
}

/** Every AWSCURRENT move of alice's secret by the function that took effect, in order. */
const previousKeyStarts = (calls: readonly FunctionCall[], secretArn: string): PreviousKeyStart[] =>
  calls.flatMap(({ call, snapshot, secretArn: arn }) => {
    if (
      arn !== secretArn ||
      call.operation !== 'UpdateSecretVersionStage' ||
      param(call, 'VersionStage') !== AWSCURRENT ||
      !call.effectApplied
    ) {
      return [];
    }
    const previous = snapshot.secrets.get(arn)?.current;
    return previous === undefined
      ? []
      : [{ accessKeyId: previous, time: call.time, callIndex: call.index }];
  });

/**
 * 10. With a grace period, a previous key is Active until its grace period ends and Inactive
 * after, unless the operator rolled back (or changed anything else by hand since) or a newer
 * rotation deleted it:
 * - no call of the function deactivates a key within the grace period that began when the
 *   function's AWSCURRENT move made it AWSPREVIOUS, except a newer rotation's createSecret, which
 *   deactivates it to delete it;
 * - once a completed rotation's grace period has ended (its finishSecret's end plus the grace
 *   period, rounded up to the second as the schedule is), and the due schedules ran, the key it
 *   made AWSPREVIOUS is Inactive or deleted. Exempt: no change by hand since the rotation began,
 *   the key is AWSCURRENT again, or every invocation of its retirement failed (faults; the next
 *   rotation deletes it).
 */
export const checkGracePeriod = (scenario: Scenario): string[] => {
  const grace = scenario.gracePeriodMs;
  if (grace <= 0) return [];
  const calls = functionCalls(scenario);
  const starts = previousKeyStarts(calls, scenario.secretArn);
  const violations: string[] = [];
  for (const entry of calls) {
    const { call } = entry;
    if (call.operation !== 'UpdateAccessKey' || call.params.Status !== 'Inactive') continue;
    if (call.step === 'createSecret') continue;
    const id = param(call, 'AccessKeyId');
    const start = starts.filter((s) => s.accessKeyId === id && s.callIndex < call.index).at(-1);
    if (start !== undefined && call.time < start.time + grace) {
      violations.push(
        `10: ${describeCall(entry)} deactivates ${String(id)} ${Math.round((call.time - start.time) / 1_000)} s after it became ${AWSPREVIOUS}, within its grace period of ${grace / 1_000} s`,
      );
    }
  }
  const now = scenario.sim.clock.now();
  for (const [index, rotation] of scenario.rotations.entries()) {
    if (rotation.kind !== 'rotation' || rotation.status !== 'succeeded') continue;
    const finish = rotation.invocations
      .filter((i) => i.step === 'finishSecret' && i.outcome === 'succeeded')
      .at(-1);
    const invocationIds = new Set(rotation.invocations.map((i) => i.id));
    const move = calls.find(
      ({ call }) =>
        call.invocationId !== undefined &&
        invocationIds.has(call.invocationId) &&
        call.operation === 'UpdateSecretVersionStage' &&
        param(call, 'VersionStage') === AWSCURRENT &&
        call.effectApplied,
    );
    const keyId = move?.snapshot.secrets.get(scenario.secretArn)?.current;
    if (finish?.endedAt === undefined || keyId === undefined) continue;
    const graceEnd = Math.ceil((finish.endedAt + grace) / 1_000) * 1_000;
    if (now < graceEnd) continue;
    if (scenario.outOfBandChanges.some((change) => change.rotationsBefore > index)) continue;
    const key = scenario.sim.accessKey(keyId);
    if (key === undefined || key.status !== 'Active') continue;
    if (scenario.storedKeyId(AWSCURRENT) === keyId) continue;
    const retirements = scenario.sim.scheduledInvocations.filter((i) => i.input.includes(keyId));
    if (retirements.length > 0 && retirements.every((i) => i.outcome !== 'succeeded')) continue;
    violations.push(
      `10: key ${keyId}, made ${AWSPREVIOUS} by ${rotation.id}, is still Active ${Math.round((now - graceEnd) / 1_000)} s after its grace period ended (${retirements.length} retirement invocation(s))`,
    );
  }
  return violations;
};

/** Every invariant; each applies only where its own condition holds (see above). */
export const checkInvariants = (scenario: Scenario): string[] => [
  ...checkGracePeriod(scenario),
  ...checkCurrentKeyWorks(scenario),
  ...checkKeyLimit(scenario),
  ...checkNoOrphans(scenario),
  ...checkCurrentKeyNeverRemoved(scenario),
  ...checkNoSecretInLogs(scenario),
  ...checkOperatorChangesKept(scenario),
  ...checkOwnership(scenario),
  ...checkKeysInUseKept(scenario),
];
