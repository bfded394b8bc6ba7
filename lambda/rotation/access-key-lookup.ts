import type { AccessKeyMetadata } from '../aws/iam-access-key-store.js';
import { RotationError } from '../errors.js';
import type { StepContext } from './step-context.js';

/**
 * Waits before ListAccessKeys is asked again about a key it did not list. IAM is eventually
 * consistent: a key created moments ago can be missing from a listing for a while, so one
 * listing is not proof that the key was deleted.
 */
export const ABSENCE_CONFIRMATION_DELAYS_MS: readonly number[] = [1_000, 3_000];

export interface PendingKeyLookup {
  /** The key, or undefined when it stayed missing from every listing (deleted). */
  readonly key: AccessKeyMetadata | undefined;
  /** The user's keys as last listed. */
  readonly keys: readonly AccessKeyMetadata[];
}

/**
 * Finds the user's key `accessKeyId`, listing again after {@link ABSENCE_CONFIRMATION_DELAYS_MS}
 * while it is missing. Only a key missing from every listing counts as deleted.
 *
 * @throws RotationError when the step's deadline leaves no time to confirm the absence
 */
export const findAccessKey = async (
  context: StepContext,
  accessKeyId: string,
  listed?: readonly AccessKeyMetadata[],
): Promise<PendingKeyLookup> => {
  const { services, userName, log, deadline } = context;
  let keys = listed ?? (await services.iam.listAccessKeys(userName));
  let key = keys.find((candidate) => candidate.accessKeyId === accessKeyId);
  for (const delay of ABSENCE_CONFIRMATION_DELAYS_MS) {
    if (key !== undefined) break;
    if (services.clock.now() + delay > deadline) {
      throw new RotationError(
        `${context.event.Step}: access key ${accessKeyId} is missing from ListAccessKeys of IAM user ${userName}, and the deadline leaves no time to confirm that it was deleted (IAM listings can lag); the rotation will be retried`,
      );
    }
    log.info(`${context.event.Step}: access key not listed yet; listing again to confirm`, {
      accessKeyId,
      retryInMs: delay,
    });
    await services.clock.sleep(delay);
    keys = await services.iam.listAccessKeys(userName);
    key = keys.find((candidate) => candidate.accessKeyId === accessKeyId);
  }
  return { key, keys };
};
