import { describeType } from '../describe-type.js';
import { InvalidSecretValueError } from '../errors.js';
import { MAX_GRACE_PERIOD_SECONDS } from '../settings.js';
import { AccessKeyCredentials } from './access-key-credentials.js';
import { AWS_REGION_PATTERN } from './ses-smtp-password.js';
import { SesSmtpCredentials } from './ses-smtp-credentials.js';

/**
 * The JSON document stored in each secret version:
 * `{"UserName": "...", "AccessKeyId": "AKIA...", "SecretAccessKey": "..."}`.
 * Before the first rotation the secret holds only `{"UserName": "..."}`. A secret with SES SMTP
 * regions also holds `"SmtpUsername"` (the access key id) and `"SmtpPasswords"`
 * (`{"<region>": "<password>"}`).
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
  /**
   * `GracePeriodSeconds`: the grace period in force when createSecret stored this key. The
   * retirement of the key this one replaces never comes earlier than this long after the
   * version was created, whatever its event says (see retire-previous-key.ts).
   */
  readonly gracePeriodSeconds?: number;
  /** `SmtpUsername` and `SmtpPasswords`: the key's SES SMTP credentials, when stored. */
  readonly smtp?: SesSmtpCredentials;
}

/** IAM's AccessKeyId pattern: `[\w]+`, 16 to 128 characters. */
const ACCESS_KEY_ID_PATTERN = /^\w{16,128}$/;

/** An SES SMTP password: base64 of the version byte and a SHA-256 HMAC (33 bytes). */
const SMTP_PASSWORD_PATTERN = /^[A-Za-z0-9+/]{44}$/;

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
  const grace = fields.GracePeriodSeconds;
  if (
    grace !== undefined &&
    (typeof grace !== 'number' ||
      !Number.isInteger(grace) ||
      grace < 1 ||
      grace > MAX_GRACE_PERIOD_SECONDS)
  ) {
    throw new InvalidSecretValueError(
      `${prefix}: field GracePeriodSeconds must be a whole number of seconds from 1 to ${String(MAX_GRACE_PERIOD_SECONDS)} when present, got ${
        typeof grace === 'number' ? 'another number' : describeType(grace)
      }`,
    );
  }
  const lineage = {
    ...(replaces === undefined ? {} : { replacesVersionId: replaces }),
    ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
  };
  if (accessKeyId === undefined && secretAccessKey === undefined) {
    if (fields.SmtpUsername !== undefined || fields.SmtpPasswords !== undefined) {
      throw new InvalidSecretValueError(
        `${prefix}: fields SmtpUsername and SmtpPasswords are set without an access key; expected them only beside AccessKeyId and SecretAccessKey`,
      );
    }
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
  const smtp = parseSmtpFields(fields, accessKeyId, prefix);
  return {
    userName,
    credentials: new AccessKeyCredentials(accessKeyId, secretAccessKey),
    ...lineage,
    ...(smtp === undefined ? {} : { smtp }),
  };
};

/**
 * `SmtpUsername` and `SmtpPasswords`: both or neither; the user name is the access key id, the
 * passwords a non-empty object of region names to SES SMTP passwords. Errors name the field and
 * the region, never a value.
 */
const parseSmtpFields = (
  fields: Record<string, unknown>,
  accessKeyId: string,
  prefix: string,
): SesSmtpCredentials | undefined => {
  const { SmtpUsername: username, SmtpPasswords: passwords } = fields;
  if (username === undefined && passwords === undefined) return undefined;
  if (username !== accessKeyId) {
    throw new InvalidSecretValueError(
      `${prefix}: field SmtpUsername must equal AccessKeyId when SmtpPasswords is set (the SES SMTP user name is the access key id), got ${
        typeof username === 'string' ? 'another string' : describeType(username)
      }`,
    );
  }
  const entries =
    typeof passwords === 'object' && passwords !== null && !Array.isArray(passwords)
      ? Object.entries(passwords as Record<string, unknown>)
      : [];
  if (entries.length === 0) {
    throw new InvalidSecretValueError(
      `${prefix}: field SmtpPasswords must be a non-empty JSON object of region names to SES SMTP passwords when SmtpUsername is set, got ${describeType(passwords)}`,
    );
  }
  const byRegion = new Map<string, string>();
  entries.forEach(([region, password], index) => {
    if (
      !AWS_REGION_PATTERN.test(region) ||
      typeof password !== 'string' ||
      !SMTP_PASSWORD_PATTERN.test(password)
    ) {
      throw new InvalidSecretValueError(
        `${prefix}: field SmtpPasswords entry ${index + 1} must be an AWS region name and an SES SMTP password (44 base64 characters), got a ${typeof password} for ${
          AWS_REGION_PATTERN.test(region) ? region : 'a key that is no region name'
        }`,
      );
    }
    byRegion.set(region, password);
  });
  return new SesSmtpCredentials(username, byRegion);
};

export const serializeSecretValue = (
  userName: string,
  credentials: AccessKeyCredentials,
  replacesVersionId?: string,
  smtp?: SesSmtpCredentials,
  gracePeriodSeconds?: number,
): string =>
  JSON.stringify({
    UserName: userName,
    ...credentials.toSecretFields(),
    ...(smtp === undefined ? {} : smtp.toSecretFields()),
    ...(replacesVersionId === undefined ? {} : { ReplacesVersionId: replacesVersionId }),
    ...(gracePeriodSeconds === undefined ? {} : { GracePeriodSeconds: gracePeriodSeconds }),
  });

/** The fields a rotation adds to record where a value came from: not part of the key itself. */
export const LINEAGE_FIELDS = ['ReplacesVersionId', 'GracePeriodSeconds'] as const;
