import { createHmac } from 'node:crypto';

/**
 * An AWS region name as SES SMTP endpoints use it (`eu-west-1`, `us-gov-west-1`, `cn-north-1`):
 * two letters, an optional `-gov` or `-iso*` partition marker, a direction, a number.
 */
export const AWS_REGION_PATTERN = /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;

/** The fixed inputs of AWS's SMTP password derivation (a SigV4 signing key for a fixed date). */
const SMTP_DATE = '11111111';
const SMTP_SERVICE = 'ses';
const SMTP_TERMINAL = 'aws4_request';
const SMTP_MESSAGE = 'SendRawEmail';
/** The version byte that prefixes the signature: 0x04 for region-specific SigV4 passwords. */
const SMTP_PASSWORD_VERSION = 0x04;

const sign = (key: string | Buffer, text: string): Buffer =>
  createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * The Amazon SES SMTP password of an IAM secret access key in one region, by AWS's published
 * algorithm: HMAC-SHA256 keyed with `"AWS4" + secret` over `"11111111"`, then the region, `"ses"`,
 * `"aws4_request"` and `"SendRawEmail"`, each keyed with the previous result; the version byte
 * 0x04 before the last signature; base64. The SMTP user name is the access key id.
 *
 * @throws Error when `region` is not an AWS region name (the message quotes the region, never
 *   the key)
 */
export const deriveSesSmtpPassword = (secretAccessKey: string, region: string): string => {
  if (!AWS_REGION_PATTERN.test(region)) {
    throw new Error(
      `expected an AWS region name like "eu-west-1", got ${JSON.stringify(region.slice(0, 40))}`,
    );
  }
  let signature = sign(`AWS4${secretAccessKey}`, SMTP_DATE);
  for (const part of [region, SMTP_SERVICE, SMTP_TERMINAL, SMTP_MESSAGE]) {
    signature = sign(signature, part);
  }
  return Buffer.concat([Buffer.from([SMTP_PASSWORD_VERSION]), signature]).toString('base64');
};
