import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidSecretValueError } from '../../../lambda/errors.js';
import { AccessKeyCredentials } from '../../../lambda/rotation/access-key-credentials.js';
import { SesSmtpCredentials } from '../../../lambda/rotation/ses-smtp-credentials.js';
import { deriveSesSmtpPassword } from '../../../lambda/rotation/ses-smtp-password.js';
import { parseSecretValue, serializeSecretValue } from '../../../lambda/rotation/secret-value.js';

const WHERE = { secretId: 'iam-key-rotation/mailer', version: 'AWSCURRENT' };
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EU = deriveSesSmtpPassword(SECRET, 'eu-west-1');

const value = (fields: Record<string, unknown>): string =>
  JSON.stringify({ UserName: 'mailer', AccessKeyId: KEY_ID, SecretAccessKey: SECRET, ...fields });

describe('Function: parseSecretValue, SES SMTP fields', () => {
  it('reads SmtpUsername and SmtpPasswords, keeping the passwords out of JSON and inspect', () => {
    const parsed = parseSecretValue(
      value({ SmtpUsername: KEY_ID, SmtpPasswords: { 'eu-west-1': EU } }),
      WHERE,
    );
    expect(parsed.smtp?.username).toBe(KEY_ID);
    expect(parsed.smtp?.regions).toEqual(['eu-west-1']);
    expect(parsed.smtp?.password('eu-west-1')).toBe(EU);
    expect(JSON.stringify(parsed)).not.toContain(EU);
    expect(inspect(parsed, { depth: 5 })).not.toContain(EU);
    expect(String(parsed.smtp)).not.toContain(EU);
  });

  it('reads a value without them as before', () => {
    expect(parseSecretValue(value({}), WHERE).smtp).toBeUndefined();
  });

  it.each([
    [
      { SmtpUsername: KEY_ID },
      'field SmtpPasswords must be a non-empty JSON object of region names to SES SMTP passwords when SmtpUsername is set, got undefined',
    ],
    [
      { SmtpPasswords: { 'eu-west-1': EU } },
      'field SmtpUsername must equal AccessKeyId when SmtpPasswords is set (the SES SMTP user name is the access key id), got undefined',
    ],
    [
      { SmtpUsername: 'AKIAOTHERKEY00000000', SmtpPasswords: { 'eu-west-1': EU } },
      'field SmtpUsername must equal AccessKeyId when SmtpPasswords is set (the SES SMTP user name is the access key id), got another string',
    ],
    [
      { SmtpUsername: KEY_ID, SmtpPasswords: [EU] },
      'field SmtpPasswords must be a non-empty JSON object of region names to SES SMTP passwords when SmtpUsername is set, got array',
    ],
    [
      { SmtpUsername: KEY_ID, SmtpPasswords: {} },
      'field SmtpPasswords must be a non-empty JSON object of region names to SES SMTP passwords when SmtpUsername is set, got object',
    ],
    [
      { SmtpUsername: KEY_ID, SmtpPasswords: { Ireland: EU } },
      'field SmtpPasswords entry 1 must be an AWS region name and an SES SMTP password (44 base64 characters), got a string for a key that is no region name',
    ],
    [
      { SmtpUsername: KEY_ID, SmtpPasswords: { 'eu-west-1': `${EU}x` } },
      'field SmtpPasswords entry 1 must be an AWS region name and an SES SMTP password (44 base64 characters), got a string for eu-west-1',
    ],
    [
      { SmtpUsername: KEY_ID, SmtpPasswords: { 'eu-west-1': 7 } },
      'field SmtpPasswords entry 1 must be an AWS region name and an SES SMTP password (44 base64 characters), got a number for eu-west-1',
    ],
  ])('fails on %j, naming the field and never a value', (fields, expected) => {
    const attempt = (): unknown => parseSecretValue(value(fields), WHERE);
    expect(attempt).toThrow(InvalidSecretValueError);
    expect(attempt).toThrow(`Secret iam-key-rotation/mailer version AWSCURRENT: ${expected}`);
    expect(attempt).not.toThrow(EU.slice(0, 20));
    expect(attempt).not.toThrow(SECRET);
  });

  it('fails when SMTP fields stand without an access key', () => {
    expect(() =>
      parseSecretValue(
        JSON.stringify({ UserName: 'mailer', SmtpUsername: KEY_ID, SmtpPasswords: {} }),
        WHERE,
      ),
    ).toThrow('fields SmtpUsername and SmtpPasswords are set without an access key');
  });
});

describe('Function: serializeSecretValue, SES SMTP fields', () => {
  it('writes them after the key and reads them back', () => {
    const credentials = new AccessKeyCredentials(KEY_ID, SECRET);
    const smtp = SesSmtpCredentials.derive(credentials, ['eu-west-1', 'us-east-1']);
    const text = serializeSecretValue('mailer', credentials, 'v1', smtp);
    expect(JSON.parse(text)).toEqual({
      UserName: 'mailer',
      AccessKeyId: KEY_ID,
      SecretAccessKey: SECRET,
      SmtpUsername: KEY_ID,
      SmtpPasswords: { 'eu-west-1': EU, 'us-east-1': deriveSesSmtpPassword(SECRET, 'us-east-1') },
      ReplacesVersionId: 'v1',
    });
    expect(parseSecretValue(text, WHERE).smtp?.password('us-east-1')).toBe(
      deriveSesSmtpPassword(SECRET, 'us-east-1'),
    );
  });

  it('writes exactly today’s fields without them', () => {
    const text = serializeSecretValue('mailer', new AccessKeyCredentials(KEY_ID, SECRET), 'v1');
    expect(Object.keys(JSON.parse(text) as object)).toEqual([
      'UserName',
      'AccessKeyId',
      'SecretAccessKey',
      'ReplacesVersionId',
    ]);
  });
});
