import { isSmtpLoginFailure, type SmtpLoginFailureKind } from '../aws/ses-smtp-login.js';
import { AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import { AccessKeyTestError } from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { deriveSesSmtpPassword } from './ses-smtp-password.js';
import type { SesSmtpCredentials } from './ses-smtp-credentials.js';
import type { StepContext } from './step-context.js';
import { testAttemptOffset } from './test-attempts.js';

/** How the last attempt for a region failed. */
interface LastFailure {
  readonly kind: SmtpLoginFailureKind;
  readonly detail: string;
}

/** What follows a failure of each kind (AWSPENDING is always kept, nothing is changed). */
const NEXT_STEP: Readonly<Record<SmtpLoginFailureKind, string>> = {
  rejected:
    'IAM may still be propagating the key; else check ses:SendRawEmail for the user in this region',
  unreachable: 'the function needs an outbound network path to port 587 (in a VPC: a NAT gateway)',
  tls: 'the TLS certificate or STARTTLS was refused; no password was sent',
  protocol: 'the server did not answer as SES SMTP does',
};

/**
 * testSecret's SES SMTP check, after the STS test: for each region, log in to its SES SMTP
 * endpoint (STARTTLS, AUTH LOGIN) as the access key id with the password the value holds (or, for
 * a region the value holds none for, the one derived from the key), until the server accepts it
 * or the step's deadline passes. Attempts follow the STS test's schedule, counted from the first
 * attempt for each region, and start only while one can end before the deadline. A refused TLS
 * handshake or an unexpected reply fails at once; a refused login or an unreachable endpoint is
 * retried, and fails at the deadline. Nothing is changed either way: AWSPENDING stays for Secrets
 * Manager's retry.
 */
export const proveSesSmtpLogins = async (
  context: StepContext,
  credentials: AccessKeyCredentials,
  stored: SesSmtpCredentials | undefined,
  regions: readonly string[],
): Promise<void> => {
  for (const region of regions) {
    let password = stored?.password(region);
    if (password === undefined) {
      context.log.warn(
        'testSecret: no stored SES SMTP password for this region; testing the derived one',
        { accessKeyId: credentials.accessKeyId, region },
      );
      password = deriveSesSmtpPassword(credentials.toAwsCredentials().secretAccessKey, region);
    }
    await proveLogin(context, credentials.accessKeyId, region, password);
  }
};

const proveLogin = async (
  context: StepContext,
  username: string,
  region: string,
  password: string,
): Promise<void> => {
  const { services, log, deadline } = context;
  const { smtp, clock } = services;
  const { attemptTimeoutMs } = smtp;
  const endpoint = smtp.endpoint(region);
  const where = `SES SMTP login to ${endpoint.host}:${endpoint.port} (region ${region}) as ${username}`;
  const startedAt = clock.now();
  let last: LastFailure | undefined;
  for (let attempt = 1; ; attempt += 1) {
    if (clock.now() + attemptTimeoutMs > deadline) {
      throw deadlineError(where, last, attempt - 1, clock.now() - startedAt, attemptTimeoutMs);
    }
    try {
      await smtp.login({ region, username, password });
      log.info('testSecret: the SES SMTP login succeeded', {
        accessKeyId: username,
        region,
        smtpEndpoint: `${endpoint.host}:${endpoint.port}`,
        attempts: attempt,
        waitedMs: clock.now() - startedAt,
      });
      return;
    } catch (error) {
      if (!isSmtpLoginFailure(error)) throw error;
      last = { kind: error.kind, detail: error.message };
      if (error.kind === 'tls' || error.kind === 'protocol') {
        throw failureError(where, `failed: ${error.message}`, error.kind);
      }
    }
    const nextAttemptAt = Math.max(startedAt + testAttemptOffset(attempt), clock.now());
    if (nextAttemptAt + attemptTimeoutMs > deadline) {
      throw deadlineError(where, last, attempt, clock.now() - startedAt, attemptTimeoutMs);
    }
    const delay = nextAttemptAt - clock.now();
    log.info('testSecret: the SES SMTP login did not succeed yet; retrying', {
      accessKeyId: username,
      region,
      failure: last.kind,
      attempt,
      retryInMs: delay,
    });
    if (delay > 0) await clock.sleep(delay);
  }
};

/** The step's error: what failed, then what follows; AWSPENDING stays for Secrets Manager's retry. */
const failureError = (
  where: string,
  what: string,
  kind?: SmtpLoginFailureKind,
): AccessKeyTestError =>
  new AccessKeyTestError(
    `testSecret: ${where} ${what}. ${kind === undefined ? '' : `${NEXT_STEP[kind]}. `}${AWSPENDING} is kept`,
  );

const deadlineError = (
  where: string,
  last: LastFailure | undefined,
  attempts: number,
  waitedMs: number,
  attemptTimeoutMs: number,
): AccessKeyTestError =>
  failureError(
    where,
    `${last === undefined ? 'could not start' : `was still ${last.kind === 'rejected' ? 'refused' : 'unreachable'} (${last.detail}) after ${attempts} attempts over ${waitedMs} ms`}: the deadline left no time for another attempt (each may take ${attemptTimeoutMs} ms)`,
    last?.kind,
  );
