import { describeType } from '../describe-type.js';
import { InvalidSecretValueError } from '../errors.js';
import { AccessKeyCredentials } from './access-key-credentials.js';

/**
 * The JSON document stored in each secret version:
 * `{"UserName": "...", "AccessKeyId": "AKIA...", "SecretAccessKey": "..."}`.
 * Before the first rotation the secret holds only `{"UserName": "..."}`.
 */
export interface AccessKeySecretValue {
  readonly userName: string;
  readonly credentials?: AccessKeyCredentials;
  /**
   * `ReplacesVersionId`: the AWSCURRENT version createSecret found when it stored this key. A
   * rotation finishes only while AWSCURRENT is still there: if someone moved it meanwhile (a
   * rollback, a value put by hand), the rotation gives way instead of undoing that.
   */
  readonly replacesVersionId?: string;
}

/** IAM's AccessKeyId pattern: `[\w]+`, 16 to 128 characters. */
const ACCESS_KEY_ID_PATTERN = /^\w{16,128}$/;

/** A Secrets Manager version id (a ClientRequestToken): 32 to 64 characters. */
const VERSION_ID_PATTERN = /^[\w-]{1,64}$/;

/**
 * Parses a secret string. Errors name the secret, the version and the field, and never
 * include any part of the secret string (JSON.parse's own message quotes the input, so it is
 * deliberately not kept as the cause).
 */
export const parseSecretValue = (
  secretString: string | undefined,
  where: { secretId: string; version: string },
): AccessKeySecretValue => {
  const prefix = `Secret ${where.secretId} version ${where.version}`;
  if (secretString === undefined) {
    throw new InvalidSecretValueError(
      `${prefix} has no SecretString (binary secrets are not supported)`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(secretString);
  } catch {
    throw new InvalidSecretValueError(
      `${prefix}: SecretString is not valid JSON; expected {"UserName", "AccessKeyId", "SecretAccessKey"}`,
    );
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new InvalidSecretValueError(
      `${prefix}: SecretString must be a JSON object, got ${describeType(document)}`,
    );
  }
  const fields = document as Record<string, unknown>;
  const { UserName: userName, AccessKeyId: accessKeyId, SecretAccessKey: secretAccessKey } = fields;
  if (typeof userName !== 'string' || userName === '') {
    throw new InvalidSecretValueError(
      `${prefix}: field UserName must be a non-empty string, got ${describeType(userName)}`,
    );
  }
  const replaces = fields.ReplacesVersionId;
  if (
    replaces !== undefined &&
    (typeof replaces !== 'string' || !VERSION_ID_PATTERN.test(replaces))
  ) {
    throw new InvalidSecretValueError(
      `${prefix}: field ReplacesVersionId must be a secret version id (1-64 characters of letters, digits, _ and -) when present, got ${describeType(replaces)}`,
    );
  }
  const lineage = replaces === undefined ? {} : { replacesVersionId: replaces };
  if (accessKeyId === undefined && secretAccessKey === undefined) {
    return { userName, ...lineage };
  }
  if (typeof accessKeyId !== 'string' || !ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    throw new InvalidSecretValueError(
      `${prefix}: field AccessKeyId must be an IAM access key id (16-128 word characters) when SecretAccessKey is set, got ${
        typeof accessKeyId === 'string'
          ? `a string of length ${accessKeyId.length}`
          : describeType(accessKeyId)
      }`,
    );
  }
  if (typeof secretAccessKey !== 'string' || secretAccessKey === '') {
    throw new InvalidSecretValueError(
      `${prefix}: field SecretAccessKey must be a non-empty string when AccessKeyId is set, got ${describeType(secretAccessKey)}`,
    );
  }
  return {
    userName,
    credentials: new AccessKeyCredentials(accessKeyId, secretAccessKey),
    ...lineage,
  };
};

export const serializeSecretValue = (
  userName: string,
  credentials: AccessKeyCredentials,
  replacesVersionId?: string,
): string =>
  JSON.stringify({
    UserName: userName,
    ...credentials.toSecretFields(),
    ...(replacesVersionId === undefined ? {} : { ReplacesVersionId: replacesVersionId }),
  });
