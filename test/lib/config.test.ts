import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadIamKeyRotationConfig,
  parseIamKeyRotationConfig,
  usersByStack,
} from '../../lib/config.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const validUser = { userName: 'alice', schedule: 'rate(30 days)' };

function contextOf(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

describe('Module: config', () => {
  describe('Function: parseIamKeyRotationConfig', () => {
    it('parses a user with every field', () => {
      // Arrange
      const raw = {
        users: [
          {
            userName: 'alice',
            path: '/ci/',
            createUser: true,
            schedule: 'rate(12 hours)',
            window: '4h',
            kmsKeyArn: KEY_ARN,
            stack: 'KeysA',
          },
        ],
      };

      // Act
      const config = parseIamKeyRotationConfig(raw);

      // Assert
      const [user] = config.users;
      expect(user).toMatchObject({
        userName: 'alice',
        path: '/ci/',
        createUser: true,
        kmsKeyArn: KEY_ARN,
        stackName: 'KeysA',
      });
      expect(user?.schedule.expressionString).toBe('rate(12 hours)');
      expect(user?.window?.toHours()).toBe(4);
    });

    it('parses staleKeyDays', () => {
      // Act
      const config = parseIamKeyRotationConfig({ users: [validUser], staleKeyDays: 30 });

      // Assert
      expect(config.staleKeyDays).toBe(30);
    });

    it('applies the defaults', () => {
      // Act
      const config = parseIamKeyRotationConfig({ users: [validUser] });

      // Assert
      expect(config.staleKeyDays).toBe(7);
      expect(config.users[0]).toMatchObject({
        path: '/',
        createUser: false,
        window: undefined,
        kmsKeyArn: undefined,
        stackName: 'IamKeyRotation',
      });
    });

    it.each<[string, unknown, string]>([
      ['the root is not an object', [], 'iamKeyRotation: expected an object, got []'],
      [
        'the root has an unknown field',
        { users: [validUser], user: [] },
        'iamKeyRotation.user: unknown field',
      ],
      [
        'staleKeyDays is 0',
        { users: [validUser], staleKeyDays: 0 },
        'iamKeyRotation.staleKeyDays: expected a whole number of days from 1 to 1000, got 0',
      ],
      [
        'staleKeyDays is more than 1000',
        { users: [validUser], staleKeyDays: 1001 },
        'iamKeyRotation.staleKeyDays: expected a whole number of days from 1 to 1000, got 1001',
      ],
      [
        'staleKeyDays is not whole',
        { users: [validUser], staleKeyDays: 2.5 },
        'iamKeyRotation.staleKeyDays: expected a whole number of days from 1 to 1000, got 2.5',
      ],
      [
        'staleKeyDays is a string',
        { users: [validUser], staleKeyDays: '7' },
        'iamKeyRotation.staleKeyDays: expected a whole number of days from 1 to 1000, got "7"',
      ],
      [
        'users is missing',
        {},
        'iamKeyRotation.users: expected a non-empty array of users, got nothing',
      ],
      [
        'users is empty',
        { users: [] },
        'iamKeyRotation.users: expected a non-empty array of users, got []',
      ],
      [
        'a user is not an object',
        { users: ['alice'] },
        'iamKeyRotation.users[0]: expected an object, got "alice"',
      ],
      [
        'a user has an unknown field',
        { users: [{ ...validUser, scheduel: 'x' }] },
        'iamKeyRotation.users[0].scheduel: unknown field (allowed: userName, path, createUser, schedule, window, kmsKeyArn, stack, account, region',
      ],
      [
        'userName is missing',
        { users: [{ schedule: 'rate(1 day)' }] },
        'iamKeyRotation.users[0].userName: expected an IAM user name (1-64 characters of letters, digits and _+=,.@-), got nothing',
      ],
      [
        'userName has a slash',
        { users: [{ ...validUser, userName: 'a/b' }] },
        'iamKeyRotation.users[0].userName: expected an IAM user name (1-64 characters of letters, digits and _+=,.@-), got "a/b"',
      ],
      [
        'userName is too long',
        { users: [{ ...validUser, userName: 'a'.repeat(65) }] },
        `iamKeyRotation.users[0].userName: expected an IAM user name (1-64 characters of letters, digits and _+=,.@-), got "${'a'.repeat(65)}"`,
      ],
      [
        'path does not end with a slash',
        { users: [{ ...validUser, path: '/ci' }] },
        'iamKeyRotation.users[0].path: expected an IAM path that starts and ends with / (at most 512 characters), got "/ci"',
      ],
      [
        'createUser is a string',
        { users: [{ ...validUser, createUser: 'yes' }] },
        'iamKeyRotation.users[0].createUser: expected true or false, got "yes"',
      ],
      [
        'schedule is missing',
        { users: [{ userName: 'alice' }] },
        'iamKeyRotation.users[0].schedule: expected rate(N days), rate(N hours) or cron(...), got nothing',
      ],
      [
        'schedule is rate(2 hours)',
        { users: [validUser, { userName: 'bob', schedule: 'rate(2 hours)' }] },
        'iamKeyRotation.users[1].schedule: rate in hours must be a whole number of at least 4, got 2',
      ],
      [
        'schedule is not rate or cron',
        { users: [{ ...validUser, schedule: 'weekly' }] },
        'iamKeyRotation.users[0].schedule: expected rate(N days) with N 1-1000, rate(N hours) with N >= 4, or cron(0 H D M W *) in UTC, got "weekly"',
      ],
      [
        'schedule is a bad cron',
        { users: [{ ...validUser, schedule: 'cron(15 2 ? * MON *)' }] },
        'iamKeyRotation.users[0].schedule: cron minutes field must be 0 (rotation windows open on the hour), got "15" in "cron(15 2 ? * MON *)"',
      ],
      [
        'window is in minutes',
        { users: [{ ...validUser, window: '90m' }] },
        'iamKeyRotation.users[0].window: expected whole hours like "4h", got "90m"',
      ],
      [
        'window is longer than the rate in hours',
        { users: [{ ...validUser, schedule: 'rate(4 hours)', window: '5h' }] },
        'iamKeyRotation.users[0].window: window must not extend into the next rotation window of rate(4 hours), got 5 hours (window "5h", schedule "rate(4 hours)")',
      ],
      [
        'window reaches into the next UTC day',
        { users: [{ ...validUser, schedule: 'cron(0 22 ? * MON *)', window: '3h' }] },
        'iamKeyRotation.users[0].window: window must not extend into the next UTC day: start hour 22 + window must be <= 24 for cron(0 22 ? * MON *), got 3 hours',
      ],
      [
        'window is 0h',
        { users: [{ ...validUser, window: '0h' }] },
        'iamKeyRotation.users[0].window: window must be a whole number of hours, at least 1 hour, got 0 hours (window "0h", schedule "rate(30 days)")',
      ],
      [
        'kmsKeyArn is an alias',
        { users: [{ ...validUser, kmsKeyArn: 'alias/my-key' }] },
        'iamKeyRotation.users[0].kmsKeyArn: expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; aliases are not accepted), got "alias/my-key"',
      ],
      [
        'stack is not a stack name',
        { users: [{ ...validUser, stack: '1 stack' }] },
        'iamKeyRotation.users[0].stack: expected a CloudFormation stack name (a letter, then letters, digits and -, at most 128), got "1 stack"',
      ],
      [
        'a user name repeats',
        {
          users: [
            validUser,
            { ...validUser, userName: 'bob' },
            { ...validUser, userName: 'Alice' },
          ],
        },
        'iamKeyRotation.users[2].userName: duplicate user name "Alice" in the default account: here (the default region), already configured at iamKeyRotation.users[0] (the default region); IAM user names are case-insensitive and global to an account, and one secret owns a user: configure it once',
      ],
      [
        'a user of an account repeats in another region',
        {
          users: [
            { ...validUser, account: '111111111111', region: 'eu-west-1' },
            { ...validUser, account: '111111111111', region: 'us-east-1', stack: 'Keys' },
          ],
        },
        'iamKeyRotation.users[1].userName: duplicate user name "alice" in account 111111111111: here (region us-east-1, stack "Keys"), already configured at iamKeyRotation.users[0] (region eu-west-1); IAM user names are case-insensitive and global to an account',
      ],
      [
        'account is not 12 digits',
        { users: [{ ...validUser, account: 123456789012 }] },
        'iamKeyRotation.users[0].account: expected an AWS account id of 12 digits as a string, e.g. "123456789012", got 123456789012',
      ],
      [
        'region is not a region',
        { users: [{ ...validUser, region: 'Frankfurt' }] },
        'iamKeyRotation.users[0].region: expected an AWS region such as "eu-west-1", got "Frankfurt"',
      ],
      [
        'a stack is named for two accounts',
        {
          users: [
            { ...validUser, stack: 'Keys', account: '111111111111' },
            { ...validUser, userName: 'bob', stack: 'Keys', account: '222222222222' },
          ],
        },
        'iamKeyRotation.users[1].stack: stack "Keys" is used in two places: here (account 222222222222, the default region), and at iamKeyRotation.users[0] (account 111111111111, the default region); a stack lives in one account and region',
      ],
    ])('fails when %s', (_case, raw, message) => {
      // Act & Assert
      expect(() => parseIamKeyRotationConfig(raw)).toThrow(message);
    });

    it('fails when a stack named by the users would hold more than 100 users', () => {
      // Arrange
      const users = Array.from({ length: 101 }, (_, i) => ({
        ...validUser,
        userName: `user-${i}`,
        stack: 'IamKeyRotation',
      }));

      // Act & Assert
      expect(() => parseIamKeyRotationConfig({ users })).toThrow(
        'iamKeyRotation.users: stack "IamKeyRotation" would hold 101 users, at most 100 per stack',
      );
    });

    it('leaves notifications, the grace period and compliance rules off by default', () => {
      // Act
      const config = parseIamKeyRotationConfig({ users: [validUser] });

      // Assert
      expect(config.notifications).toBeUndefined();
      expect(config.gracePeriod.toSeconds()).toBe(0);
      expect(config.complianceRules).toBeUndefined();
    });

    it.each<[string, unknown, unknown]>([
      ['{}', {}, { email: [], onSuccess: false }],
      [
        'email addresses and onSuccess',
        { email: ['security-team@example.com', 'ops+keys@corp.example.co.uk'], onSuccess: true },
        { email: ['security-team@example.com', 'ops+keys@corp.example.co.uk'], onSuccess: true },
      ],
      [
        'an existing topic',
        { topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alerts' },
        { email: [], topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alerts', onSuccess: false },
      ],
    ])('parses notifications with %s', (_case, notifications, expected) => {
      // Act
      const config = parseIamKeyRotationConfig({ users: [validUser], notifications });

      // Assert
      expect(config.notifications).toEqual(expected);
    });

    it.each<[unknown, number]>([
      [0, 0],
      ['0', 0],
      ['0h', 0],
      ['90m', 90 * 60],
      ['24h', 24 * 3600],
      ['7d', 7 * 86400],
    ])('parses gracePeriod %j', (gracePeriod, seconds) => {
      // Act
      const config = parseIamKeyRotationConfig({
        users: [{ ...validUser, schedule: 'rate(30 days)' }],
        gracePeriod,
      });

      // Assert
      expect(config.gracePeriod.toSeconds()).toBe(seconds);
    });

    it.each<[unknown, number | undefined]>([
      [true, 90],
      [{}, 90],
      [{ maxAccessKeyAgeDays: 30 }, 30],
      [false, undefined],
    ])('parses complianceRules %j', (complianceRules, maxAccessKeyAgeDays) => {
      // Act
      const config = parseIamKeyRotationConfig({ users: [validUser], complianceRules });

      // Assert
      expect(config.complianceRules?.maxAccessKeyAgeDays).toBe(maxAccessKeyAgeDays);
    });

    it.each<[string, unknown, string]>([
      [
        'notifications is not an object',
        true,
        'iamKeyRotation.notifications: expected an object, got true',
      ],
      [
        'notifications has an unknown field',
        { emails: ['ops@example.com'] },
        'iamKeyRotation.notifications.emails: unknown field (allowed: email, topicArn, onSuccess), got ["ops@example.com"]',
      ],
      [
        'email is not an array',
        { email: 'ops@example.com' },
        'iamKeyRotation.notifications.email: expected a non-empty array of email addresses, got "ops@example.com"',
      ],
      [
        'email is empty',
        { email: [] },
        'iamKeyRotation.notifications.email: expected a non-empty array of email addresses, got []',
      ],
      [
        'an email address has no domain',
        { email: ['ops@example.com', 'ops'] },
        'iamKeyRotation.notifications.email[1]: expected an email address like "security-team@example.com", got "ops"',
      ],
      [
        'an email address has a space',
        { email: ['ops team@example.com'] },
        'iamKeyRotation.notifications.email[0]: expected an email address like "security-team@example.com", got "ops team@example.com"',
      ],
      [
        'an email address has a one-label domain',
        { email: ['ops@localhost'] },
        'iamKeyRotation.notifications.email[0]: expected an email address like "security-team@example.com", got "ops@localhost"',
      ],
      [
        'an email address repeats',
        { email: ['ops@example.com', 'OPS@example.com'] },
        'iamKeyRotation.notifications.email[1]: duplicate email address "OPS@example.com" (already at iamKeyRotation.notifications.email[0])',
      ],
      [
        'topicArn is not an SNS topic ARN',
        { topicArn: 'arn:aws:sqs:eu-west-1:123456789012:ops-alerts' },
        'iamKeyRotation.notifications.topicArn: expected an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic name>), got "arn:aws:sqs:eu-west-1:123456789012:ops-alerts"',
      ],
      [
        'topicArn is a topic name',
        { topicArn: 'ops-alerts' },
        'iamKeyRotation.notifications.topicArn: expected an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic name>), got "ops-alerts"',
      ],
      [
        'topicArn is a FIFO topic',
        { topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alerts.fifo' },
        'iamKeyRotation.notifications.topicArn: expected a standard SNS topic (CloudWatch alarms do not publish to FIFO topics), got "arn:aws:sns:eu-west-1:123456789012:ops-alerts.fifo"',
      ],
      [
        'email comes with topicArn',
        {
          topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alerts',
          email: ['ops@example.com'],
        },
        'iamKeyRotation.notifications.email: subscriptions are made only to the topic the stack creates: leave out "topicArn", or subscribe the addresses to "arn:aws:sns:eu-west-1:123456789012:ops-alerts" where that topic is managed, got ["ops@example.com"]',
      ],
      [
        'onSuccess is not a boolean',
        { onSuccess: 'yes' },
        'iamKeyRotation.notifications.onSuccess: expected true or false, got "yes"',
      ],
    ])('fails when %s', (_case, notifications, message) => {
      // Act & Assert
      expect(() => parseIamKeyRotationConfig({ users: [validUser], notifications })).toThrow(
        message,
      );
    });

    it.each<[unknown, string]>([
      [
        '24',
        'iamKeyRotation.gracePeriod: expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got "24"',
      ],
      [
        86400,
        'iamKeyRotation.gracePeriod: expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got 86400',
      ],
      [
        '90s',
        'iamKeyRotation.gracePeriod: expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got "90s"',
      ],
      [
        '1.5h',
        'iamKeyRotation.gracePeriod: expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got "1.5h"',
      ],
      [
        '-1h',
        'iamKeyRotation.gracePeriod: expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got "-1h"',
      ],
    ])('fails when gracePeriod is %j', (gracePeriod, message) => {
      // Act & Assert
      expect(() => parseIamKeyRotationConfig({ users: [validUser], gracePeriod })).toThrow(message);
    });

    it.each<[string, string, string]>([
      [
        'rate(7 days)',
        '7d',
        'iamKeyRotation.gracePeriod: must be shorter than the rotation interval of every user, got "7d" (7 days) but user "bob" (iamKeyRotation.users[1]) has schedule "rate(7 days)": every 7 days; the previous key must be retired before the next rotation',
      ],
      [
        'rate(12 hours)',
        '720m',
        'iamKeyRotation.gracePeriod: must be shorter than the rotation interval of every user, got "720m" (12 hours) but user "bob" (iamKeyRotation.users[1]) has schedule "rate(12 hours)": every 12 hours; the previous key must be retired before the next rotation',
      ],
      [
        'cron(0 2 ? * MON,WED *)',
        '48h',
        'iamKeyRotation.gracePeriod: must be shorter than the rotation interval of every user, got "48h" (2 days) but user "bob" (iamKeyRotation.users[1]) has schedule "cron(0 2 ? * MON,WED *)": windows as little as 2 days apart; the previous key must be retired before the next rotation',
      ],
    ])(
      'fails when the grace period is not shorter than the interval of %s, naming the user and both values',
      (schedule, gracePeriod, message) => {
        // Arrange
        const users = [
          { userName: 'alice', schedule: 'rate(30 days)' },
          { userName: 'bob', schedule },
        ];

        // Act & Assert
        expect(() => parseIamKeyRotationConfig({ users, gracePeriod })).toThrow(message);
      },
    );

    it('accepts a grace period just shorter than the interval', () => {
      // Act
      const config = parseIamKeyRotationConfig({
        users: [{ userName: 'bob', schedule: 'cron(0 2 ? * MON,WED *)' }],
        gracePeriod: '47h',
      });

      // Assert
      expect(config.gracePeriod.toHours()).toBe(47);
    });

    it.each<[unknown, string]>([
      [
        'yes',
        'iamKeyRotation.complianceRules: expected true, false or an object like {"maxAccessKeyAgeDays": 90}, got "yes"',
      ],
      [
        { maxAccessKeyAge: 90 },
        'iamKeyRotation.complianceRules.maxAccessKeyAge: unknown field (allowed: maxAccessKeyAgeDays), got 90',
      ],
      [
        { maxAccessKeyAgeDays: 0 },
        'iamKeyRotation.complianceRules.maxAccessKeyAgeDays: expected a whole number of days from 1 to 1000, got 0',
      ],
      [
        { maxAccessKeyAgeDays: '90' },
        'iamKeyRotation.complianceRules.maxAccessKeyAgeDays: expected a whole number of days from 1 to 1000, got "90"',
      ],
      [
        { maxAccessKeyAgeDays: 90.5 },
        'iamKeyRotation.complianceRules.maxAccessKeyAgeDays: expected a whole number of days from 1 to 1000, got 90.5',
      ],
    ])('fails when complianceRules is %j', (complianceRules, message) => {
      // Act & Assert
      expect(() => parseIamKeyRotationConfig({ users: [validUser], complianceRules })).toThrow(
        message,
      );
    });
  });

  describe('Automatic stacks and accounts', () => {
    it('places 250 users without stack in stacks of 100, in configuration order', () => {
      // Arrange
      const users = Array.from({ length: 250 }, (_, i) => ({ ...validUser, userName: `u-${i}` }));

      // Act
      const config = parseIamKeyRotationConfig({ users });

      // Assert
      const groups = usersByStack(config);
      expect([...groups].map(([name, group]) => [name, group.length])).toEqual([
        ['IamKeyRotation', 100],
        ['IamKeyRotation-2', 100],
        ['IamKeyRotation-3', 50],
      ]);
      expect(groups.get('IamKeyRotation-2')?.[0]?.userName).toBe('u-100');
    });

    it('keeps every user in its stack when users are appended', () => {
      // Arrange
      const users = Array.from({ length: 230 }, (_, i) => ({ ...validUser, userName: `u-${i}` }));
      const before = parseIamKeyRotationConfig({ users }).users;

      // Act
      const after = parseIamKeyRotationConfig({
        users: [...users, ...['x', 'y'].map((userName) => ({ ...validUser, userName }))],
      }).users;

      // Assert
      expect(after.slice(0, before.length).map((u) => u.stackName)).toEqual(
        before.map((u) => u.stackName),
      );
      expect(after.slice(before.length).map((u) => u.stackName)).toEqual([
        'IamKeyRotation-3',
        'IamKeyRotation-3',
      ]);
    });

    it('counts users that name an automatic stack explicitly against its 100', () => {
      // Arrange
      const users = [
        ...Array.from({ length: 30 }, (_, i) => ({
          ...validUser,
          userName: `pinned-${i}`,
          stack: 'IamKeyRotation',
        })),
        ...Array.from({ length: 80 }, (_, i) => ({ ...validUser, userName: `u-${i}` })),
      ];

      // Act
      const groups = usersByStack(parseIamKeyRotationConfig({ users }));

      // Assert
      expect([...groups].map(([name, group]) => [name, group.length])).toEqual([
        ['IamKeyRotation', 100],
        ['IamKeyRotation-2', 10],
      ]);
    });

    it('gives each account and region its own automatic stacks, and allows a user name once per account', () => {
      // Arrange
      const users = [
        { ...validUser },
        { ...validUser, account: '111111111111' },
        { ...validUser, account: '222222222222', region: 'eu-west-1' },
        { ...validUser, userName: 'bob', account: '222222222222', region: 'us-east-1' },
        { ...validUser, userName: 'carol', region: 'us-east-1' },
      ];

      // Act
      const config = parseIamKeyRotationConfig({ users });

      // Assert
      expect(config.users.map((u) => [u.stackName, u.account, u.region])).toEqual([
        ['IamKeyRotation', undefined, undefined],
        ['IamKeyRotation-111111111111', '111111111111', undefined],
        ['IamKeyRotation-222222222222-eu-west-1', '222222222222', 'eu-west-1'],
        ['IamKeyRotation-222222222222-us-east-1', '222222222222', 'us-east-1'],
        ['IamKeyRotation-us-east-1', undefined, 'us-east-1'],
      ]);
    });
  });

  describe('Function: usersByStack', () => {
    it('groups users by stack in order of first appearance', () => {
      // Arrange
      const config = parseIamKeyRotationConfig({
        users: [
          { ...validUser, userName: 'a', stack: 'B' },
          { ...validUser, userName: 'b' },
          { ...validUser, userName: 'c', stack: 'B' },
        ],
      });

      // Act
      const groups = usersByStack(config);

      // Assert
      expect([...groups.keys()]).toEqual(['B', 'IamKeyRotation']);
      expect(groups.get('B')?.map((u) => u.userName)).toEqual(['a', 'c']);
    });
  });

  describe('Function: parseIamKeyRotationConfig (day-2 checks)', () => {
    it('fails when kmsKeyArn is in another region than the user, naming the field and the region expected', () => {
      // Act & Assert
      expect(() =>
        parseIamKeyRotationConfig({
          users: [{ ...validUser, region: 'us-east-1', kmsKeyArn: KEY_ARN }],
        }),
      ).toThrow(
        `iamKeyRotation.users[0].kmsKeyArn: expected a KMS key in region us-east-1, the region of user "alice"'s secret, got a key in eu-west-1: "${KEY_ARN}"`,
      );
    });

    it('fails when kmsKeyArn is in another region than the default region, when known', () => {
      // Act & Assert
      expect(() =>
        parseIamKeyRotationConfig({ users: [{ ...validUser, kmsKeyArn: KEY_ARN }] }, undefined, {
          defaults: { region: 'us-east-1' },
        }),
      ).toThrow(
        `iamKeyRotation.users[0].kmsKeyArn: expected a KMS key in region us-east-1, the region of user "alice"'s secret (the default region, CDK_DEFAULT_REGION), got a key in eu-west-1`,
      );
    });

    it('accepts kmsKeyArn in the region of the user', () => {
      // Act
      const config = parseIamKeyRotationConfig({
        users: [{ ...validUser, region: 'eu-west-1', kmsKeyArn: KEY_ARN }],
      });

      // Assert
      expect(config.users[0]?.kmsKeyArn).toBe(KEY_ARN);
    });

    it('fails when maxAccessKeyAgeDays is below a rotation interval, naming the field, the days expected and the user', () => {
      // Act & Assert
      expect(() =>
        parseIamKeyRotationConfig({
          users: [validUser],
          complianceRules: { maxAccessKeyAgeDays: 20 },
        }),
      ).toThrow(
        'iamKeyRotation.complianceRules.maxAccessKeyAgeDays: expected at least 30 days, got 20: user "alice" (iamKeyRotation.users[0]) has schedule "rate(30 days)" (every 30 days)',
      );
    });

    it('fails when maxAccessKeyAgeDays does not cover the rotation interval plus the grace period', () => {
      // Act & Assert
      expect(() =>
        parseIamKeyRotationConfig({
          users: [validUser],
          gracePeriod: '2d',
          complianceRules: { maxAccessKeyAgeDays: 31 },
        }),
      ).toThrow(
        'iamKeyRotation.complianceRules.maxAccessKeyAgeDays: expected at least 32 days, got 31',
      );
    });

    it('accepts maxAccessKeyAgeDays equal to the rotation interval', () => {
      // Act
      const config = parseIamKeyRotationConfig({
        users: [validUser],
        complianceRules: { maxAccessKeyAgeDays: 30 },
      });

      // Assert
      expect(config.complianceRules?.maxAccessKeyAgeDays).toBe(30);
    });

    it('fails when a user is configured in the default account and again with that account id', () => {
      // Act & Assert
      expect(() =>
        parseIamKeyRotationConfig(
          { users: [validUser, { ...validUser, account: '123456789012' }] },
          undefined,
          { defaults: { account: '123456789012' } },
        ),
      ).toThrow(
        'iamKeyRotation.users[1].userName: duplicate user name "alice" in account 123456789012 (the default account, CDK_DEFAULT_ACCOUNT, is 123456789012: one entry names it, the other leaves "account" out)',
      );
    });

    it('accepts the same user name in the default account and another account', () => {
      // Act
      const config = parseIamKeyRotationConfig(
        { users: [validUser, { ...validUser, account: '210987654321' }] },
        undefined,
        { defaults: { account: '123456789012' } },
      );

      // Assert
      expect(config.users).toHaveLength(2);
    });

    it('retains secrets and created users by default, and destroys them on opt-in, globally or per user', () => {
      // Act
      const retained = parseIamKeyRotationConfig({ users: [validUser] });
      const destroyed = parseIamKeyRotationConfig({
        removalPolicy: 'destroy',
        users: [validUser, { ...validUser, userName: 'bob', removalPolicy: 'retain' }],
      });

      // Assert
      expect(retained.users[0]?.removalPolicy).toBe('retain');
      expect(destroyed.users.map((u) => u.removalPolicy)).toEqual(['destroy', 'retain']);
    });

    it('fails when removalPolicy is neither retain nor destroy, naming the field and both values', () => {
      // Act & Assert
      expect(() =>
        parseIamKeyRotationConfig({ users: [{ ...validUser, removalPolicy: 'delete' }] }),
      ).toThrow(
        'iamKeyRotation.users[0].removalPolicy: expected "retain" (keep the secret and a created user when removed, the default) or "destroy" (delete them), got "delete"',
      );
    });

    it('turns the dashboard and the alarms off', () => {
      // Act
      const on = parseIamKeyRotationConfig({ users: [validUser] });
      const off = parseIamKeyRotationConfig({
        users: [validUser],
        dashboard: false,
        alarms: false,
      });

      // Assert
      expect([on.dashboard, on.alarms]).toEqual([true, true]);
      expect([off.dashboard, off.alarms]).toEqual([false, false]);
    });

    it('fails when dashboard is not a boolean, naming the field and the expected value', () => {
      // Act & Assert
      expect(() => parseIamKeyRotationConfig({ users: [validUser], dashboard: 'off' })).toThrow(
        'iamKeyRotation.dashboard: expected true or false, got "off"',
      );
    });
  });

  describe('Function: loadIamKeyRotationConfig', () => {
    let directory: string | undefined;
    afterEach(() => {
      if (directory) rmSync(directory, { recursive: true, force: true });
      directory = undefined;
    });

    it('reads the context object', () => {
      // Act
      const config = loadIamKeyRotationConfig(
        contextOf({ iamKeyRotation: { users: [validUser] } }),
      );

      // Assert
      expect(config.users.map((u) => u.userName)).toEqual(['alice']);
    });

    it('reads a JSON string passed with -c', () => {
      // Act
      const config = loadIamKeyRotationConfig(
        contextOf({ iamKeyRotation: JSON.stringify({ users: [validUser] }) }),
      );

      // Assert
      expect(config.users).toHaveLength(1);
    });

    it('reads the file named by iamKeyRotationConfigFile', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(
        file,
        JSON.stringify({ users: [validUser, { ...validUser, userName: 'bob' }] }),
      );

      // Act
      const config = loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }));

      // Assert
      expect(config.users.map((u) => u.userName)).toEqual(['alice', 'bob']);
    });

    it('reads a JSON string that spans lines', () => {
      // Arrange
      const text = JSON.stringify({ users: [validUser] }, null, 2);

      // Act
      const config = loadIamKeyRotationConfig(contextOf({ iamKeyRotation: text }));

      // Assert
      expect(config.users.map((u) => u.userName)).toEqual(['alice']);
    });

    it('fails when no configuration is set, naming both ways to set it', () => {
      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({}))).toThrow(
        `iamKeyRotation: no configuration: name a JSON file with -c iamKeyRotationConfigFile=<file> (e.g. examples/users.json) or pass the JSON itself with -c iamKeyRotation='{"users":[...]}'`,
      );
    });

    it('fails when both the object and the file are set', () => {
      // Act & Assert
      expect(() =>
        loadIamKeyRotationConfig(
          contextOf({ iamKeyRotation: { users: [validUser] }, iamKeyRotationConfigFile: 'x.json' }),
        ),
      ).toThrow(
        'iamKeyRotationConfigFile: set either iamKeyRotation or iamKeyRotationConfigFile, not both (file "x.json")',
      );
    });

    it('fails when the file does not exist', () => {
      // Act & Assert
      expect(() =>
        loadIamKeyRotationConfig(
          contextOf({ iamKeyRotationConfigFile: '/nonexistent/users.json' }),
        ),
      ).toThrow('iamKeyRotationConfigFile: cannot read "/nonexistent/users.json"');
    });

    it('fails when the context string is not JSON, with line, column and what it received', () => {
      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotation: '{' }))).toThrow(
        /^iamKeyRotation: invalid JSON at line 1, column 2: .+ \(line 1: "\{"\) \(the CDK CLI passes only the first line of a -c value: write the JSON on one line, or put it in a file and use -c iamKeyRotationConfigFile=<file>\), got "\{"$/,
      );
    });

    it('fails when a context string over several lines is not JSON, on one line with line and column', () => {
      // Arrange
      const text = '{\n  users: []\n}';

      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotation: text }))).toThrow(
        /^iamKeyRotation: invalid JSON at line 2, column 3: [^\n]+ \(line 2: "users: \[\]"\)$/,
      );
    });

    it('fails when the file is not JSON, naming the file, the line and the column', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(file, '{\n  "users": [\n    {"userName": "alice",}\n  ]\n}\n');

      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }))).toThrow(
        `iamKeyRotationConfigFile "${file}": invalid JSON at line 3, column 26: `,
      );
    });

    it('reads a file that starts with a UTF-8 byte order mark', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(file, `\uFEFF${JSON.stringify({ users: [validUser] })}`, 'utf8');

      // Act
      const config = loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }));

      // Assert
      expect(config.users.map((u) => u.userName)).toEqual(['alice']);
    });

    it('names the placement file beside the configuration file and reads it', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(
        file,
        JSON.stringify({ users: [validUser, { ...validUser, userName: 'bob' }] }),
      );
      writeFileSync(
        path.join(directory, 'users.placement.json'),
        JSON.stringify({ version: 1, stacks: [{ stack: 'Keys-7', users: ['bob'] }] }),
      );

      // Act
      const config = loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }));

      // Assert
      expect(config.placementFile).toBe(path.join(directory, 'users.placement.json'));
      expect(config.users.map((u) => [u.userName, u.stackName])).toEqual([
        ['alice', 'IamKeyRotation'],
        ['bob', 'Keys-7'],
      ]);
    });

    it('fails when the placement file would move a user, naming the user, both stacks and allowStackMove', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(file, JSON.stringify({ users: [{ ...validUser, stack: 'Other' }] }));
      writeFileSync(
        path.join(directory, 'users.placement.json'),
        JSON.stringify({ version: 1, stacks: [{ stack: 'IamKeyRotation', users: ['alice'] }] }),
      );

      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }))).toThrow(
        /^iamKeyRotation\.users\[0\]\.stack: user "alice" is placed in stack "IamKeyRotation" \(the default account, the default region\) by the placement file ".*users\.placement\.json", but this configuration puts it in stack "Other" .*set "allowStackMove": true on this user to accept the move$/,
      );
    });

    it('fails when the placement file is not a placement, naming the field and the expected value', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(file, JSON.stringify({ users: [validUser] }));
      writeFileSync(path.join(directory, 'users.placement.json'), '{"version": 2, "stacks": []}');

      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }))).toThrow(
        /^iamKeyRotationPlacementFile ".*users\.placement\.json"\.version: expected 1, got 2$/,
      );
    });

    it('fails when a long context string is not JSON, quoting only its start', () => {
      // Arrange
      const text = `{"users": [${'"x", '.repeat(100)}`;

      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotation: text }))).toThrow(
        `got ${JSON.stringify(text.slice(0, 120))}... (${text.length} characters)`,
      );
    });

    it('fails when the file names a bad field, naming the field and value', () => {
      // Arrange
      directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-config-'));
      const file = path.join(directory, 'users.json');
      writeFileSync(file, JSON.stringify({ users: [{ ...validUser, schedule: 'rate(2 hours)' }] }));

      // Act & Assert
      expect(() => loadIamKeyRotationConfig(contextOf({ iamKeyRotationConfigFile: file }))).toThrow(
        'iamKeyRotation.users[0].schedule: rate in hours must be a whole number of at least 4, got 2',
      );
    });
  });
});
