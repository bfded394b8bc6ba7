import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  isSmtpLoginFailure,
  LazySmtpLoginService,
  parseSmtpEndpointOverride,
  SES_SMTP_ENDPOINT_ENV,
  type SmtpLoginClient,
} from '../../../lambda/aws/ses-smtp-login.js';
import { classifySmtpFailure } from '../../../lambda/aws/smtp-login-client.js';
import { loadSmtpLoginClient } from '../../../lambda/dependencies.js';
import { InvalidSettingsError } from '../../../lambda/errors.js';
import { deriveSesSmtpPassword } from '../../../lambda/rotation/ses-smtp-password.js';
import { LocalSesSmtpServer } from '../../support/local-ses-smtp-server.js';

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

let server: LocalSesSmtpServer;

beforeAll(async () => {
  server = await LocalSesSmtpServer.start({
    regions: ['eu-west-1'],
    secretFor: (accessKeyId) => (accessKeyId === KEY_ID ? SECRET : undefined),
  });
});

afterAll(async () => {
  await server.close();
});

describe('Class: LazySmtpLoginService', () => {
  describe('Method: endpoint', () => {
    it('is the region’s SES SMTP endpoint on port 587, certificate checked', () => {
      const service = new LazySmtpLoginService(loadSmtpLoginClient);
      expect(service.endpoint('eu-west-1')).toEqual({
        host: 'email-smtp.eu-west-1.amazonaws.com',
        port: 587,
        verifyCertificate: true,
      });
    });

    it('is the override for every region, relaxing the certificate check only for 127.0.0.1', () => {
      expect(new LazySmtpLoginService(loadSmtpLoginClient, '127.0.0.1:2587').endpoint('x')).toEqual(
        { host: '127.0.0.1', port: 2587, verifyCertificate: false },
      );
      expect(parseSmtpEndpointOverride('localhost:2587').verifyCertificate).toBe(true);
      expect(parseSmtpEndpointOverride('127.0.0.2:2587').verifyCertificate).toBe(true);
      expect(parseSmtpEndpointOverride('smtp.example.com:25').verifyCertificate).toBe(true);
    });

    it.each(['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'smtp://127.0.0.1:25', ':25', ''])(
      'fails when the override is %j, naming the variable',
      (raw) => {
        const attempt = (): unknown => parseSmtpEndpointOverride(raw);
        expect(attempt).toThrow(InvalidSettingsError);
        expect(attempt).toThrow(`Environment variable ${SES_SMTP_ENDPOINT_ENV} must be host:port`);
      },
    );
  });

  describe('Method: login', () => {
    it('logs in over STARTTLS with AUTH LOGIN, loading the SMTP client once, on first use', async () => {
      // Arrange
      const load = vi.fn(loadSmtpLoginClient);
      const service = new LazySmtpLoginService(load, server.endpoint);
      server.logins.length = 0;
      expect(load).not.toHaveBeenCalled();

      // Act
      for (let attempt = 0; attempt < 2; attempt += 1) {
        await service.login({
          region: 'eu-west-1',
          username: KEY_ID,
          password: deriveSesSmtpPassword(SECRET, 'eu-west-1'),
        });
      }

      // Assert
      expect(load).toHaveBeenCalledTimes(1);
      expect(server.logins).toEqual([
        { username: KEY_ID, method: 'LOGIN', secure: true, region: 'eu-west-1', accepted: true },
        { username: KEY_ID, method: 'LOGIN', secure: true, region: 'eu-west-1', accepted: true },
      ]);
    });

    it('fails with kind "rejected" for a wrong password, quoting the server and not the password', async () => {
      const service = new LazySmtpLoginService(loadSmtpLoginClient, server.endpoint);
      const password = deriveSesSmtpPassword(SECRET, 'us-east-1');

      const outcome = service.login({ region: 'eu-west-1', username: KEY_ID, password });

      await expect(outcome).rejects.toMatchObject({
        name: 'SmtpLoginError',
        kind: 'rejected',
        message: `${server.endpoint} EAUTH (535 Authentication Credentials Invalid)`,
      });
    });

    it('fails with kind "tls" and sends no password when the certificate is checked and self-signed', async () => {
      // Arrange: 127.0.0.1 by another name, so the certificate is verified
      const port = server.endpoint.split(':')[1] ?? '';
      const service = new LazySmtpLoginService(loadSmtpLoginClient, `localhost:${port}`);
      server.logins.length = 0;

      // Act
      const outcome = service.login({
        region: 'eu-west-1',
        username: KEY_ID,
        password: deriveSesSmtpPassword(SECRET, 'eu-west-1'),
      });

      // Assert
      await expect(outcome).rejects.toMatchObject({
        kind: 'tls',
        message: `localhost:${port} ESOCKET/DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)`,
      });
      expect(server.logins).toEqual([]);
    });

    it('fails with kind "unreachable" when nothing listens', async () => {
      const service = new LazySmtpLoginService(loadSmtpLoginClient, '127.0.0.1:1', 2_000);

      const outcome = service.login({ region: 'eu-west-1', username: KEY_ID, password: 'x' });

      await expect(outcome).rejects.toMatchObject({
        kind: 'unreachable',
        message: '127.0.0.1:1 ESOCKET/ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:1)',
      });
    });

    it('loads the client again after a failed load', async () => {
      const client: SmtpLoginClient = () => Promise.resolve();
      const load = vi
        .fn<() => Promise<SmtpLoginClient>>()
        .mockRejectedValueOnce(new Error('load failed'))
        .mockResolvedValue(client);
      const service = new LazySmtpLoginService(load, server.endpoint);
      const input = { region: 'eu-west-1', username: KEY_ID, password: 'x' };

      await expect(service.login(input)).rejects.toThrow('load failed');
      await expect(service.login(input)).resolves.toBeUndefined();
      expect(load).toHaveBeenCalledTimes(2);
    });
  });
});

describe('Function: classifySmtpFailure', () => {
  const endpoint = {
    host: 'email-smtp.eu-west-1.amazonaws.com',
    port: 587,
    verifyCertificate: true,
  };

  it.each([
    ['EAUTH', 'rejected'],
    ['ECONNECTION', 'unreachable'],
    ['ETIMEDOUT', 'unreachable'],
    ['ESOCKET', 'unreachable'],
    ['EDNS', 'unreachable'],
    ['ETLS', 'tls'],
    ['EPROTOCOL', 'protocol'],
    [undefined, 'protocol'],
    ['ESOCKET/CERT_HAS_EXPIRED', 'tls'],
    ['ESOCKET/ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['ESOCKET/ECONNRESET', 'unreachable'],
  ])('classifies code %s as %s', (codes, kind) => {
    const [code, originalCode] = codes?.split('/') ?? [];
    const failure = classifySmtpFailure(
      Object.assign(new Error('x'), {
        code,
        ...(originalCode === undefined ? {} : { originalCode }),
      }),
      endpoint,
    );
    expect(isSmtpLoginFailure(failure)).toBe(true);
    expect(failure.kind).toBe(kind);
    expect(failure.message).toMatch(/^email-smtp\.eu-west-1\.amazonaws\.com:587 /);
  });
});
