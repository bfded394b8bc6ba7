import { describe, expect, it } from 'vitest';
import { deriveSesSmtpPassword } from '../../../lambda/rotation/ses-smtp-password.js';

/**
 * Fixed vectors, computed once (2026-11-28) with a python3 snippet written after AWS's published
 * example script for SES SMTP credentials (the SES developer guide's "Obtaining Amazon SES SMTP
 * credentials by converting existing AWS credentials", smtp_credentials_generate.py): hmac.new
 * with SHA-256, key ("AWS4" + secret) over "11111111", then the region, "ses", "aws4_request" and
 * "SendRawEmail", each keyed with the previous digest; bytes([0x04]) + digest; base64. The
 * secrets are made-up example values, never real keys.
 */
const VECTORS = [
  {
    secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    region: 'us-east-1',
    password: 'BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9',
  },
  {
    secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    region: 'eu-west-1',
    password: 'BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk',
  },
  {
    secret: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
    region: 'ap-southeast-2',
    password: 'BIa04dZnNaMvcd/dP0eof4MyrdQ3PC1hCZReUcrTRTJX',
  },
  {
    secret: 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/Ab',
    region: 'us-gov-west-1',
    password: 'BMvoZx2vem5INmHTEU7JtHO85JfhI7fozBiBp2OtmbV9',
  },
] as const;

describe('Function: deriveSesSmtpPassword', () => {
  it.each(VECTORS)(
    'derives the password AWS’s example script gives for $region',
    ({ secret, region, password }) => {
      expect(deriveSesSmtpPassword(secret, region)).toBe(password);
    },
  );

  it('starts every password with the version byte 0x04 and holds 33 bytes', () => {
    const bytes = Buffer.from(deriveSesSmtpPassword('any-secret', 'eu-central-1'), 'base64');
    expect(bytes).toHaveLength(33);
    expect(bytes[0]).toBe(0x04);
  });

  it.each(['', 'EU-WEST-1', 'eu-west', 'eu_west_1', 'eu-west-1 ', 'mars-1'])(
    'fails when the region is %j, naming what was expected and not the key',
    (region) => {
      const attempt = (): string => deriveSesSmtpPassword('secret-that-must-not-show', region);
      expect(attempt).toThrow('expected an AWS region name like "eu-west-1"');
      expect(attempt).not.toThrow('secret-that-must-not-show');
    },
  );
});
