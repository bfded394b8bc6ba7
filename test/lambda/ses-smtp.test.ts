import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SES_SMTP_ENDPOINT_ENV } from '../../lambda/aws/ses-smtp-login.js';
import { AccessKeyTestError, InvalidSecretTagError } from '../../lambda/errors.js';
import { deriveSesSmtpPassword } from '../../lambda/rotation/ses-smtp-password.js';
import {
  SES_SMTP_REGIONS_TAG_KEY,
  SES_SMTP_TEST_TAG_KEY,
} from '../../lambda/rotation/ses-smtp-settings.js';
import { FakeAws } from '../support/fake-aws.js';
import { LocalSesSmtpServer } from '../support/local-ses-smtp-server.js';
import { LogCapture } from '../support/log-capture.js';
import { createTestRotation, type TestRotation } from '../support/rotation-harness.js';

/**
 * SES SMTP credentials: createSecret stores SmtpUsername and SmtpPasswords beside the key, and
 * testSecret logs in (STARTTLS, AUTH LOGIN) to a real SMTP server on 127.0.0.1 that checks the
 * password with AWS's algorithm, through nodemailer's SMTP connection.
 */
const USER = 'ses-smtp-sender';
const SECRET = 'iam-key-rotation/ses-smtp-sender';
const REGIONS = ['eu-west-1', 'us-east-1'];

let server: LocalSesSmtpServer;
let fake: FakeAws;
let logs: LogCapture;

beforeAll(async () => {
  server = await LocalSesSmtpServer.start({
    regions: REGIONS,
    secretFor: (accessKeyId) =>
      [...fake.users.values()].flat().find((key) => key.accessKeyId === accessKeyId)
        ?.secretAccessKey,
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(USER);
  fake.addSecret(SECRET, USER);
  server.logins.length = 0;
  server.rejectNext = 0;
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

const tagSecret = (tags: Record<string, string>): void => {
  Object.assign(fake.secret(SECRET).tags, tags);
};

const rotation = (): TestRotation =>
  createTestRotation(fake, SECRET, { environment: { [SES_SMTP_ENDPOINT_ENV]: server.endpoint } });

describe('Function: createHandler, SES SMTP credentials', () => {
  it('stores SmtpUsername and one SmtpPasswords entry per tagged region in the same PutSecretValue', async () => {
    // Arrange
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: REGIONS.join(' ') });
    const test = rotation();
    fake.startRotation(SECRET, 'v2');

    // Act
    await test.step('createSecret', 'v2');

    // Assert
    const key = fake.key(USER, -1);
    const pending = fake.valueOf(SECRET, 'AWSPENDING') as Record<string, unknown>;
    expect(pending).toEqual({
      UserName: USER,
      AccessKeyId: key.accessKeyId,
      SecretAccessKey: key.secretAccessKey,
      SmtpUsername: key.accessKeyId,
      SmtpPasswords: {
        'eu-west-1': deriveSesSmtpPassword(key.secretAccessKey, 'eu-west-1'),
        'us-east-1': deriveSesSmtpPassword(key.secretAccessKey, 'us-east-1'),
      },
      ReplacesVersionId: 'initial-version',
    });
    expect(fake.secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it('keeps exactly the value of today for a secret without SMTP tags, and never logs in', async () => {
    // Arrange
    const test = rotation();

    // Act
    await test.rotate('v2');

    // Assert
    expect(Object.keys(fake.valueOf(SECRET, 'AWSCURRENT') ?? {})).toEqual([
      'UserName',
      'AccessKeyId',
      'SecretAccessKey',
      'ReplacesVersionId',
    ]);
    expect(server.logins).toEqual([]);
  });

  it('stores the passwords without logging in when ses-smtp-test is not "true"', async () => {
    // Arrange
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: 'false' });

    // Act
    await rotation().rotate('v2');

    // Assert
    expect(fake.valueOf(SECRET, 'AWSCURRENT')?.SmtpUsername).toBe(fake.key(USER, -1).accessKeyId);
    expect(server.logins).toEqual([]);
  });

  it('testSecret logs in to each region over STARTTLS with AUTH LOGIN, and the rotation completes', async () => {
    // Arrange
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: REGIONS.join(' '), [SES_SMTP_TEST_TAG_KEY]: 'true' });

    // Act
    await rotation().rotate('v2');

    // Assert
    const key = fake.key(USER, -1);
    expect(server.logins).toEqual([
      {
        username: key.accessKeyId,
        method: 'LOGIN',
        secure: true,
        region: 'eu-west-1',
        accepted: true,
      },
      {
        username: key.accessKeyId,
        method: 'LOGIN',
        secure: true,
        region: 'us-east-1',
        accepted: true,
      },
    ]);
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe('v2');
    for (const region of REGIONS) {
      expect(logs.text).not.toContain(deriveSesSmtpPassword(key.secretAccessKey, region));
    }
    expect(logs.text).not.toContain(key.secretAccessKey);
  });

  it('retries a refused login while the key propagates, on the STS test schedule', async () => {
    // Arrange
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: 'true' });
    server.rejectNext = 3;
    const test = rotation();

    // Act
    await test.rotate('v2');

    // Assert
    expect(server.logins.map((login) => login.accepted)).toEqual([false, false, false, true]);
    expect(test.clock.sleeps).toEqual([100, 200, 400]);
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe('v2');
  });

  it('fails when the password is refused until the deadline, keeping AWSPENDING, with an error that names the endpoint', async () => {
    // Arrange: the stored password is of another region than the server accepts
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: 'ap-south-1', [SES_SMTP_TEST_TAG_KEY]: 'true' });
    const test = rotation();
    fake.startRotation(SECRET, 'v2');
    await test.step('createSecret', 'v2');
    await test.step('setSecret', 'v2');

    // Act
    const outcome = test.step('testSecret', 'v2', 12_000);

    // Assert
    await expect(outcome).rejects.toThrow(AccessKeyTestError);
    await expect(outcome).rejects.toThrow(
      new RegExp(
        `SES SMTP login to ${server.endpoint} \\(region ap-south-1\\) as ${fake.key(USER, -1).accessKeyId} was still refused \\(${server.endpoint} EAUTH \\(535 Authentication Credentials Invalid\\)\\) after \\d+ attempts over \\d+ ms`,
      ),
    );
    expect(server.logins.length).toBeGreaterThan(3);
    expect(server.logins.every((login) => !login.accepted && login.secure)).toBe(true);
    expect(fake.versionWith(SECRET, 'AWSPENDING')).toBe('v2');
    expect(fake.versionWith(SECRET, 'AWSCURRENT')).toBe('initial-version');
  });

  it('fails at the deadline when the endpoint is unreachable, saying the function needs a path to port 587', async () => {
    // Arrange: nothing listens on port 1
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: 'true' });
    const test = createTestRotation(fake, SECRET, {
      environment: { [SES_SMTP_ENDPOINT_ENV]: '127.0.0.1:1' },
    });
    fake.startRotation(SECRET, 'v2');
    await test.step('createSecret', 'v2');
    await test.step('setSecret', 'v2');

    // Act: 10 s left, so the deadline is 7 s away and the last attempt starts by 2 s
    const outcome = test.step('testSecret', 'v2', 10_000);

    // Assert
    await expect(outcome).rejects.toThrow(
      /SES SMTP login to 127\.0\.0\.1:1 \(region eu-west-1\) as AKIA\w+ was still unreachable \(127\.0\.0\.1:1 ESOCKET\/ECONNREFUSED .*\) after 5 attempts over 1500 ms: the deadline left no time for another attempt \(each may take 5000 ms\)\. the function needs an outbound network path to port 587/,
    );
    expect(test.clock.sleeps).toEqual([100, 200, 400, 800]);
    expect(fake.versionWith(SECRET, 'AWSPENDING')).toBe('v2');
  });

  it('fails at once, sending no password, when the endpoint’s certificate is refused', async () => {
    // Arrange: the same server by a name other than 127.0.0.1, so its certificate is checked
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1', [SES_SMTP_TEST_TAG_KEY]: 'true' });
    const port = server.endpoint.split(':')[1] ?? '';
    const test = createTestRotation(fake, SECRET, {
      environment: { [SES_SMTP_ENDPOINT_ENV]: `localhost:${port}` },
    });
    fake.startRotation(SECRET, 'v2');
    await test.step('createSecret', 'v2');
    await test.step('setSecret', 'v2');

    // Act
    const outcome = test.step('testSecret', 'v2');

    // Assert
    await expect(outcome).rejects.toThrow(
      `testSecret: SES SMTP login to localhost:${port} (region eu-west-1) as ${fake.key(USER, -1).accessKeyId} failed: localhost:${port} ESOCKET/DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate). the TLS certificate or STARTTLS was refused; no password was sent. AWSPENDING is kept`,
    );
    expect(server.logins).toEqual([]);
    expect(test.clock.sleeps).toEqual([]);
    expect(fake.versionWith(SECRET, 'AWSPENDING')).toBe('v2');
  });

  it('fails when a tag is invalid, naming the tag, and changes nothing', async () => {
    // Arrange
    tagSecret({ [SES_SMTP_REGIONS_TAG_KEY]: 'eu-west-1 Mars' });
    const test = rotation();
    fake.startRotation(SECRET, 'v2');
    const before = fake.snapshot();

    // Act
    const outcome = test.step('createSecret', 'v2');

    // Assert
    await expect(outcome).rejects.toThrow(InvalidSecretTagError);
    await expect(outcome).rejects.toThrow(
      `tag ${SES_SMTP_REGIONS_TAG_KEY} must be distinct AWS region names separated by single spaces, like "eu-west-1 us-east-1", got "eu-west-1 Mars"`,
    );
    expect(fake.snapshot()).toEqual(before);
  });
});
