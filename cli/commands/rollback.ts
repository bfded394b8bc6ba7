import { randomUUID } from 'node:crypto';
import { errorName } from '../../lambda/aws/aws-error.js';
import { DEFAULT_STEP_TIMEOUT_MS } from '../command-defaults.js';
import type { AccessKeyMetadata } from '../../lambda/aws/iam-access-key-store.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
} from '../../lambda/aws/secrets-manager-secret-store.js';
import type { OperatorAccessKeyStore } from '../aws/operator-access-key-store.js';
import type { OperatorSecretStore } from '../aws/operator-secret-store.js';
import { confirmChange, requireOwnership } from '../confirmation.js';
import type { CliIo, Clock, Confirm } from '../dependencies.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { shortVersionId } from '../format.js';
import { describeManagedSecret, type ManagedSecret } from '../secret-ref.js';
import { CURRENT_KEY_TAG_KEY, ROLLBACK_STAGE } from '../../lambda/rotation/binding.js';

export { ROLLBACK_STAGE } from '../../lambda/rotation/binding.js';
import { LINEAGE_FIELDS } from '../../lambda/rotation/secret-value.js';
import { readSecretVersions, versionLines, type SecretVersions } from '../secret-state.js';

export interface ChangeDependencies {
  readonly secrets: OperatorSecretStore;
  readonly iam: OperatorAccessKeyStore;
  readonly clock: Clock;
  readonly io: CliIo;
  readonly confirm: Confirm;
}

export interface ChangeOptions {
  readonly secret: string;
  readonly yes?: boolean;
  readonly json?: boolean;
  /**
   * How long an invocation of the rotation function may run (its timeout). After a rollback stops
   * a rotation in flight it waits this long before it touches a key, so that a step that passed
   * its checks before AWSPENDING went (createSecret deleting the AWSPREVIOUS key to make room)
   * has ended; later steps refuse the version. After its change it waits this long again before
   * it verifies, so that a step or a retirement that read the secret before the change has ended.
   * `cancel` waits the same way.
   * @default 2 minutes, the function's default timeout
   */
  readonly stepTimeoutMs?: number;
}

export { DEFAULT_STEP_TIMEOUT_MS };

/**
 * Added to every wait for the function's timeout: Lambda ends an invocation once it has run
 * longer than its timeout, so a step that began the instant the command did is at its deadline
 * after exactly the timeout, not past it.
 */
export const WAIT_MARGIN_MS = 1_000;

/** Waits out the function's timeout, strictly. */
export const waitOutStepTimeout = (clock: Clock, stepTimeoutMs: number): Promise<void> =>
  clock.sleep(stepTimeoutMs + WAIT_MARGIN_MS);

/** A version as `--json` prints it. */
export interface VersionReport {
  readonly versionId: string;
  readonly stages: readonly string[];
  readonly accessKeyId?: string;
  /** The key's status in IAM, or `deleted`. */
  readonly keyStatus?: string;
}

/** The state of a secret and its user's keys, read again after a change. */
export interface SecretSnapshot {
  readonly versions: SecretVersions;
  readonly keys: readonly AccessKeyMetadata[];
}

export const readSnapshot = async (
  deps: Pick<ChangeDependencies, 'secrets' | 'iam'>,
  managed: ManagedSecret,
): Promise<SecretSnapshot> => {
  for (let attempt = 1; ; attempt += 1) {
    const secret = await deps.secrets.describe(managed.description.arn);
    try {
      const [versions, keys] = await Promise.all([
        readSecretVersions(deps.secrets, secret, managed.userName),
        deps.iam.listAccessKeys(managed.userName),
      ]);
      return { versions, keys };
    } catch (error) {
      // A label moved between DescribeSecret and GetSecretValue(VersionId, VersionStage) (a step
      // of the function, say): read everything again.
      if (errorName(error) !== 'InvalidRequestException' || attempt >= SNAPSHOT_READS) throw error;
    }
  }
};

/** How many times a snapshot is read when labels keep moving under it. */
const SNAPSHOT_READS = 3;

export const versionReports = (snapshot: SecretSnapshot): VersionReport[] => {
  const seen = new Set<string>();
  const reports: VersionReport[] = [];
  const { current, previous, pending } = snapshot.versions;
  for (const version of [current, previous, ...pending]) {
    if (version === undefined || seen.has(version.versionId)) continue;
    seen.add(version.versionId);
    const key =
      version.accessKeyId === undefined
        ? undefined
        : snapshot.keys.find((candidate) => candidate.accessKeyId === version.accessKeyId);
    reports.push({
      versionId: version.versionId,
      stages: version.stages,
      ...(version.accessKeyId === undefined ? {} : { accessKeyId: version.accessKeyId }),
      ...(version.accessKeyId === undefined ? {} : { keyStatus: key?.status ?? 'deleted' }),
    });
  }
  return reports;
};

/** The value of the version rolled back to, without the fields that tie it to its rotation. */
export const rolledBackValue = (secretString: string): string => {
  const fields = JSON.parse(secretString) as Record<string, unknown>;
  return JSON.stringify(
    Object.fromEntries(
      Object.entries(fields).filter(
        ([field]) => !(LINEAGE_FIELDS as readonly string[]).includes(field),
      ),
    ),
  );
};

/**
 * `iam-key-rotation rollback <secret>`: the README's "Roll back", fenced. Refuses, changing
 * nothing, unless the user's ownership tag names this secret and AWSPREVIOUS holds a key that
 * still exists. Then:
 * 1. removes AWSPENDING from every version, the AWSCURRENT one included (stops a rotation in
 *    flight, or one still finishing), reading the labels right before;
 * 2. writes a NEW version holding the AWSPREVIOUS key's value with the label ROLLBACK_STAGE
 *    (PutSecretValue with a fresh ClientRequestToken): while it is there, no retirement and no
 *    finishSecret deactivates a key; then waits out the function's timeout, so that every step
 *    or retirement that read the secret before has ended;
 * 3. reads everything again and stops (removing its label) if AWSCURRENT or AWSPREVIOUS moved,
 *    the key is gone, or a rotation started meanwhile;
 * 4. reactivates the AWSPREVIOUS key if it is not Active;
 * 5. moves AWSCURRENT onto the new version from the version shown (sent once; it fails if
 *    AWSCURRENT moved). No stale `RemoveFromVersionId` of a step can ever match a new version,
 *    and every retirement scheduled by the rotation rolled back from names a version that is no
 *    longer AWSCURRENT; then removes its label and records the AWSCURRENT key in the tag;
 * 6. verifies that AWSCURRENT is on the new version and its key Active (reactivating it if not).
 * The key rolled back from stays Active as AWSPREVIOUS (some consumers may already use it); the
 * next rotation deletes it.
 */
export const runRollback = async (
  deps: ChangeDependencies,
  options: ChangeOptions,
): Promise<ExitCode> => {
  const { io, clock, secrets, iam } = deps;
  const managed = await describeManagedSecret(secrets, options.secret);
  const { description: secret, userName, reference } = managed;
  await requireOwnership(iam, secret, userName);
  const before = await readSnapshot(deps, managed);
  const refuse = (why: string): CliError =>
    new CliError(`Cannot roll back ${secret.name}: ${why}; nothing was changed`);
  const target = rollbackTarget(before, userName, reference);
  if (typeof target === 'string') throw refuse(target);
  const { current, previous, previousKey } = target;
  const previousKeyId = previousKey.accessKeyId;
  const { pending } = before.versions;

  // A rotation still finishing (AWSPENDING on the AWSCURRENT version) is stopped and waited out
  // too: its finishSecret may still be running.
  const finishing = secret.versionIdsToStages[current.versionId]?.includes(AWSPENDING) === true;
  const stopped = [...pending.map((version) => version.versionId)];
  if (finishing) stopped.push(current.versionId);
  const waitMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const waitText = `${String(Math.round(waitMs / 1_000))} s`;

  const now = clock.now();
  const steps = [
    ...stopped.map(
      (versionId) => `remove ${AWSPENDING} from version ${versionId} (stops its rotation)`,
    ),
    `write a new version holding access key ${previousKeyId} (the value of version ${previous.versionId}) with the label ${ROLLBACK_STAGE}: from then on the function deactivates no key`,
    `wait out the function's timeout (${waitText}), so that nothing that read the secret before is still running, then read everything again`,
    previousKey.status === 'Active'
      ? `access key ${previousKeyId} (${AWSPREVIOUS}) is already Active`
      : `reactivate access key ${previousKeyId} (${AWSPREVIOUS}, now ${previousKey.status})`,
    `move ${AWSCURRENT} to the new version; version ${current.versionId}${
      current.accessKeyId === undefined ? '' : ` (${current.accessKeyId})`
    } becomes ${AWSPREVIOUS} and its key stays Active until the next rotation deletes it; then verify`,
  ];
  io.stderr(
    `Secret ${secret.name} (IAM user ${userName}) now:\n${versionLines(before.versions, before.keys, now).join('\n')}\nRollback:\n${steps
      .map((step, index) => `  ${String(index + 1)}. ${step}`)
      .join('\n')}\n`,
  );
  await confirmChange(
    deps,
    options,
    `roll back ${secret.name} to access key ${previousKeyId}`,
    `iam-key-rotation rollback ${reference} --yes`,
  );

  const done: string[] = [];
  const again = `iam-key-rotation rollback ${reference}`;
  const stoppedWith = (why: string, cause?: unknown): CliError =>
    new CliError(
      `Rollback of ${secret.name} stopped: ${why}. ${
        done.length === 0 ? 'Nothing was changed' : `Done before: ${done.join('; ')}`
      }. Running the same command again continues from the secret's state as it is then: ${again}`,
      1,
      cause === undefined ? undefined : { cause },
    );
  const step = async (what: string, action: () => Promise<unknown>): Promise<void> => {
    try {
      await action();
    } catch (error) {
      throw stoppedWith(`could not ${what}: ${describeFailure(error)}`, error);
    }
    done.push(what);
    io.stderr(`  done: ${what}\n`);
  };

  // 1. Stop every rotation in flight, reading the labels right before each removal.
  if (stopped.length > 0) {
    const labels = (await secrets.describe(secret.arn)).versionIdsToStages;
    for (const versionId of stopped) {
      if (labels[versionId]?.includes(AWSPENDING) !== true) continue;
      await step(`remove ${AWSPENDING} from version ${shortVersionId(versionId)}`, () =>
        secrets.moveStage({
          secretId: secret.arn,
          versionStage: AWSPENDING,
          removeFromVersionId: versionId,
        }),
      );
    }
  }

  // 2. The fence: a new version holding the key, with the rollback's own label. From now on no
  // retirement and no finishSecret deactivates a key (they read the label right before), and
  // whatever read the secret before has ended once the function's timeout has passed.
  // By id alone: the value of a version never changes, whatever its labels do meanwhile.
  const secretString = await secrets.getSecretString(secret.arn, {
    versionId: previous.versionId,
  });
  if (secretString === undefined) {
    throw stoppedWith(`version ${previous.versionId} (${AWSPREVIOUS}) has no value any more`);
  }
  const versionId = randomUUID();
  await step(
    `write version ${shortVersionId(versionId)} holding access key ${previousKeyId} (label ${ROLLBACK_STAGE})`,
    () =>
      secrets.putSecretStringWithStage({
        secretId: secret.arn,
        clientRequestToken: versionId,
        secretString: rolledBackValue(secretString),
        versionStage: ROLLBACK_STAGE,
      }),
  );
  const dropFence = async (): Promise<void> => {
    try {
      await secrets.moveStage({
        secretId: secret.arn,
        versionStage: ROLLBACK_STAGE,
        removeFromVersionId: versionId,
      });
    } catch {
      // Already gone (a later rollback moved it): nothing to release.
    }
  };
  io.stderr(
    `  waiting ${waitText} (the function's timeout) so that no step or retirement that read the secret before is still running, before any key or ${AWSCURRENT} is touched\n`,
  );
  await waitOutStepTimeout(clock, waitMs);

  // 3. Read everything again right before the change: what was shown must still hold.
  const fresh = await readSnapshot(deps, managed);
  const freshTarget = rollbackTarget(fresh, userName, reference);
  const changed =
    typeof freshTarget === 'string'
      ? freshTarget
      : freshTarget.current.versionId !== current.versionId ||
          freshTarget.previous.versionId !== previous.versionId
        ? `${AWSCURRENT} is now on version ${freshTarget.current.versionId} and ${AWSPREVIOUS} on ${freshTarget.previous.versionId} (a rotation completed, or someone moved them); look again with: iam-key-rotation status ${reference}`
        : fresh.versions.pending.length > 0
          ? `a rotation started meanwhile (${AWSPENDING} on version ${fresh.versions.pending.map((version) => version.versionId).join(', ')})`
          : undefined;
  if (changed !== undefined || typeof freshTarget === 'string') {
    await dropFence();
    throw stoppedWith(`the secret changed meanwhile: ${changed ?? ''}`);
  }

  // 4. The key comes back first, so AWSCURRENT never names an Inactive key.
  if (freshTarget.previousKey.status !== 'Active') {
    await step(`reactivate access key ${previousKeyId}`, () =>
      iam.activateAccessKey(userName, previousKeyId),
    );
  }

  // 5. AWSCURRENT onto the new version, from the version shown: fencing by construction.
  try {
    await step(`move ${AWSCURRENT} to version ${shortVersionId(versionId)}`, () =>
      moveCurrentFenced(secrets, {
        secretArn: secret.arn,
        versionId,
        replacedVersionId: current.versionId,
      }),
    );
  } finally {
    await dropFence();
  }
  try {
    await secrets.tagSecret(secret.arn, CURRENT_KEY_TAG_KEY, `${versionId}:${previousKeyId}`);
  } catch (error) {
    io.stderr(
      `  warning: could not record the ${AWSCURRENT} key in the tag ${CURRENT_KEY_TAG_KEY} (${describeFailure(error)}); status reads the value instead\n`,
    );
  }

  // 6. Verify, reactivating the key if something deactivated it after all.
  const after = await verifyRolledBack(deps, managed, {
    versionId,
    previousKeyId,
    stoppedWith,
    step,
  });

  if (options.json === true) {
    io.stdout(
      `${JSON.stringify(
        {
          secretName: secret.name,
          secretArn: secret.arn,
          userName,
          outcome: 'rolled back',
          accessKeyId: previousKeyId,
          versionId,
          before: versionReports(before),
          after: versionReports(after),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout(
      `Rolled back ${secret.name}: ${AWSCURRENT} holds access key ${previousKeyId} again, in the new version ${versionId}.\n${versionLines(
        after.versions,
        after.keys,
        clock.now(),
      ).join('\n')}\n`,
    );
  }
  return EXIT_OK;
};

/** What a rollback needs: AWSCURRENT, AWSPREVIOUS and its key, or why it cannot roll back. */
const rollbackTarget = (
  snapshot: SecretSnapshot,
  userName: string,
  reference: string,
):
  | string
  | {
      readonly current: NonNullable<SecretVersions['current']>;
      readonly previous: NonNullable<SecretVersions['previous']>;
      readonly previousKey: AccessKeyMetadata;
    } => {
  const { current, previous } = snapshot.versions;
  if (current === undefined) return `no version carries ${AWSCURRENT}`;
  if (previous === undefined) {
    return `no version carries ${AWSPREVIOUS}, so there is nothing to roll back to`;
  }
  if (previous.problem !== undefined) return previous.problem;
  const previousKeyId = previous.accessKeyId;
  if (previousKeyId === undefined) {
    return `${AWSPREVIOUS} (version ${previous.versionId}) holds no access key (it is the secret's first value, {"UserName"} only)`;
  }
  const previousKey = snapshot.keys.find((key) => key.accessKeyId === previousKeyId);
  if (previousKey === undefined) {
    return `access key ${previousKeyId}, which ${AWSPREVIOUS} holds, no longer exists for IAM user ${userName} (a later rotation deleted it, or someone did by hand), and a deleted key cannot come back. Make a new key instead: iam-key-rotation rotate ${reference} --wait`;
  }
  if (current.versionId === previous.versionId) {
    return `${AWSCURRENT} and ${AWSPREVIOUS} are on the same version ${current.versionId}`;
  }
  return { current, previous, previousKey };
};

/**
 * Moves AWSCURRENT onto the rollback's version from the version it replaces, sent once: the move
 * fails if AWSCURRENT moved meanwhile (a rotation that completed), so the rollback never
 * overrides what it did not show. After an error the labels say whether the move took effect;
 * if not, and AWSCURRENT is still on the replaced version, it is sent once more.
 */
const moveCurrentFenced = async (
  secrets: OperatorSecretStore,
  input: { secretArn: string; versionId: string; replacedVersionId: string },
): Promise<void> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await secrets.moveStageOnce({
        secretId: input.secretArn,
        versionStage: AWSCURRENT,
        moveToVersionId: input.versionId,
        removeFromVersionId: input.replacedVersionId,
      });
      return;
    } catch (error) {
      const labels = (await secrets.describe(input.secretArn)).versionIdsToStages;
      if (labels[input.versionId]?.includes(AWSCURRENT) === true) return;
      if (attempt >= 2 || labels[input.replacedVersionId]?.includes(AWSCURRENT) !== true) {
        throw error;
      }
    }
  }
};

/**
 * After the move: AWSCURRENT must still be on the new version and its key Active. A key that
 * something deactivated is reactivated (and checked once more).
 */
const verifyRolledBack = async (
  deps: ChangeDependencies,
  managed: ManagedSecret,
  expected: {
    readonly versionId: string;
    readonly previousKeyId: string;
    readonly stoppedWith: (why: string) => CliError;
    readonly step: (what: string, action: () => Promise<unknown>) => Promise<void>;
  },
): Promise<SecretSnapshot> => {
  const { versionId, previousKeyId, stoppedWith, step } = expected;
  const { userName } = managed;
  for (let check = 1; ; check += 1) {
    const snapshot = await readSnapshot(deps, managed);
    const currentVersionId = snapshot.versions.current?.versionId;
    if (currentVersionId !== versionId) {
      throw stoppedWith(
        `${AWSCURRENT} moved on from the rolled-back version ${versionId} to version ${currentVersionId ?? 'none'} (a rotation or a value put by hand came after the rollback); nothing was undone by the rollback, look with: iam-key-rotation status ${managed.reference}`,
      );
    }
    const key = snapshot.keys.find((candidate) => candidate.accessKeyId === previousKeyId);
    if (key === undefined) {
      throw stoppedWith(
        `access key ${previousKeyId}, which ${AWSCURRENT} now holds, was deleted meanwhile (by hand?); make a new one: iam-key-rotation rotate ${managed.reference} --wait`,
      );
    }
    if (key.status === 'Active') return snapshot;
    if (check > 2) {
      throw stoppedWith(`access key ${previousKeyId} keeps being deactivated (by hand?)`);
    }
    deps.io.stderr(
      `  access key ${previousKeyId} is ${key.status} after the move (deactivated by hand?); reactivating it\n`,
    );
    await step(`reactivate access key ${previousKeyId} again`, () =>
      deps.iam.activateAccessKey(userName, previousKeyId),
    );
  }
};
