import { errorName } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationGivenUpError } from '../errors.js';
import { keyMadeForVersion } from './key-lineage.js';
import { removeAccessKey } from './key-removal.js';
import { readSecretValue, type StepContext } from './step-context.js';

/** The AccessKeyIds AWSCURRENT and AWSPREVIOUS hold; `undefined` when one cannot be read. */
const keysHeldByOtherVersions = async (
  context: StepContext,
): Promise<ReadonlySet<string> | undefined> => {
  try {
    const held = new Set<string>();
    for (const versionStage of [AWSCURRENT, AWSPREVIOUS] as const) {
      const id = (await readSecretValue(context, { versionStage }))?.credentials?.accessKeyId;
      if (id !== undefined) held.add(id);
    }
    return held;
  } catch {
    return undefined;
  }
};

/**
 * Why the pending key must stay although no labelled version holds it, or `undefined` when it
 * was made for the token's version (IAM lists it, created no earlier than the version: see
 * {@link keyMadeForVersion}). Whoever may put a value into AWSPENDING can name any key of the
 * user there, one in use included; only a key created for this version is this rotation's to
 * delete. A key IAM does not list (gone, or too new to be listed yet) is kept too.
 */
const notMadeForTokenVersion = async (
  context: StepContext,
  accessKeyId: string,
): Promise<string | undefined> => {
  const { services, event, userName } = context;
  const key = (await services.iam.listAccessKeys(userName)).find(
    (candidate) => candidate.accessKeyId === accessKeyId,
  );
  if (key === undefined) return 'IAM does not list it';
  const version = (
    await services.secrets.listVersions(event.SecretId, { includeDeprecated: true })
  ).find((candidate) => candidate.versionId === event.ClientRequestToken);
  if (version?.createdDate !== undefined && keyMadeForVersion(key.createDate, version.createdDate))
    return undefined;
  return `created ${key.createDate.toISOString()}, before version ${event.ClientRequestToken}: not made by this rotation (a value put by hand names it)`;
};

/**
 * Removes AWSPENDING from the token's version, so the next RotateSecret can start a fresh
 * rotation. Idempotent: a label already gone is fine.
 */
export const removePendingLabel = async (context: StepContext): Promise<void> => {
  const { event, services } = context;
  try {
    await services.secrets.moveStage({
      secretId: event.SecretId,
      versionStage: AWSPENDING,
      removeFromVersionId: event.ClientRequestToken,
    });
  } catch (error) {
    // Someone removed it in the meantime (Secrets Manager answers InvalidParameterException).
    if (errorName(error) !== 'InvalidParameterException') throw error;
  }
};

/**
 * Gives the rotation up cleanly when its pending key can never become current: deletes that key
 * (deactivating it first; unless another version holds it, it was not made for the token's
 * version, or it is not the bound user's, which IAM then refuses as NoSuchEntity), removes AWSPENDING from the token's version and fails, so
 * that the next rotation starts fresh instead of being refused as incomplete.
 */
export const giveUpRotation = async (
  context: StepContext,
  pendingKey: { readonly accessKeyId: string; readonly status?: string } | undefined,
  why: string,
): Promise<never> => {
  const { event, log } = context;
  let deleted = 'no key to delete';
  if (pendingKey !== undefined) {
    const { accessKeyId } = pendingKey;
    const held = await keysHeldByOtherVersions(context);
    const keep =
      held === undefined
        ? 'AWSCURRENT or AWSPREVIOUS could not be read'
        : held.has(accessKeyId)
          ? 'another version holds it'
          : await notMadeForTokenVersion(context, accessKeyId);
    if (keep !== undefined) {
      deleted = `kept access key ${accessKeyId} (${keep})`;
    } else {
      await removeAccessKey(context, pendingKey, undefined, 'the rotation was given up');
      deleted = `deleted access key ${accessKeyId}`;
    }
  }
  await removePendingLabel(context);
  const message = `${event.Step}: gave up this rotation: ${why}. ${deleted[0]?.toUpperCase() ?? ''}${deleted.slice(1)} and removed ${AWSPENDING} from version ${event.ClientRequestToken}, so the next rotation starts fresh (aws secretsmanager rotate-secret --secret-id ${context.secret.arn})`;
  log.warn(`${event.Step}: gave up the rotation`, { accessKeyId: pendingKey?.accessKeyId, why });
  throw new RotationGivenUpError(message);
};
