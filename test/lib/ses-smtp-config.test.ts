import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  SES_SMTP_REGIONS_TAG_KEY,
  SES_SMTP_TEST_TAG_KEY,
} from '../../lambda/rotation/ses-smtp-settings.js';
import { parseIamKeyRotationConfig } from '../../lib/config.js';
import { IamKeyRotationStack } from '../../lib/iam-key-rotation-stack.js';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';
import { KeyRotationSchedule } from '../../lib/key-rotation-schedule.js';
import { RotatedAccessKey, type RotatedAccessKeyProps } from '../../lib/rotated-access-key.js';

const userWith = (fields: Record<string, unknown>): unknown => ({
  users: [{ userName: 'mailer', schedule: 'rate(30 days)', ...fields }],
});

describe('Module: config, SES SMTP fields', () => {
  it('reads sesSmtpRegions and sesSmtpTest', () => {
    const config = parseIamKeyRotationConfig(
      userWith({ sesSmtpRegions: ['eu-west-1', 'us-east-1'], sesSmtpTest: true }),
    );
    expect(config.users[0]).toMatchObject({
      sesSmtpRegions: ['eu-west-1', 'us-east-1'],
      sesSmtpTest: true,
    });
  });

  it('leaves both out for a user without them', () => {
    const [user] = parseIamKeyRotationConfig(userWith({})).users;
    expect(user).not.toHaveProperty('sesSmtpRegions');
    expect(user).not.toHaveProperty('sesSmtpTest');
  });

  it.each([
    [
      { sesSmtpRegions: [] },
      'iamKeyRotation.users[0].sesSmtpRegions: expected a non-empty array of AWS region names like ["eu-west-1"], got []',
    ],
    [
      { sesSmtpRegions: 'eu-west-1' },
      'iamKeyRotation.users[0].sesSmtpRegions: expected a non-empty array of AWS region names like ["eu-west-1"], got "eu-west-1"',
    ],
    [
      { sesSmtpRegions: ['eu-west-1', 'Ireland'] },
      'iamKeyRotation.users[0].sesSmtpRegions[1]: expected an AWS region name like "eu-west-1", got "Ireland"',
    ],
    [
      { sesSmtpRegions: ['eu-west-1', 'us-east-1', 'eu-west-1'] },
      'iamKeyRotation.users[0].sesSmtpRegions[2]: duplicate region "eu-west-1" (already at iamKeyRotation.users[0].sesSmtpRegions[0])',
    ],
    [
      { sesSmtpRegions: Array.from({ length: 20 }, (_, index) => `ap-southeast-${index + 1}`) },
      'iamKeyRotation.users[0].sesSmtpRegions: the regions, separated by spaces, must fit in a secret tag of 256 characters, got 310 characters for 20 regions',
    ],
    [
      { sesSmtpTest: true },
      'iamKeyRotation.users[0].sesSmtpTest: is only allowed with sesSmtpRegions (the regions whose SMTP login to test), got true',
    ],
    [
      { sesSmtpRegions: ['eu-west-1'], sesSmtpTest: 'yes' },
      'iamKeyRotation.users[0].sesSmtpTest: expected true or false, got "yes"',
    ],
  ])('fails on %j, naming the field', (fields, message) => {
    expect(() => parseIamKeyRotationConfig(userWith(fields))).toThrow(message);
  });
});

const arrange = (): { stack: Stack; props: RotatedAccessKeyProps } => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TestStack', {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return {
    stack,
    props: {
      user: iam.User.fromUserName(stack, 'Mailer', 'mailer'),
      rotationFunction: new KeyRotationFunction(stack, 'RotationFunction', {
        sesSmtpLoginTest: true,
      }),
      schedule: KeyRotationSchedule.rateDays(30),
    },
  };
};

describe('Construct: RotatedAccessKey, SES SMTP tags', () => {
  it('tags the secret with the regions, space-separated, and the test', () => {
    const { stack, props } = arrange();

    new RotatedAccessKey(stack, 'Key', {
      ...props,
      sesSmtpRegions: ['eu-west-1', 'us-east-1'],
      sesSmtpTest: true,
    });

    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([
        { Key: SES_SMTP_REGIONS_TAG_KEY, Value: 'eu-west-1 us-east-1' },
        { Key: SES_SMTP_TEST_TAG_KEY, Value: 'true' },
      ]),
    });
  });

  it('fails on sesSmtpTest when the function is built without the SMTP client, naming the setting', () => {
    const { stack, props } = arrange();
    const withoutClient = new KeyRotationFunction(stack, 'PlainFunction');

    expect(withoutClient.hasSmtpLoginClient).toBe(false);
    expect(
      () =>
        new RotatedAccessKey(stack, 'Key', {
          ...props,
          rotationFunction: withoutClient,
          sesSmtpRegions: ['eu-west-1'],
          sesSmtpTest: true,
        }),
    ).toThrow(
      "sesSmtpTest of user mailer needs the SMTP client in the rotation function's asset: create the KeyRotationFunction with sesSmtpLoginTest: true",
    );
  });

  it('adds no SMTP tag without sesSmtpRegions, and no test tag unless sesSmtpTest', () => {
    const { stack, props } = arrange();

    new RotatedAccessKey(stack, 'Plain', props);
    new RotatedAccessKey(stack, 'NoTest', {
      ...props,
      user: iam.User.fromUserName(stack, 'Other', 'other'),
      sesSmtpRegions: ['eu-west-1'],
    });

    const tagKeys = Object.values(
      Template.fromStack(stack).findResources('AWS::SecretsManager::Secret'),
    ).map((secret) =>
      (secret as { Properties: { Tags: { Key: string }[] } }).Properties.Tags.map((tag) => tag.Key),
    );
    expect(tagKeys[0]).not.toContain(SES_SMTP_REGIONS_TAG_KEY);
    expect(tagKeys[0]).not.toContain(SES_SMTP_TEST_TAG_KEY);
    expect(tagKeys[1]).toContain(SES_SMTP_REGIONS_TAG_KEY);
    expect(tagKeys[1]).not.toContain(SES_SMTP_TEST_TAG_KEY);
  });

  it.each([
    [{ sesSmtpRegions: [] }, 'sesSmtpRegions must name at least one AWS region, got []'],
    [
      { sesSmtpRegions: ['eu-west-1', 'EU'] },
      'sesSmtpRegions[1] must be a literal AWS region name like "eu-west-1", got "EU"',
    ],
    [{ sesSmtpRegions: ['eu-west-1', 'eu-west-1'] }, 'sesSmtpRegions[1] repeats region eu-west-1'],
    [{ sesSmtpTest: false }, 'sesSmtpTest is only allowed with sesSmtpRegions'],
  ])('fails on %j', (extra, message) => {
    const { stack, props } = arrange();
    expect(() => new RotatedAccessKey(stack, 'Key', { ...props, ...extra })).toThrow(message);
  });

  it('passes the configuration’s fields from IamKeyRotationStack', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const config = parseIamKeyRotationConfig(
      userWith({ sesSmtpRegions: ['us-east-1'], sesSmtpTest: true }),
    );

    const stack = new IamKeyRotationStack(app, 'IamKeyRotation', {
      env: { account: '123456789012', region: 'eu-west-1' },
      users: config.users,
    });

    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([
        { Key: SES_SMTP_REGIONS_TAG_KEY, Value: 'us-east-1' },
        { Key: SES_SMTP_TEST_TAG_KEY, Value: 'true' },
      ]),
    });
  });
});
