import { AWSCURRENT, AWSPENDING, type CallRecord } from '../../../local/simulation/index.js';
import {
  checkCurrentKeyNeverRemoved,
  checkKeysInUseKept,
  checkOperatorChangesKept,
  param,
  removesKey,
} from '../scenario/invariants.js';
import type { Scenario } from '../scenario/scenario.js';

/** What the explorer knows about the operator's command, beyond the call log. */
export interface CommandFacts {
  /** The command's name, as the findings name it. */
  readonly name: string;
  /** 0: it reported success. */
  readonly exitCode: number;
  /** The simulation's call index when it started, and after its last call. */
  readonly startCall: number;
  readonly endCall: number;
  /**
   * The command deactivates a key by hand on purpose: its own call is the operator's choice,
   * not a race, and is not judged by the checks on removed keys.
   */
  readonly removesKeysByHand: boolean;
  /** The command ended with an error that is not its own (CliError): what a person saw. */
  readonly crashedWith?: string;
}

/** The keys each ClientRequestToken's invocations created (CreateAccessKey), in order. */
export type KeysByToken = ReadonlyMap<string, readonly string[]>;

const isRead = (call: CallRecord): boolean =>
  /^(Get|List|Describe)/.test(call.operation) || call.operation === 'GetCallerIdentity';

/** A. AWSCURRENT never holds a key that is not Active: at the arrival of any request, and at the end. */
const checkCurrentKeyActive = (scenario: Scenario): string[] => {
  const arn = scenario.secretArn;
  for (const [index, snapshot] of [...scenario.snapshots].sort(([a], [b]) => a - b)) {
    const current = snapshot.secrets.get(arn)?.current;
    if (current === undefined) continue;
    const status = snapshot.keys.get(current)?.status ?? 'deleted';
    if (status !== 'Active') {
      return [
        `A: when call ${index} arrived, ${AWSCURRENT} held key ${current}, which was ${status}`,
      ];
    }
  }
  const current = scenario.storedKeyId(AWSCURRENT);
  if (current === undefined) return [];
  const status = scenario.sim.accessKey(current)?.status ?? 'deleted';
  return status === 'Active'
    ? []
    : [`A: at the end ${AWSCURRENT} holds key ${current}, which is ${status}`];
};

/**
 * B. A rollback or a value put by hand stays: at the end AWSCURRENT is on the version the
 * operator made current, or on one created after it (a later rotation's).
 */
const checkOperatorMovesStay = (scenario: Scenario): string[] => {
  const current = scenario.sim.versionWithStage(scenario.secretId, AWSCURRENT)?.versionId;
  return scenario.labelMoves.flatMap((move) =>
    current === undefined || current === move.currentVersionId || !move.versionIds.has(current)
      ? []
      : [
          `B: the ${move.action} (call ${move.endCall}) made version ${move.currentVersionId} ${AWSCURRENT}; at the end ${AWSCURRENT} is back on version ${current}`,
        ],
  );
};

/**
 * C. No operator command deactivates or deletes the key AWSCURRENT holds when its call arrives,
 * nor deletes an Active key (the function's calls: invariants 4 and 9).
 */
const checkCommandRemovals = (scenario: Scenario, command: CommandFacts): string[] => {
  if (command.removesKeysByHand) return [];
  const violations: string[] = [];
  for (const call of scenario.sim.calls) {
    if (call.invocationId !== undefined || call.index < command.startCall) continue;
    if (call.index >= command.endCall || !removesKey(call)) continue;
    const snapshot = scenario.snapshots.get(call.index);
    const id = param(call, 'AccessKeyId');
    if (id !== undefined && id === snapshot?.secrets.get(scenario.secretArn)?.current) {
      violations.push(
        `C: ${command.name}'s call ${call.index} ${call.operation} targets the ${AWSCURRENT} key ${id}`,
      );
    }
    if (call.operation === 'DeleteAccessKey' && snapshot?.keys.get(id ?? '')?.status === 'Active') {
      violations.push(
        `C: ${command.name}'s call ${call.index} deletes the Active key ${String(id)} without deactivating it first`,
      );
    }
  }
  return violations;
};

/**
 * D. `cancel` is final: once it reported success, no invocation of the rotation it cancelled
 * changes anything but removing its own keys, no version it cancelled carries AWSPENDING or
 * AWSCURRENT again, and no key that rotation created remains.
 */
const checkCancelFinal = (
  scenario: Scenario,
  command: CommandFacts,
  keysByToken: KeysByToken,
): string[] => {
  if (command.name !== 'cancel' || command.exitCode !== 0) return [];
  const cancelled = new Set(
    scenario.sim.calls
      .filter(
        (call) =>
          call.invocationId === undefined &&
          call.index >= command.startCall &&
          call.index < command.endCall &&
          call.operation === 'UpdateSecretVersionStage' &&
          call.params.VersionStage === AWSPENDING &&
          call.outcome === 'success',
      )
      .map((call) => param(call, 'RemoveFromVersionId') ?? ''),
  );
  if (cancelled.size === 0) return [];
  const violations: string[] = [];
  const tokenOf = new Map(scenario.sim.invocations.map((i) => [i.id, i.clientRequestToken]));
  const ownKeys = new Set([...cancelled].flatMap((token) => keysByToken.get(token) ?? []));
  for (const call of scenario.sim.calls) {
    if (call.index < command.endCall || call.invocationId === undefined) continue;
    if (!cancelled.has(tokenOf.get(call.invocationId) ?? '')) continue;
    if (!call.effectApplied || isRead(call)) continue;
    if (removesKey(call) && ownKeys.has(param(call, 'AccessKeyId') ?? '')) continue;
    violations.push(
      `D: after cancel reported success (call ${command.endCall - 1}), call ${call.index} ${call.operation} by ${call.invocationId} (${String(call.step)}) of the cancelled rotation took effect`,
    );
  }
  for (const version of scenario.sim.secretVersions(scenario.secretId)) {
    if (!cancelled.has(version.versionId)) continue;
    const labels = version.stages.filter((stage) => stage === AWSCURRENT || stage === AWSPENDING);
    if (labels.length > 0) {
      violations.push(
        `D: the cancelled version ${version.versionId} carries ${labels.join(', ')} at the end`,
      );
    }
  }
  for (const keyId of ownKeys) {
    const key = scenario.sim.accessKey(keyId);
    if (key !== undefined) {
      violations.push(
        `D: key ${keyId}, created by the cancelled rotation, remains (${key.status})`,
      );
    }
  }
  return violations;
};

/**
 * Judges one explored interleaving, after everything settled: invariants 4, 6 and 9 of the
 * scenario checks, A-D above, and E: the command did not crash.
 */
export const judgeInterleaving = (
  scenario: Scenario,
  command: CommandFacts,
  keysByToken: KeysByToken,
): string[] => [
  ...(command.crashedWith === undefined
    ? []
    : [`E: ${command.name} crashed instead of reporting what it found: ${command.crashedWith}`]),
  ...checkCurrentKeyNeverRemoved(scenario),
  ...checkOperatorChangesKept(scenario),
  ...checkKeysInUseKept(scenario).filter((violation) => violation.startsWith('9:')),
  ...checkCurrentKeyActive(scenario),
  ...checkOperatorMovesStay(scenario),
  ...checkCommandRemovals(scenario, command),
  ...checkCancelFinal(scenario, command, keysByToken),
];
