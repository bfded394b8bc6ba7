import { ignoreNoSuchEntity } from '../../lambda/aws/aws-error.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
} from '../../lambda/aws/secrets-manager-secret-store.js';
import { InvalidSecretValueError } from '../../lambda/errors.js';
import { keyMadeForVersion } from '../../lambda/rotation/key-lineage.js';
import { parseSecretValue } from '../../lambda/rotation/secret-value.js';
import { confirmChange, requireOwnership } from '../confirmation.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { shortVersionId } from '../format.js';
import { describeManagedSecret } from '../secret-ref.js';
import { versionLines } from '../secret-state.js';
import {
  DEFAULT_STEP_TIMEOUT_MS,
  readSnapshot,
  waitOutStepTimeout,
  versionReports,
  type ChangeDependencies,
  type ChangeOptions,
} from './rollback.js';

/** What cancel does with the key of one pending version. */
type KeyPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'keep'; readonly accessKeyId: string; readonly why: string }
  | { readonly kind: 'gone'; readonly accessKeyId: string }
  | { readonly kind: 'delete'; readonly accessKeyId: string; readonly status: string };

/** How many times cancel removes an AWSPENDING that a step in flight put back. */
const MAX_REMOVALS = 3;

/**
 * `iam-key-rotation cancel <secret>`: gives up an incomplete rotation, as the function does when
 * it gives one up, and makes it final:
 * 1. removes AWSPENDING from each version that carries it but not AWSCURRENT (read right before);
 * 2. waits out the function's timeout, so that a step that passed its checks before has ended,
 *    and reads the labels again: if a cancelled version became AWSCURRENT meanwhile, the rotation
 *    completed first, which it says (exit 1; next command: rollback); if a step put AWSPENDING
 *    back (createSecret's PutSecretValue does), it removes it again and waits again;
 * 3. reads the key each cancelled version holds (now, by version id: a placeholder may have got
 *    its value meanwhile) and deactivates and deletes it, unless a labelled version holds it too
 *    (read right before each deletion);
 * 4. verifies that no cancelled version carries AWSPENDING or AWSCURRENT and that the keys are gone.
 * It reports success only then: no step of the cancelled rotation can complete any more, and no
 * key it created remains. Nothing to cancel: says so and succeeds.
 */
export const runCancel = async (
  deps: ChangeDependencies,
  options: ChangeOptions,
): Promise<ExitCode> => {
  const { io, clock, secrets, iam } = deps;
  const managed = await describeManagedSecret(secrets, options.secret);
  const { description: secret, userName, reference } = managed;
  const base = { secretName: secret.name, secretArn: secret.arn, userName };
  const before = await readSnapshot(deps, managed);
  const { current, previous, pending } = before.versions;
  if (pending.length === 0) {
    if (options.json === true)
      io.stdout(`${JSON.stringify({ ...base, outcome: 'nothing to cancel' })}\n`);
    else {
      io.stdout(
        `Nothing to cancel: no rotation of ${secret.name} is incomplete (${AWSPENDING} is on no version other than ${AWSCURRENT}).\n`,
      );
    }
    return EXIT_OK;
  }
  await requireOwnership(iam, secret, userName);

  const heldElsewhere = new Map<string, string>();
  for (const [version, stage] of [
    [current, AWSCURRENT],
    [previous, AWSPREVIOUS],
  ] as const) {
    if (version?.problem !== undefined) {
      throw new CliError(
        `Cannot cancel the rotation of ${secret.name}: ${version.problem}; without knowing which key ${stage} holds, no key may be deleted. Nothing was changed`,
      );
    }
    if (version?.accessKeyId !== undefined) heldElsewhere.set(version.accessKeyId, stage);
  }
  // When each version was created: a key created before its version was not made by its
  // rotation (a value put into AWSPENDING by hand can name any key of the user) and stays.
  const versionsCreated = new Map(
    (await secrets.listVersions(secret.arn, { includeDeprecated: true })).map((version) => [
      version.versionId,
      version.createdDate,
    ]),
  );
  const notMadeFor = (versionId: string, keyCreated: Date): string | undefined => {
    const created = versionsCreated.get(versionId);
    return created !== undefined && keyMadeForVersion(keyCreated, created)
      ? undefined
      : `created ${keyCreated.toISOString()}, before version ${versionId}: not made by its rotation`;
  };
  const plans = pending.map((version): KeyPlan => {
    const accessKeyId = version.accessKeyId;
    if (version.problem !== undefined || accessKeyId === undefined) return { kind: 'none' };
    const holder = heldElsewhere.get(accessKeyId);
    if (holder !== undefined) return { kind: 'keep', accessKeyId, why: `${holder} holds it` };
    const key = before.keys.find((candidate) => candidate.accessKeyId === accessKeyId);
    if (key === undefined) return { kind: 'gone', accessKeyId };
    const foreign = notMadeFor(version.versionId, key.createDate);
    if (foreign !== undefined) return { kind: 'keep', accessKeyId, why: foreign };
    return { kind: 'delete', accessKeyId, status: key.status };
  });

  const now = clock.now();
  const planLines = pending.flatMap((version, index) => {
    const plan = plans[index] ?? { kind: 'none' };
    const label = `remove ${AWSPENDING} from version ${version.versionId}`;
    switch (plan.kind) {
      case 'none':
        return [`${label} (it holds no access key)`];
      case 'keep':
        return [`${label}; keep its access key ${plan.accessKeyId} (${plan.why})`];
      case 'gone':
        return [`${label}; its access key ${plan.accessKeyId} no longer exists`];
      case 'delete':
        return [
          label,
          `${plan.status === 'Active' ? 'deactivate, then ' : ''}delete access key ${plan.accessKeyId} (made by this rotation, held by no other version)`,
        ];
      default: {
        const unexpected: never = plan;
        throw new Error(`Unexpected plan ${JSON.stringify(unexpected)}`);
      }
    }
  });
  io.stderr(
    `Secret ${secret.name} (IAM user ${userName}) now:\n${versionLines(before.versions, before.keys, now).join('\n')}\nCancel:\n${planLines
      .map((line, index) => `  ${String(index + 1)}. ${line}`)
      .join('\n')}\n`,
  );
  await confirmChange(
    deps,
    options,
    `cancel the incomplete rotation of ${secret.name}`,
    `iam-key-rotation cancel ${reference} --yes`,
  );

  const done: string[] = [];
  const again = `iam-key-rotation cancel ${reference}`;
  const stoppedWith = (why: string, cause?: unknown): CliError =>
    new CliError(
      `Cancel of ${secret.name} stopped: ${why}. ${
        done.length === 0 ? 'Nothing was changed' : `Done before: ${done.join('; ')}`
      }. Running the same command again continues: ${again}`,
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
  const cancelled = pending.map((version) => version.versionId);
  const waitMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;

  // 1-2. Remove AWSPENDING, wait out the function's timeout, read again; until it stays removed.
  for (let removal = 1; ; removal += 1) {
    const labels = (await secrets.describe(secret.arn)).versionIdsToStages;
    const completed = cancelled.find((versionId) => labels[versionId]?.includes(AWSCURRENT));
    if (completed !== undefined) {
      throw new CliError(
        `Cannot cancel the rotation of ${secret.name}: it completed before the cancel took effect (version ${completed} is ${AWSCURRENT}), so none of its keys was deleted. To go back to the key before it: iam-key-rotation rollback ${reference}`,
      );
    }
    const labelled = cancelled.filter((versionId) => labels[versionId]?.includes(AWSPENDING));
    if (labelled.length === 0 && removal > 1) break;
    if (removal > MAX_REMOVALS) {
      throw stoppedWith(
        `${AWSPENDING} came back on version ${labelled.join(', ')} after ${String(MAX_REMOVALS)} removals (is Secrets Manager still retrying the rotation?)`,
      );
    }
    if (removal > 1) {
      io.stderr(
        `  a step that was running put ${AWSPENDING} back on version ${labelled.map(shortVersionId).join(', ')}; removing it again\n`,
      );
    }
    for (const versionId of labelled) {
      await step(`remove ${AWSPENDING} from version ${shortVersionId(versionId)}`, () =>
        secrets.moveStage({
          secretId: secret.arn,
          versionStage: AWSPENDING,
          removeFromVersionId: versionId,
        }),
      );
    }
    io.stderr(
      `  waiting ${String(Math.round(waitMs / 1_000))} s (the function's timeout) so that a step of the cancelled rotation still running ends, then reading again\n`,
    );
    await waitOutStepTimeout(clock, waitMs);
  }

  // 3. The keys the cancelled versions hold now, each deleted unless a labelled version holds it.
  const deleted: string[] = [];
  const kept: string[] = [];
  for (const versionId of cancelled) {
    const accessKeyId = await keyOfVersion(deps, secret.arn, userName, versionId);
    if (accessKeyId === undefined || deleted.includes(accessKeyId)) continue;
    const fresh = await readSnapshot(deps, managed);
    const holder = [
      fresh.versions.current,
      fresh.versions.previous,
      ...fresh.versions.pending,
    ].find((version) => version?.accessKeyId === accessKeyId);
    if (holder !== undefined) {
      kept.push(
        `${accessKeyId} (version ${holder.versionId} [${holder.stages.join(', ')}] holds it)`,
      );
      continue;
    }
    const key = fresh.keys.find((candidate) => candidate.accessKeyId === accessKeyId);
    if (key === undefined) continue;
    const foreign = notMadeFor(versionId, key.createDate);
    if (foreign !== undefined) {
      kept.push(`${accessKeyId} (${foreign})`);
      continue;
    }
    if (key.status === 'Active') {
      await step(`deactivate access key ${accessKeyId}`, () =>
        ignoreNoSuchEntity(() => iam.deactivateAccessKey(userName, accessKeyId)),
      );
    }
    await step(`delete access key ${accessKeyId}`, () =>
      ignoreNoSuchEntity(() => iam.deleteAccessKey(userName, accessKeyId)),
    );
    deleted.push(accessKeyId);
  }

  // A step killed between CreateAccessKey and PutSecretValue (the wait ends it) leaves a key no
  // version holds: one created since the cancelled version, held by no label, never used.
  const since = cancelled.map(
    (versionId) => versionsCreated.get(versionId)?.getTime() ?? Number.POSITIVE_INFINITY,
  );
  const cancelledSince = Math.min(...since);
  const state = await readSnapshot(deps, managed);
  const labelledKeys = new Set(
    [state.versions.current, state.versions.previous, ...state.versions.pending].map(
      (version) => version?.accessKeyId,
    ),
  );
  for (const key of state.keys) {
    if (labelledKeys.has(key.accessKeyId) || deleted.includes(key.accessKeyId)) continue;
    // IAM dates keys to the second.
    if (key.createDate.getTime() < Math.floor(cancelledSince / 1_000) * 1_000) continue;
    const lastUse = await iam.getAccessKeyLastUsed(userName, key.accessKeyId);
    if (lastUse.lastUsedDate !== undefined) continue;
    const accessKeyId = key.accessKeyId;
    if (key.status === 'Active') {
      await step(
        `deactivate access key ${accessKeyId} (made by the cancelled rotation, stored nowhere, never used)`,
        () => ignoreNoSuchEntity(() => iam.deactivateAccessKey(userName, accessKeyId)),
      );
    }
    await step(`delete access key ${accessKeyId}`, () =>
      ignoreNoSuchEntity(() => iam.deleteAccessKey(userName, accessKeyId)),
    );
    deleted.push(accessKeyId);
  }

  // 4. Verify: nothing of the rotation is left that could complete.
  const after = await readSnapshot(deps, managed);
  const labelsAfter = (await secrets.describe(secret.arn)).versionIdsToStages;
  const revived = cancelled.filter(
    (versionId) =>
      labelsAfter[versionId]?.includes(AWSPENDING) === true ||
      labelsAfter[versionId]?.includes(AWSCURRENT) === true,
  );
  const survivors = deleted.filter((accessKeyId) =>
    after.keys.some((key) => key.accessKeyId === accessKeyId),
  );
  if (revived.length > 0 || survivors.length > 0) {
    throw stoppedWith(
      `after the cancel ${revived.length > 0 ? `version ${revived.join(', ')} carries ${AWSPENDING} or ${AWSCURRENT} again` : `access key ${survivors.join(', ')} still exists`}; look with: iam-key-rotation status ${reference}`,
    );
  }
  if (kept.length > 0) io.stderr(`  kept access key ${kept.join('; ')}\n`);

  if (options.json === true) {
    io.stdout(
      `${JSON.stringify(
        {
          ...base,
          outcome: 'cancelled',
          cancelledVersionIds: cancelled,
          deletedAccessKeyIds: deleted,
          before: versionReports(before),
          after: versionReports(after),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout(
      `Cancelled the incomplete rotation of ${secret.name}${
        deleted.length === 0 ? '' : `; deleted access key ${deleted.join(', ')}`
      }. Start a new one when ready: iam-key-rotation rotate ${reference} --wait\n${versionLines(
        after.versions,
        after.keys,
        clock.now(),
      ).join('\n')}\n`,
    );
  }
  return EXIT_OK;
};

/**
 * The AccessKeyId the version holds, read by its id alone (its labels are gone): `undefined`
 * when it holds no value, no key, or a value that is not this user's (never deleted then).
 */
const keyOfVersion = async (
  deps: Pick<ChangeDependencies, 'secrets'>,
  secretArn: string,
  userName: string,
  versionId: string,
): Promise<string | undefined> => {
  const secretString = await deps.secrets.getSecretString(secretArn, { versionId });
  if (secretString === undefined) return undefined;
  try {
    const value = parseSecretValue(secretString, { secretId: secretArn, version: versionId });
    return value.userName === userName ? value.credentials?.accessKeyId : undefined;
  } catch (error) {
    if (error instanceof InvalidSecretValueError) return undefined;
    throw error;
  }
};
