import { describe, expect, it } from 'vitest';
import type { SecretMetadata } from '../../../lambda/aws/secrets-manager-secret-store.js';
import { InvalidSecretTagError } from '../../../lambda/errors.js';
import {
  parseSesSmtpSettings,
  SES_SMTP_REGIONS_TAG_KEY,
  SES_SMTP_TEST_TAG_KEY,
} from '../../../lambda/rotation/ses-smtp-settings.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/mailer-AbCdEf';

const secretWith = (tags: Record<string, string>): SecretMetadata => ({
  arn: ARN,
  name: 'iam-key-rotation/mailer',
  rotationEnabled: true,
  versionIdsToStages: {},
  tags: { 'iam-key-rotation:user': 'mailer', ...tags },
});

describe('Function: parseSesSmtpSettings', () => {
  it('returns nothing for a secret without SMTP tags', () => {
    expect(parseSesSmtpSettings(secretWith({}))).toBeUndefined();
  });

  it('reads the regions in tag order, without the test unless it is "true"', () => {
    expect(
      parseSesSmtpSettings(secretWith({ [SES_SMTP_REGIONS_TAG_KEY]: 'us-east-1 eu-west-1' })),
    ).toEqual({ regions: ['us-east-1', 'eu-west-1'], test: false });
    expect(
      parseSesSmtpSettings(
        secretWith({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: 'true' }),
      ),
    ).toEqual({ regions: ['eu-west-1'], test: true });
    expect(
      parseSesSmtpSettings(
        secretWith({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: 'false' }),
      ),
    ).toEqual({ regions: ['eu-west-1'], test: false });
  });

  it.each([
    ['', 'got ""'],
    ['eu-west-1  us-east-1', 'got "eu-west-1  us-east-1"'],
    [' eu-west-1', 'got " eu-west-1"'],
    ['eu-west-1,us-east-1', 'got "eu-west-1,us-east-1"'],
    ['eu-west-1 EU-WEST-2', 'got "eu-west-1 EU-WEST-2"'],
    ['eu-west-1 eu-west-1', 'got "eu-west-1 eu-west-1"'],
  ])('fails when the regions tag is %j, naming the tag', (value, expected) => {
    const attempt = (): unknown =>
      parseSesSmtpSettings(secretWith({ [SES_SMTP_REGIONS_TAG_KEY]: value }));
    expect(attempt).toThrow(InvalidSecretTagError);
    expect(attempt).toThrow(
      `Secret ${ARN} tag ${SES_SMTP_REGIONS_TAG_KEY} must be distinct AWS region names separated by single spaces, like "eu-west-1 us-east-1", ${expected}; fix sesSmtpRegions and sesSmtpTest of user mailer in the configuration and deploy again. Nothing was changed`,
    );
  });

  it.each(['TRUE', 'yes', '1', ''])('fails when the test tag is %j', (value) => {
    const attempt = (): unknown =>
      parseSesSmtpSettings(
        secretWith({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: value }),
      );
    expect(attempt).toThrow(
      `tag ${SES_SMTP_TEST_TAG_KEY} must be "true" or "false", got ${JSON.stringify(value)}`,
    );
  });

  it('fails when the test tag is set without the regions tag', () => {
    expect(() => parseSesSmtpSettings(secretWith({ [SES_SMTP_TEST_TAG_KEY]: 'true' }))).toThrow(
      `tag ${SES_SMTP_REGIONS_TAG_KEY} must be set when ${SES_SMTP_TEST_TAG_KEY} is, got no tag`,
    );
  });
});
