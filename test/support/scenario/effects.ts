import type { Scenario } from './scenario.js';

/**
 * What a scenario made the rotation function do, counted, so a property run can show that it
 * reached the behaviour it claims to test (a pinned seed that never triggers the compensating
 * delete proves nothing about it).
 */
export type Effect =
  /** createSecret deleted its new key because PutSecretValue failed. */
  | 'compensating delete after a failed PutSecretValue'
  /** testSecret retried GetCallerIdentity after a retryable error (one entry per error name). */
  | `testSecret retried after ${string}`
  /** An Active key was deactivated, then deleted, by the same invocation. */
  | 'deactivated before deleting'
  /** A rotation whose pending key could never work was given up (key deleted, AWSPENDING removed). */
  | 'rotation given up'
  /** createSecret refused to delete a key in use to make room. */
  | 'refused to delete a key in use'
  /** A key the secret does not hold was deleted because it was not used for staleKeyDays. */
  | 'deleted a key unused for staleKeyDays'
  /** A step refused a user whose ownership tag does not name the secret. */
  | 'refused a user owned by another secret'
  /** A step or retirement refused a secret the stack did not create (a look-alike). */
  | 'refused a look-alike secret'
  /** finishSecret refused a version testSecret had not proved (a forged finishSecret). */
  | 'refused to promote an unproven version'
  /** testSecret marked the version whose key it proved (IAM_KEY_ROTATION_TESTED). */
  | 'marked a proven version'
  /** A step refused a version that is AWSPREVIOUS (a rollback or a newer version). */
  | 'refused to resume a superseded rotation'
  /** A step refused a version that is no longer AWSPENDING (cancelled or abandoned). */
  | 'refused a cancelled rotation'
  /** A key missing from ListAccessKeys was listed again before it counted as deleted. */
  | 'listed again to confirm a missing key'
  /** A RotateImmediately=false test rotation succeeded. */
  | 'configuration test passed'
  /** An operator's rollback completed. */
  | 'operator rolled back'
  /** finishSecret left the previous key Active and scheduled its retirement (grace period). */
  | 'grace period: retirement scheduled'
  /** A retried finishSecret found its schedule already created (ConflictException). */
  | 'grace period: retirement already scheduled'
  /** A schedule's invocation deactivated the previous key at the end of its grace period. */
  | 'grace period: previous key retired'
  /** ... found the previous key AWSCURRENT again (an operator rolled back within the grace period). */
  | 'grace period: retirement after a rollback did nothing'
  /** ... found the previous key gone or its version superseded (a newer rotation). */
  | 'grace period: retirement after a newer rotation did nothing'
  /** ... warned that the previous key signed a request after the new key was created. */
  | 'grace period: old key still used'
  /** A newer rotation's createSecret deactivated, then deleted, a previous key still Active. */
  | 'grace period: newer rotation deleted the Active previous key';

export type EffectTally = ReadonlyMap<Effect, number>;

const errorNameOf = (error: unknown): string => (error instanceof Error ? error.name : '');
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : '');

/**
 * The versions operators' rollbacks took AWSCURRENT from (the RemoveFromVersionId of each
 * rollback's AWSCURRENT move): the rotations they rolled back.
 */
const rolledBackVersions = (scenario: Scenario): Set<string> => {
  const moves = new Set(
    scenario.labelMoves.filter((move) => move.action === 'rollback').map((move) => move.endCall),
  );
  const versions = new Set<string>();
  for (const call of scenario.sim.calls) {
    const from = call.params.RemoveFromVersionId;
    if (moves.has(call.index) && typeof from === 'string') versions.add(from);
  }
  return versions;
};

/** For each scheduled retirement: its rotation's version (RotationVersionId) by its VersionId. */
const retirementRotations = (scenario: Scenario): Map<string, string> => {
  const rotations = new Map<string, string>();
  for (const invocation of scenario.sim.scheduledInvocations) {
    // A forged event (lambda:InvokeFunction) names whatever versions its sender chose.
    if (invocation.scheduleArn === 'lambda:InvokeFunction') continue;
    try {
      const event = JSON.parse(invocation.input) as {
        VersionId?: unknown;
        RotationVersionId?: unknown;
      };
      if (typeof event.VersionId === 'string' && typeof event.RotationVersionId === 'string') {
        rotations.set(event.VersionId, event.RotationVersionId);
      }
    } catch {
      // Not an event of ours (a forged invocation): no rotation to name.
    }
  }
  return rotations;
};

/** Counts the effects of one scenario. */
export const tallyEffects = (scenario: Scenario): EffectTally => {
  const tally = new Map<Effect, number>();
  const add = (effect: Effect, count = 1): void => {
    if (count > 0) tally.set(effect, (tally.get(effect) ?? 0) + count);
  };
  const rolledBackFrom = rolledBackVersions(scenario);
  const rotationOfPrevious = retirementRotations(scenario);
  for (const entry of scenario.logs.entries) {
    const message = String(entry.message);
    if (message === 'createSecret: removed access key') {
      if (entry.reason === 'its secret could not be stored') {
        add('compensating delete after a failed PutSecretValue');
      }
      if (typeof entry.reason === 'string' && entry.reason.startsWith('unused (last used')) {
        add('deleted a key unused for staleKeyDays');
      }
    }
    if (
      message === 'createSecret: removed access key' &&
      entry.reason === 'AWSPREVIOUS' &&
      entry.previousStatus === 'Active'
    ) {
      add('grace period: newer rotation deleted the Active previous key');
    } else if (
      message.startsWith('finishSecret: the previous access key stays Active for its grace period')
    ) {
      add(
        message.endsWith('already scheduled')
          ? 'grace period: retirement already scheduled'
          : 'grace period: retirement scheduled',
      );
    } else if (message.startsWith('retirePreviousKey: deactivated the previous access key')) {
      add('grace period: previous key retired');
    } else if (
      message.startsWith('retirePreviousKey: ') &&
      (message.includes('is AWSCURRENT again') ||
        (message.includes('nothing to do') &&
          rolledBackFrom.has(rotationOfPrevious.get(String(entry.versionId)) ?? '')))
    ) {
      // A rollback writes a new version: the retirement then finds its previous version no
      // longer AWSPREVIOUS, as after a newer rotation; the rollback's move tells them apart.
      add('grace period: retirement after a rollback did nothing');
    } else if (
      message.startsWith('retirePreviousKey: ') &&
      (message.includes('is no longer AWSPREVIOUS') || message.includes('any more'))
    ) {
      add('grace period: retirement after a newer rotation did nothing');
    } else if (message.startsWith('retirePreviousKey: the previous access key is still used')) {
      add('grace period: old key still used');
    } else if (message === 'testSecret: the new access key is not accepted yet; retrying') {
      add(`testSecret retried after ${String(entry.errorName)}`);
    } else if (message.startsWith('testSecret: marked the version')) {
      add('marked a proven version');
    } else if (message.endsWith('access key not listed yet; listing again to confirm')) {
      add('listed again to confirm a missing key');
    }
  }
  for (const invocation of [...scenario.sim.invocations, ...scenario.sim.scheduledInvocations]) {
    if (invocation.outcome !== 'failed') continue;
    const name = errorNameOf(invocation.error);
    const message = messageOf(invocation.error);
    if (name === 'ForeignSecretError') add('refused a look-alike secret');
    else if (name === 'RotationStateError' && message.includes('testSecret has not proved')) {
      add('refused to promote an unproven version');
    } else if (name === 'RotationGivenUpError') add('rotation given up');
    else if (name === 'AccessKeyInUseError') add('refused to delete a key in use');
    else if (name === 'UserOwnershipError') add('refused a user owned by another secret');
    else if (name === 'RotationStateError' && message.includes('is AWSPREVIOUS')) {
      add('refused to resume a superseded rotation');
    } else if (name === 'RotationStateError' && /not AWSPENDING|has no version/.test(message)) {
      add('refused a cancelled rotation');
    }
  }
  const deactivated = new Set<string>();
  for (const call of scenario.sim.calls) {
    if (call.invocationId === undefined || call.outcome !== 'success') continue;
    const key = `${call.invocationId}/${String(call.params.AccessKeyId)}`;
    if (call.operation === 'UpdateAccessKey' && call.params.Status === 'Inactive') {
      deactivated.add(key);
    } else if (call.operation === 'DeleteAccessKey' && deactivated.has(key)) {
      add('deactivated before deleting');
    }
  }
  add(
    'configuration test passed',
    scenario.rotations.filter((r) => r.kind === 'test' && r.status === 'succeeded').length,
  );
  add(
    'operator rolled back',
    scenario.labelMoves.filter((move) => move.action === 'rollback').length,
  );
  return tally;
};

/** Adds `tally` into `total`. */
export const addTally = (total: Map<Effect, number>, tally: EffectTally): void => {
  for (const [effect, count] of tally) total.set(effect, (total.get(effect) ?? 0) + count);
};
