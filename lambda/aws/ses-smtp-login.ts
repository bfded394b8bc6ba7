import { InvalidSettingsError } from '../errors.js';

/** The SES SMTP port with STARTTLS. */
export const SES_SMTP_PORT = 587;

/**
 * Environment variable that sends every SMTP login to one `host:port` instead of
 * `email-smtp.<region>.amazonaws.com:587` (tests and the local simulation). TLS certificates are
 * checked as usual, except for `127.0.0.1`, where a test server's self-signed one is accepted.
 */
export const SES_SMTP_ENDPOINT_ENV = 'AWS_ENDPOINT_URL_SES_SMTP';

/**
 * How long one SMTP login attempt (connect, STARTTLS, AUTH LOGIN) may take. testSecret starts an
 * attempt only when this much time is left before its deadline.
 */
export const SMTP_ATTEMPT_TIMEOUT_MS = 5_000;

/** The only host on which an endpoint override may skip the certificate check. */
const LOOPBACK_HOST = '127.0.0.1';

/** Where one region's SMTP login goes. */
export interface SmtpEndpoint {
  readonly host: string;
  readonly port: number;
  /** Whether the server's certificate is checked (always, except for a 127.0.0.1 override). */
  readonly verifyCertificate: boolean;
}

/** What the separately bundled SMTP client (smtp-login-client.ts) is given for one attempt. */
export interface SmtpLoginAttempt extends SmtpEndpoint {
  readonly username: string;
  readonly password: string;
  readonly timeoutMs: number;
}

/**
 * One login attempt: connect, STARTTLS (required), AUTH LOGIN, QUIT. Resolves when the server
 * accepted the password; rejects with an {@link SmtpLoginFailure} otherwise.
 */
export type SmtpLoginClient = (attempt: SmtpLoginAttempt) => Promise<void>;

/**
 * Why a login failed:
 * - `rejected`: the server refused the credentials (535): a new key IAM has not propagated yet,
 *   or a wrong password;
 * - `unreachable`: no connection, or it broke or timed out (no network path to port 587?);
 * - `tls`: STARTTLS failed or the certificate was refused (no password was sent);
 * - `protocol`: anything else the server or client reported.
 */
export type SmtpLoginFailureKind = 'rejected' | 'unreachable' | 'tls' | 'protocol';

/**
 * A failed login attempt, as the SMTP client file throws it (an `Error` named `SmtpLoginError`:
 * that file is bundled on its own, so its classes are not this bundle's). The message names the
 * endpoint, the client's codes and the server's reply, never a password.
 */
export interface SmtpLoginFailure extends Error {
  readonly name: 'SmtpLoginError';
  readonly kind: SmtpLoginFailureKind;
}

export const isSmtpLoginFailure = (error: unknown): error is SmtpLoginFailure =>
  error instanceof Error && error.name === 'SmtpLoginError' && 'kind' in error;

/** SES SMTP logins, one attempt per call. */
export interface SmtpLoginService {
  /** The longest one attempt can take. */
  readonly attemptTimeoutMs: number;
  /** Where the login for `region` goes. */
  endpoint(region: string): SmtpEndpoint;
  /** @throws SmtpLoginFailure when the attempt fails */
  login(input: { region: string; username: string; password: string }): Promise<void>;
}

const HOST_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/**
 * Parses the endpoint override `host:port`.
 *
 * @throws InvalidSettingsError naming the variable, the expected form and the value found
 */
export const parseSmtpEndpointOverride = (raw: string): SmtpEndpoint => {
  const match = /^(.+):(\d{1,5})$/.exec(raw);
  const host = match?.[1] ?? '';
  const port = Number(match?.[2]);
  if (!HOST_PATTERN.test(host) || !(port >= 1 && port <= 65_535)) {
    throw new InvalidSettingsError(
      `Environment variable ${SES_SMTP_ENDPOINT_ENV} must be host:port, like 127.0.0.1:2587, got ${JSON.stringify(raw.slice(0, 80))}`,
    );
  }
  return { host, port, verifyCertificate: host !== LOOPBACK_HOST };
};

/**
 * SES SMTP logins through an SMTP client that is loaded on first use: the client (nodemailer's
 * SMTP connection, and the classification of its errors) is bundled into a file of its own, so a
 * function whose secrets have no SMTP test never loads it.
 */
export class LazySmtpLoginService implements SmtpLoginService {
  private client?: Promise<SmtpLoginClient>;

  /**
   * @param loadClient loads the SMTP client (once; a failed load is tried again next time)
   * @param endpointOverride `AWS_ENDPOINT_URL_SES_SMTP`, if set
   */
  public constructor(
    private readonly loadClient: () => Promise<SmtpLoginClient>,
    private readonly endpointOverride?: string,
    public readonly attemptTimeoutMs: number = SMTP_ATTEMPT_TIMEOUT_MS,
  ) {}

  public endpoint(region: string): SmtpEndpoint {
    return this.endpointOverride === undefined || this.endpointOverride === ''
      ? { host: `email-smtp.${region}.amazonaws.com`, port: SES_SMTP_PORT, verifyCertificate: true }
      : parseSmtpEndpointOverride(this.endpointOverride);
  }

  public async login(input: { region: string; username: string; password: string }): Promise<void> {
    const endpoint = this.endpoint(input.region);
    this.client ??= this.loadClient().catch((error: unknown) => {
      this.client = undefined;
      throw error;
    });
    const client = await this.client;
    await client({
      ...endpoint,
      username: input.username,
      password: input.password,
      timeoutMs: this.attemptTimeoutMs,
    });
  }
}
