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
   * How long a step of the rotation function may run (its timeout). After a rollback stops a
   * rotation in flight it waits this long before it touches a key, so that a step that passed
   * its checks before AWSPENDING went (createSecret deleting the AWSPREVIOUS key to make room)
   * has ended; later steps refuse the version.
   * @default 2 minutes, the function's default timeout
   */
  readonly stepTimeoutMs?: number;
}

export { DEFAULT_STEP_TIMEOUT_MS };

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
  const secret = await deps.secrets.describe(managed.description.arn);
  const [versions, keys] = await Promise.all([
    readSecretVersions(deps.secrets, secret, managed.userName),
    deps.iam.listAccessKeys(managed.userName),
  ]);
  return { versions, keys };
};

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

/**
 * `iam-key-rotation rollback <secret>`: the README's "Roll back", checked first. Refuses, changing
 * nothing, unless the user's ownership tag names this secret and AWSPREVIOUS holds a key that
 * still exists. Then: 1. removes AWSPENDING from every version, the AWSCURRENT one included
 * (stops a rotation in flight, or one still finishing) and waits out the function's timeout; 2. reactivates the AWSPREVIOUS key; 3. moves AWSCURRENT back to the
 * AWSPREVIOUS version. The key rolled back from stays Active as AWSPREVIOUS (some consumers may
 * already use it); the next rotation deletes it.
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
  const { current, previous, pending } = before.versions;
  const refuse = (why: string): CliError =>
    new CliError(`Cannot roll back ${secret.name}: ${why}; nothing was changed`);
  if (current === undefined) throw refuse(`no version carries ${AWSCURRENT}`);
  if (previous === undefined) {
    throw refuse(`no version carries ${AWSPREVIOUS}, so there is nothing to roll back to`);
  }
  if (previous.problem !== undefined) throw refuse(previous.problem);
  const previousKeyId = previous.accessKeyId;
  if (previousKeyId === undefined) {
    throw refuse(
      `${AWSPREVIOUS} (version ${previous.versionId}) holds no access key (it is the secret's first value, {"UserName"} only)`,
    );
  }
  const previousKey = before.keys.find((key) => key.accessKeyId === previousKeyId);
  if (previousKey === undefined) {
    throw refuse(
      `access key ${previousKeyId}, which ${AWSPREVIOUS} holds, no longer exists for IAM user ${userName} (a later rotation deleted it, or someone did by hand), and a deleted key cannot come back. Make a new key instead: iam-key-rotation rotate ${reference} --wait`,
    );
  }
  if (current.versionId === previous.versionId) {
    throw refuse(`${AWSCURRENT} and ${AWSPREVIOUS} are on the same version ${current.versionId}`);
  }

  // A rotation still finishing (AWSPENDING on the AWSCURRENT version) is stopped and waited out
  // too: its finishSecret may retry a move of AWSCURRENT whose answer was lost, which would
  // undo the rollback, and then deactivate the key rolled back to.
  const finishing = secret.versionIdsToStages[current.versionId]?.includes(AWSPENDING) === true;
  const stopped = [...pending.map((version) => version.versionId)];
  if (finishing) stopped.push(current.versionId);

  const now = clock.now();
  const steps = [
    ...stopped.map(
      (versionId) => `remove ${AWSPENDING} from version ${versionId} (stops its rotation)`,
    ),
    ...(stopped.length > 0
      ? ["wait out the function's timeout, so that a step of that rotation still running ends"]
      : []),
    previousKey.status === 'Active'
      ? `access key ${previousKeyId} (${AWSPREVIOUS}) is already Active`
      : `reactivate access key ${previousKeyId} (${AWSPREVIOUS}, now ${previousKey.status})`,
    `move ${AWSCURRENT} to version ${previous.versionId} (${previousKeyId}); version ${current.versionId}${
      current.accessKeyId === undefined ? '' : ` (${current.accessKeyId})`
    } becomes ${AWSPREVIOUS} and its key stays Active until the next rotation deletes it`,
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
  const step = async (what: string, action: () => Promise<void>): Promise<void> => {
    try {
      await action();
    } catch (error) {
      throw new CliError(
        `Rollback of ${secret.name} stopped: could not ${what}: ${describeFailure(error)}. ${
          done.length === 0 ? 'Nothing was changed' : `Done before: ${done.join('; ')}`
        }. Running the same command again continues from the secret's state as it is then: iam-key-rotation rollback ${reference}`,
        1,
        { cause: error },
      );
    }
    done.push(what);
    io.stderr(`  done: ${what}\n`);
  };
  for (const versionId of stopped) {
    await step(`remove ${AWSPENDING} from version ${shortVersionId(versionId)}`, () =>
      secrets.moveStage({
        secretId: secret.arn,
        versionStage: AWSPENDING,
        removeFromVersionId: versionId,
      }),
    );
  }
  if (stopped.length > 0) {
    const waitMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
    io.stderr(
      `  waiting ${String(Math.round(waitMs / 1_000))} s (the function's timeout) for a step of the stopped rotation that may still be running to end, before any key is touched\n`,
    );
    await clock.sleep(waitMs);
  }
  if (previousKey.status !== 'Active') {
    await step(`reactivate access key ${previousKeyId}`, () =>
      iam.activateAccessKey(userName, previousKeyId),
    );
  }
  await step(`move ${AWSCURRENT} to version ${shortVersionId(previous.versionId)}`, () =>
    secrets.moveStage({
      secretId: secret.arn,
      versionStage: AWSCURRENT,
      moveToVersionId: previous.versionId,
      removeFromVersionId: current.versionId,
    }),
  );

  const after = await readSnapshot(deps, managed);
  if (options.json === true) {
    io.stdout(
      `${JSON.stringify(
        {
          secretName: secret.name,
          secretArn: secret.arn,
          userName,
          outcome: 'rolled back',
          accessKeyId: previousKeyId,
          before: versionReports(before),
          after: versionReports(after),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout(
      `Rolled back ${secret.name}: ${AWSCURRENT} holds access key ${previousKeyId} again.\n${versionLines(
        after.versions,
        after.keys,
        clock.now(),
      ).join('\n')}\n`,
    );
  }
  return EXIT_OK;
};
