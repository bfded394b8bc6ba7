import { errorName } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationGivenUpError } from '../errors.js';
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
 * (deactivating it first; unless another version holds it or it is not the bound user's, which
 * IAM then refuses as NoSuchEntity), removes AWSPENDING from the token's version and fails, so
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
    const held = await keysHeldByOtherVersions(context);
    if (held === undefined || held.has(pendingKey.accessKeyId)) {
      deleted = `kept access key ${pendingKey.accessKeyId} (${held === undefined ? 'AWSCURRENT or AWSPREVIOUS could not be read' : 'another version holds it'})`;
    } else {
      await removeAccessKey(context, pendingKey, undefined, 'the rotation was given up');
      deleted = `deleted access key ${pendingKey.accessKeyId}`;
    }
  }
  await removePendingLabel(context);
  const message = `${event.Step}: gave up this rotation: ${why}. ${deleted[0]?.toUpperCase() ?? ''}${deleted.slice(1)} and removed ${AWSPENDING} from version ${event.ClientRequestToken}, so the next rotation starts fresh (aws secretsmanager rotate-secret --secret-id ${context.secret.arn})`;
  log.warn(`${event.Step}: gave up the rotation`, { accessKeyId: pendingKey?.accessKeyId, why });
  throw new RotationGivenUpError(message);
};
