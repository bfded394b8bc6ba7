/**
 * IAM dates a key to the second (CreateDate), Secrets Manager a version to the millisecond; a
 * second more allows for the two services' clocks.
 */
const KEY_CREATION_SLACK_MS = 1_000;

/**
 * True when an access key was created no earlier than a secret version: the way createSecret
 * makes a key for a version that RotateSecret created (valueless, AWSPENDING) before invoking
 * it. A value put by hand names a key that existed before its version (PutSecretValue creates
 * the version), so its key fails this test, unless that key was made within the slack before
 * the value was put. Neither date can be set by any principal.
 */
export const keyMadeForVersion = (keyCreated: Date, versionCreated: Date): boolean =>
  keyCreated.getTime() >=
  Math.floor(versionCreated.getTime() / 1_000) * 1_000 - KEY_CREATION_SLACK_MS;
