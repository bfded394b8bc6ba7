import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import { deriveSesSmtpPassword } from '../../lambda/rotation/ses-smtp-password.js';

/** One AUTH attempt the server saw. */
export interface SmtpLoginRecord {
  readonly username: string;
  readonly method: string;
  /** Whether the session had been upgraded with STARTTLS before AUTH. */
  readonly secure: boolean;
  /** The region whose SES SMTP password was given, or undefined for a wrong password. */
  readonly region: string | undefined;
  readonly accepted: boolean;
}

export interface LocalSesSmtpServerOptions {
  /** The regions whose password the server accepts (each login is checked against all). */
  readonly regions: readonly string[];
  /** The secret access key of an access key id, as IAM knows it. */
  readonly secretFor: (accessKeyId: string) => string | undefined;
}

/**
 * An SMTP server on 127.0.0.1 that behaves as SES SMTP does for a login: STARTTLS with a
 * self-signed certificate made for the test, AUTH LOGIN only and only over TLS, and a password
 * accepted only when it is the SES SMTP password (AWS's algorithm) of the user name's secret
 * access key for one of `regions`. `rejectNext` makes it refuse that many correct logins first,
 * as SES does while IAM propagates a new key.
 */
export class LocalSesSmtpServer {
  public readonly logins: SmtpLoginRecord[] = [];
  /** Correct logins still to refuse (IAM propagation). */
  public rejectNext = 0;
  private readonly server: SMTPServer;
  private port = 0;

  private constructor(
    private readonly options: LocalSesSmtpServerOptions,
    pems: { readonly private: string; readonly cert: string },
  ) {
    this.server = new SMTPServer({
      key: pems.private,
      cert: pems.cert,
      authMethods: ['LOGIN'],
      allowInsecureAuth: false,
      logger: false,
      disabledCommands: [],
      onAuth: (auth, session, callback) => {
        const accepted = this.check(
          auth.username ?? '',
          auth.password ?? '',
          auth.method,
          session.secure,
        );
        if (accepted) {
          callback(null, { user: auth.username });
        } else {
          callback(
            Object.assign(new Error('Authentication Credentials Invalid'), { responseCode: 535 }),
          );
        }
      },
    });
  }

  public static async start(options: LocalSesSmtpServerOptions): Promise<LocalSesSmtpServer> {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }]);
    const instance = new LocalSesSmtpServer(options, pems);
    await instance.listen();
    return instance;
  }

  /** `host:port`, the value of AWS_ENDPOINT_URL_SES_SMTP. */
  public get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  public close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  /** Records the attempt; true when the password is right and no refusal is left to give. */
  private check(username: string, password: string, method: string, secure: boolean): boolean {
    const secret = this.options.secretFor(username);
    const region =
      secret === undefined
        ? undefined
        : this.options.regions.find(
            (candidate) => deriveSesSmtpPassword(secret, candidate) === password,
          );
    let accepted = region !== undefined;
    if (accepted && this.rejectNext > 0) {
      this.rejectNext -= 1;
      accepted = false;
    }
    this.logins.push({ username, method, secure, region, accepted });
    return accepted;
  }
}
