import { ignoreNoSuchEntity } from '../../lambda/aws/aws-error.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
} from '../../lambda/aws/secrets-manager-secret-store.js';
import { confirmChange, requireOwnership } from '../confirmation.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import { shortVersionId } from '../format.js';
import { describeManagedSecret } from '../secret-ref.js';
import { versionLines } from '../secret-state.js';
import {
  readSnapshot,
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

/**
 * `iam-key-rotation cancel <secret>`: gives up an incomplete rotation, as the function does when
 * it gives one up. For each version that carries AWSPENDING but not AWSCURRENT: removes the label
 * (a rotation still running then stops at its next step), then deactivates and deletes the key
 * that version holds, unless AWSCURRENT or AWSPREVIOUS holds it too. Nothing to cancel: says so
 * and succeeds.
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
  const plans = pending.map((version): KeyPlan => {
    const accessKeyId = version.accessKeyId;
    if (version.problem !== undefined || accessKeyId === undefined) return { kind: 'none' };
    const holder = heldElsewhere.get(accessKeyId);
    if (holder !== undefined) return { kind: 'keep', accessKeyId, why: `${holder} holds it` };
    const key = before.keys.find((candidate) => candidate.accessKeyId === accessKeyId);
    if (key === undefined) return { kind: 'gone', accessKeyId };
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
  const step = async (what: string, action: () => Promise<unknown>): Promise<void> => {
    try {
      await action();
    } catch (error) {
      throw new CliError(
        `Cancel of ${secret.name} stopped: could not ${what}: ${describeFailure(error)}. ${
          done.length === 0 ? 'Nothing was changed' : `Done before: ${done.join('; ')}`
        }. Running the same command again continues: iam-key-rotation cancel ${reference}`,
        1,
        { cause: error },
      );
    }
    done.push(what);
    io.stderr(`  done: ${what}\n`);
  };
  const deleted: string[] = [];
  for (const [index, version] of pending.entries()) {
    await step(`remove ${AWSPENDING} from version ${shortVersionId(version.versionId)}`, () =>
      secrets.moveStage({
        secretId: secret.arn,
        versionStage: AWSPENDING,
        removeFromVersionId: version.versionId,
      }),
    );
    const plan = plans[index];
    if (plan?.kind !== 'delete') continue;
    if (plan.status === 'Active') {
      await step(`deactivate access key ${plan.accessKeyId}`, () =>
        ignoreNoSuchEntity(() => iam.deactivateAccessKey(userName, plan.accessKeyId)),
      );
    }
    await step(`delete access key ${plan.accessKeyId}`, () =>
      ignoreNoSuchEntity(() => iam.deleteAccessKey(userName, plan.accessKeyId)),
    );
    deleted.push(plan.accessKeyId);
  }

  const after = await readSnapshot(deps, managed);
  if (options.json === true) {
    io.stdout(
      `${JSON.stringify(
        {
          ...base,
          outcome: 'cancelled',
          cancelledVersionIds: pending.map((version) => version.versionId),
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
