/**
 * The SMTP client of the SES SMTP test, bundled into a file of its own (`smtp-login-client.cjs`
 * beside the function's `index.cjs`) and loaded only when a secret asks for the test: nodemailer's
 * SMTP connection is about 47 KB that no other rotation needs. It imports nothing of the rest of
 * the function but types, so its errors are recognised by name and `kind`, not by class.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type {
  SmtpEndpoint,
  SmtpLoginAttempt,
  SmtpLoginClient,
  SmtpLoginFailure,
  SmtpLoginFailureKind,
} from './ses-smtp-login.js';

/** A failed login attempt (see {@link SmtpLoginFailure}). */
class SmtpLoginError extends Error implements SmtpLoginFailure {
  public override readonly name = 'SmtpLoginError';

  public constructor(
    public readonly kind: SmtpLoginFailureKind,
    message: string,
  ) {
    super(message);
  }
}

const UNREACHABLE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS']);

/**
 * Codes of a refused TLS handshake or certificate, which nodemailer reports as a socket error
 * (`ESOCKET`) with the TLS code kept as `originalCode`.
 */
const TLS_FAILURE_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|^ERR_TLS|^ERR_SSL/;

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 200);

/**
 * Classifies what nodemailer threw: `EAUTH` is a refused login, `ETLS` or a TLS `originalCode`
 * a refused handshake, a connection error an unreachable endpoint, anything else a protocol
 * failure. The message gives the endpoint, the codes and the server's reply (e.g. "535
 * Authentication Credentials Invalid": the client sends the password base64-encoded and the
 * server does not echo it) or, without a reply, the client's own text; never a password.
 */
export const classifySmtpFailure = (error: unknown, endpoint: SmtpEndpoint): SmtpLoginFailure => {
  const fields = (error ?? {}) as {
    code?: unknown;
    originalCode?: unknown;
    responseCode?: unknown;
    response?: unknown;
  };
  const code = typeof fields.code === 'string' ? fields.code : 'unknown error';
  const originalCode = typeof fields.originalCode === 'string' ? fields.originalCode : undefined;
  const reply =
    typeof fields.response === 'string'
      ? oneLine(fields.response)
      : typeof fields.responseCode === 'number'
        ? String(fields.responseCode)
        : error instanceof Error && code !== 'EAUTH'
          ? oneLine(error.message)
          : '';
  const kind: SmtpLoginFailureKind =
    code === 'EAUTH'
      ? 'rejected'
      : code === 'ETLS' || (originalCode !== undefined && TLS_FAILURE_CODE.test(originalCode))
        ? 'tls'
        : UNREACHABLE_CODES.has(code)
          ? 'unreachable'
          : 'protocol';
  const codes = originalCode === undefined ? code : `${code}/${originalCode}`;
  return new SmtpLoginError(
    kind,
    `${endpoint.host}:${endpoint.port} ${codes}${reply === '' ? '' : ` (${reply})`}`,
  );
};

const timeoutError = (timeoutMs: number): Error =>
  Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });

/**
 * Connects, upgrades with STARTTLS (required: never a password in plain text), logs in with
 * AUTH LOGIN and quits. Rejects with a classified failure, also when the whole attempt outlasts
 * `timeoutMs`.
 */
export const smtpLogin: SmtpLoginClient = async (attempt: SmtpLoginAttempt): Promise<void> => {
  const connection = new SMTPConnection({
    host: attempt.host,
    port: attempt.port,
    secure: false,
    requireTLS: true,
    connectionTimeout: attempt.timeoutMs,
    greetingTimeout: attempt.timeoutMs,
    socketTimeout: attempt.timeoutMs,
    socketCloseTimeout: 0,
    logger: false,
    debug: false,
    // nodemailer sends the host name as SNI (servername) unless it is an IP address.
    tls: { rejectUnauthorized: attempt.verifyCertificate },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(timeoutError(attempt.timeoutMs));
      }, attempt.timeoutMs);
      // Kept for the connection's life: an error after the login (a reset while quitting) is
      // then ignored instead of being thrown as an unhandled 'error' event.
      connection.on('error', reject);
      connection.connect(() => {
        connection.login(
          { user: attempt.username, pass: attempt.password, method: 'LOGIN' },
          (error) => {
            if (error) reject(error);
            else resolve();
          },
        );
      });
    });
    connection.quit();
  } catch (error) {
    throw classifySmtpFailure(error, attempt);
  } finally {
    clearTimeout(timer);
    connection.close();
  }
};
