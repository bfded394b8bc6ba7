import type { SecretMetadata } from '../aws/secrets-manager-secret-store.js';
import { InvalidSecretTagError } from '../errors.js';
import { BINDING_TAG_KEY, SES_SMTP_TEST_TAG_KEY } from './binding.js';
import { AWS_REGION_PATTERN } from './ses-smtp-password.js';

/**
 * The secret's tag that lists, separated by spaces, the regions whose SES SMTP password the
 * secret's value holds (`"eu-west-1 us-east-1"`). Set by the stack from `sesSmtpRegions`.
 */
export const SES_SMTP_REGIONS_TAG_KEY = 'iam-key-rotation:ses-smtp-regions';

export { SES_SMTP_TEST_TAG_KEY };

/** Longest tag value Secrets Manager accepts. */
export const MAX_TAG_VALUE_LENGTH = 256;

/** What the secret's SES SMTP tags ask of the rotation. */
export interface SesSmtpSettings {
  /** The regions whose SMTP password the value holds, in tag order, without duplicates. */
  readonly regions: readonly string[];
  /** Whether testSecret logs in to each region's SMTP endpoint. */
  readonly test: boolean;
}

/**
 * The secret's SES SMTP settings from its tags, or `undefined` when it has none (a secret
 * without SMTP fields: today's value and calls). DescribeSecret, which every step makes, returns
 * the tags: reading them costs no call.
 *
 * @throws InvalidSecretTagError naming the tag, what was expected and the value found (tags are
 *   not secret), before the step changes anything
 */
export const parseSesSmtpSettings = (secret: SecretMetadata): SesSmtpSettings | undefined => {
  const rawRegions = secret.tags[SES_SMTP_REGIONS_TAG_KEY];
  const rawTest = secret.tags[SES_SMTP_TEST_TAG_KEY];
  const fail = (tag: string, expected: string, raw: string | undefined): never => {
    throw new InvalidSecretTagError(
      `Secret ${secret.arn} tag ${tag} must be ${expected}, got ${raw === undefined ? 'no tag' : JSON.stringify(raw.slice(0, 80))}; fix sesSmtpRegions and sesSmtpTest of user ${secret.tags[BINDING_TAG_KEY] ?? '?'} in the configuration and deploy again. Nothing was changed`,
    );
  };
  if (rawRegions === undefined) {
    return rawTest === undefined
      ? undefined
      : fail(SES_SMTP_REGIONS_TAG_KEY, `set when ${SES_SMTP_TEST_TAG_KEY} is`, rawRegions);
  }
  const regions = rawRegions.split(' ');
  if (
    !regions.every(
      (region, index) => AWS_REGION_PATTERN.test(region) && regions.indexOf(region) === index,
    )
  ) {
    fail(
      SES_SMTP_REGIONS_TAG_KEY,
      'distinct AWS region names separated by single spaces, like "eu-west-1 us-east-1"',
      rawRegions,
    );
  }
  if (rawTest !== undefined && rawTest !== 'true' && rawTest !== 'false') {
    fail(SES_SMTP_TEST_TAG_KEY, '"true" or "false"', rawTest);
  }
  return { regions, test: rawTest === 'true' };
};
