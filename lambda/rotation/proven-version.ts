import type { SecretMetadata } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError } from '../errors.js';
import { TESTED_STAGE } from './binding.js';

/**
 * Whether testSecret proved the key of version `token`: the version carries the staging label
 * {@link TESTED_STAGE}, which only testSecret moves, and only onto a version whose pending key it
 * proved (STS, and the SMTP logins when asked). finishSecret promotes no other version.
 */
export const isProvenVersion = (secret: SecretMetadata, token: string): boolean =>
  secret.versionIdsToStages[token]?.includes(TESTED_STAGE) === true;

/** The version that carries {@link TESTED_STAGE} now, if any. */
export const provenVersionId = (secret: SecretMetadata): string | undefined =>
  Object.entries(secret.versionIdsToStages).find(([, stages]) =>
    stages.includes(TESTED_STAGE),
  )?.[0];

/**
 * finishSecret's first check of a version still AWSPENDING: it must be proven.
 *
 * @throws RotationStateError naming the secret, the version and why; nothing is changed
 */
export const requireProvenVersion = (secret: SecretMetadata, token: string): void => {
  if (isProvenVersion(secret, token)) return;
  throw new RotationStateError(
    `finishSecret: secret ${secret.arn} version ${token} does not carry the staging label ${TESTED_STAGE}: testSecret has not proved its key, and a version it did not prove is never promoted; refusing, nothing was changed. Secrets Manager runs testSecret before finishSecret: a finishSecret sent on its own changes nothing`,
  );
};
