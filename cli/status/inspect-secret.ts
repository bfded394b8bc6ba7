import { errorName } from '../../lambda/aws/aws-error.js';
import type { AccessKeyMetadata, AccessKeyStore } from '../../lambda/aws/iam-access-key-store.js';
import { AWSCURRENT, AWSPREVIOUS } from '../../lambda/aws/secrets-manager-secret-store.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import type {
  OperatorSecretStore,
  SecretDescription,
  SecretVersionInfo,
} from '../aws/operator-secret-store.js';
import type { Clock } from '../dependencies.js';
import { formatRelative, formatSpan } from '../format.js';
import type { ManagedSecret } from '../secret-ref.js';
import { pendingVersionIds, versionsWithStage } from '../secret-state.js';
import { readCurrentKey } from './current-key.js';
import type { KeyStatus, StatusRow, Verdict } from './status-row.js';
import { describeLastUse } from './status-table.js';

export interface InspectDependencies {
  readonly secrets: OperatorSecretStore;
  readonly iam: AccessKeyStore;
  readonly clock: Pick<Clock, 'now'>;
}

const iso = (date: Date | undefined): string | undefined => date?.toISOString();

const keyStatus = async (
  iam: AccessKeyStore,
  userName: string,
  accessKeyId: string | undefined,
  keys: readonly AccessKeyMetadata[],
  now: number,
): Promise<KeyStatus | undefined> => {
  if (accessKeyId === undefined) return undefined;
  const key = keys.find((candidate) => candidate.accessKeyId === accessKeyId);
  if (key === undefined) return { accessKeyId, status: 'deleted' };
  const lastUse = await iam.getAccessKeyLastUsed(userName, accessKeyId);
  return {
    accessKeyId,
    status: key.status,
    createDate: key.createDate.toISOString(),
    ageSeconds: Math.floor((now - key.createDate.getTime()) / 1000),
    lastUsed: {
      ...(lastUse.lastUsedDate === undefined ? {} : { date: lastUse.lastUsedDate.toISOString() }),
      ...(lastUse.serviceName === undefined ? {} : { serviceName: lastUse.serviceName }),
      ...(lastUse.region === undefined ? {} : { region: lastUse.region }),
    },
  };
};

/**
 * When AWSCURRENT moved to its version, as far as the dates tell, or undefined when they do not:
 * - AWSCURRENT's version is newer than AWSPREVIOUS's (a rotation, or a rollback that puts the
 *   previous value as a new version): when that version was created (ListSecretVersionIds'
 *   CreatedDate; finishSecret moves AWSCURRENT within one rotation's length after it);
 * - AWSCURRENT's version is older (AWSCURRENT was moved back by hand or by an older release's
 *   rollback): only DescribeSecret's LastChangedDate, if later than the AWSPREVIOUS version,
 *   bounds the move.
 * Not the current key's creation date: after a rollback that key is older than the key rolled
 * back from, whose use before the rollback is no problem.
 */
export const whenCurrentMoved = (
  secret: SecretDescription,
  listed: readonly SecretVersionInfo[],
): Date | undefined => {
  const created = (versionId: string | undefined): Date | undefined =>
    listed.find((version) => version.versionId === versionId)?.createdDate;
  const current = created(versionsWithStage(secret, AWSCURRENT)[0]);
  const previous = created(versionsWithStage(secret, AWSPREVIOUS)[0]);
  if (current === undefined) return undefined;
  if (previous !== undefined && previous.getTime() > current.getTime()) {
    const changed = secret.lastChangedDate;
    return changed !== undefined && changed.getTime() > previous.getTime() ? changed : undefined;
  }
  return current;
};

/**
 * Reads one managed secret and judges it, without GetSecretValue when the function's tag
 * `iam-key-rotation:current-key` names the AWSCURRENT version (see readCurrentKey). The
 * previous key is the user's other access key (a user holds at most two), when no rotation is
 * pending.
 */
export const inspectSecret = async (
  deps: InspectDependencies,
  managed: ManagedSecret,
  stuckAfterMs: number,
): Promise<StatusRow> => {
  const { description: secret, userName, reference } = managed;
  const now = deps.clock.now();
  const [current, listed, user, keys] = await Promise.all([
    readCurrentKey(deps.secrets, secret, userName),
    deps.secrets.listVersions(secret.arn),
    deps.iam.getUser(userName).catch((error: unknown) => {
      if (errorName(error) === 'NoSuchEntityException') return undefined;
      throw error;
    }),
    deps.iam.listAccessKeys(userName).catch((error: unknown) => {
      if (errorName(error) === 'NoSuchEntityException') return [];
      throw error;
    }),
  ]);
  const verdicts: Verdict[] = [];
  const notes: string[] = [];
  const problem = (verdict: Verdict, note: string): void => {
    if (!verdicts.includes(verdict)) verdicts.push(verdict);
    notes.push(`${reference}: ${verdict}: ${note}`);
  };

  const pendingVersionId = pendingVersionIds(secret)[0];
  const currentKeyId = current.version?.accessKeyId;
  const otherKeys = keys.filter((key) => key.accessKeyId !== currentKeyId);
  const previousKeyId =
    pendingVersionId === undefined && currentKeyId !== undefined && otherKeys.length === 1
      ? otherKeys[0]?.accessKeyId
      : undefined;
  const [currentKey, previousKey] = await Promise.all([
    keyStatus(deps.iam, userName, currentKeyId, keys, now),
    keyStatus(deps.iam, userName, previousKeyId, keys, now),
  ]);

  // Ownership: the function refuses every step unless the user's tag names this secret.
  const ownerTag = user?.tags[OWNER_TAG_KEY];
  if (user === undefined) {
    problem('error', `IAM user ${userName} (the secret's ${BINDING_TAG_KEY} tag) does not exist`);
  } else if (ownerTag !== secret.arn) {
    problem(
      'ownership mismatch',
      ownerTag === undefined
        ? `IAM user ${userName} has no tag ${OWNER_TAG_KEY}, so the function refuses to rotate through ${secret.arn}. Deploy the stack again (it sets the tag)`
        : `IAM user ${userName} is owned by secret ${ownerTag} (its tag ${OWNER_TAG_KEY}), not by ${secret.arn}, so the function refuses to rotate through this secret. See "Move a user to another secret" in the README`,
    );
  }

  if (current.version?.problem !== undefined) problem('error', current.version.problem);
  if (current.unknown !== undefined) {
    problem(
      'current key unknown',
      `${current.tagProblem ?? 'tag absent'}, and ${current.unknown}. The function records the tag whenever ${AWSCURRENT} moves; the next rotation restores it (iam-key-rotation rotate ${reference} --wait), or run status with credentials that may read the secret`,
    );
  } else if (
    current.tagProblem !== undefined &&
    !(current.version?.accessKeyId === undefined && current.tagProblem.startsWith('tag absent'))
  ) {
    // Not a problem by itself (the value told), but the tag should have been there.
    notes.push(
      `${reference}: current key unknown: ${current.tagProblem}; read it from the ${AWSCURRENT} value instead (GetSecretValue)`,
    );
  }

  // A rotation in progress, or failing and retried, or left behind.
  let pending: StatusRow['pending'];
  if (pendingVersionId !== undefined) {
    const createdDate = listed.find((v) => v.versionId === pendingVersionId)?.createdDate;
    const ageMs = createdDate === undefined ? undefined : now - createdDate.getTime();
    pending = {
      versionId: pendingVersionId,
      ...(createdDate === undefined ? {} : { createdDate: createdDate.toISOString() }),
      ...(ageMs === undefined ? {} : { ageSeconds: Math.floor(ageMs / 1000) }),
    };
    if (ageMs !== undefined && ageMs > stuckAfterMs) {
      problem(
        'stuck',
        `AWSPENDING has been on version ${pendingVersionId} for ${formatSpan(ageMs)}, longer than a rotation takes (${formatSpan(stuckAfterMs)}): it is failing and being retried, or was left behind. Its errors are in the rotation function's log group (search for the version id). Give it up: iam-key-rotation cancel ${reference}`,
      );
    } else if (!verdicts.includes('rotating')) {
      verdicts.push('rotating');
    }
  }

  if (current.version !== undefined && current.version.problem === undefined) {
    if (current.version.accessKeyId === undefined) {
      if (pendingVersionId === undefined) {
        problem(
          'no key yet',
          `AWSCURRENT holds no access key ({"UserName"} only): the first rotation has not run or failed. Start it and watch it: iam-key-rotation rotate ${reference} --wait`,
        );
      }
    } else if (currentKey !== undefined && currentKey.status !== 'Active') {
      problem(
        'current key not active',
        `AWSCURRENT holds access key ${currentKey.accessKeyId}, which is ${currentKey.status}: whoever reads the secret gets a key that does not work. Go back to the previous key: iam-key-rotation rollback ${reference}, or make a new one: iam-key-rotation rotate ${reference} --wait`,
      );
    }
  }

  if (!secret.rotationEnabled) {
    problem(
      'rotation disabled',
      `rotation of ${secret.arn} is not enabled, so it is never rotated on schedule. Deploy the stack again to restore its rotation schedule`,
    );
  } else if (
    secret.nextRotationDate !== undefined &&
    secret.nextRotationDate.getTime() < now &&
    pendingVersionId === undefined
  ) {
    problem(
      'overdue',
      `its next rotation was due ${formatRelative(secret.nextRotationDate, now)}. Rotate it now: iam-key-rotation rotate ${reference} --wait`,
    );
  }

  // The previous key signing after AWSCURRENT moved, beyond one rotation's length (consumers
  // read the new key once finishSecret has moved the label).
  const movedAt = whenCurrentMoved(secret, listed);
  const previousUse = previousKey?.lastUsed?.date;
  if (
    previousKey !== undefined &&
    currentKey !== undefined &&
    previousUse !== undefined &&
    movedAt !== undefined &&
    new Date(previousUse).getTime() > movedAt.getTime() + stuckAfterMs
  ) {
    problem(
      'old key still used',
      `the previous access key ${previousKey.accessKeyId} (${previousKey.status}) signed a request ${describeLastUse(previousKey.lastUsed, now)}, after ${AWSCURRENT} moved to access key ${currentKey.accessKeyId} (${formatRelative(movedAt, now)}): some consumer still has the old key. Point it at the secret's ${AWSCURRENT}; the next rotation deletes ${previousKey.accessKeyId}`,
    );
  }

  const previousVersionId = versionsWithStage(secret, AWSPREVIOUS)[0];
  return {
    secretName: secret.name,
    secretArn: secret.arn,
    userName,
    reference,
    rotationEnabled: secret.rotationEnabled,
    ...(secret.lastRotatedDate === undefined
      ? {}
      : { lastRotatedDate: iso(secret.lastRotatedDate) }),
    ...(secret.nextRotationDate === undefined
      ? {}
      : { nextRotationDate: iso(secret.nextRotationDate) }),
    ...(current.versionId === undefined ? {} : { currentVersionId: current.versionId }),
    ...(currentKey === undefined ? {} : { currentKey }),
    ...(current.source === undefined ? {} : { currentKeySource: current.source }),
    ...(movedAt === undefined ? {} : { currentSince: movedAt.toISOString() }),
    ...(previousVersionId === undefined ? {} : { previousVersionId }),
    ...(previousKey === undefined ? {} : { previousKey }),
    ...(pending === undefined ? {} : { pending }),
    ...(ownerTag === undefined ? {} : { ownerTag }),
    verdicts: verdicts.length === 0 ? ['ok'] : verdicts,
    notes,
  };
};
