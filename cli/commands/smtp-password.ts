import { InvalidSecretValueError } from '../../lambda/errors.js';
import { deriveSesSmtpPassword } from '../../lambda/rotation/ses-smtp-password.js';
import { parseSecretValue } from '../../lambda/rotation/secret-value.js';
import type { CliIo } from '../dependencies.js';
import { EXIT_OK, UsageError, type ExitCode } from '../errors.js';

/** More than any input this command reads (a key, a SecretString, get-secret-value's output). */
const MAX_INPUT_BYTES = 16_384;

/** A secret access key as IAM issues it: 40 characters of base64's alphabet. */
const SECRET_ACCESS_KEY_PATTERN = /^[A-Za-z0-9/+]{40}$/;

const EXPECTED =
  'expected one secret access key (40 characters) or a SecretString of this project ({"UserName","AccessKeyId","SecretAccessKey"}), or get-secret-value output holding one';

export interface SmtpPasswordDependencies {
  readonly io: Pick<CliIo, 'stdout'>;
  /** The whole of standard input. */
  readonly readStdin: () => Promise<string>;
}

/** Reads standard input to its end, refusing more than {@link MAX_INPUT_BYTES}. */
export const readProcessStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_INPUT_BYTES) {
      throw new UsageError(
        `smtp-password: standard input holds more than ${MAX_INPUT_BYTES} bytes; ${EXPECTED}`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The secret access key in `input`: the key itself, a SecretString of this project, or the
 * output of `aws secretsmanager get-secret-value` (its `SecretString` field holds one).
 *
 * @throws UsageError saying what was expected; never quoting the input
 */
export const secretAccessKeyOf = (input: string): string => {
  const text = input.trim();
  if (text === '') {
    throw new UsageError(
      `smtp-password: nothing on standard input; ${EXPECTED}. Pipe it in, e.g. from a file: iam-key-rotation smtp-password --region eu-west-1 < secret-access-key.txt`,
    );
  }
  if (!text.startsWith('{')) {
    if (SECRET_ACCESS_KEY_PATTERN.test(text)) return text;
    throw new UsageError(
      `smtp-password: standard input is not a secret access key (${String(text.length)} characters${/\s/.test(text) ? ', more than one word' : ''}); ${EXPECTED}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new UsageError(`smtp-password: standard input is not valid JSON; ${EXPECTED}`);
  }
  const secretString =
    isRecord(document) && typeof document.SecretString === 'string' ? document.SecretString : text;
  let secretAccessKey: string | undefined;
  try {
    secretAccessKey = parseSecretValue(secretString, {
      secretId: 'on standard input',
      version: 'SecretString',
    }).credentials?.toSecretFields().SecretAccessKey;
  } catch (error) {
    if (!(error instanceof InvalidSecretValueError)) throw error;
    throw new UsageError(`smtp-password: ${error.message}; ${EXPECTED}`);
  }
  if (secretAccessKey === undefined) {
    throw new UsageError(
      `smtp-password: the SecretString on standard input holds no access key ({"UserName"} only: its first rotation has not run); ${EXPECTED}`,
    );
  }
  if (!SECRET_ACCESS_KEY_PATTERN.test(secretAccessKey)) {
    throw new UsageError(
      `smtp-password: field SecretAccessKey of the SecretString is not a secret access key (40 characters); ${EXPECTED}`,
    );
  }
  return secretAccessKey;
};

/**
 * `iam-key-rotation smtp-password --region <region>`: reads a secret access key (or a
 * SecretString holding one) on standard input and prints its Amazon SES SMTP password for the
 * region (AWS's algorithm). Nothing on stderr on success; the key is never printed, and neither
 * it nor the input is quoted in an error.
 */
export const runSmtpPassword = async (
  deps: SmtpPasswordDependencies,
  options: { readonly region: string },
): Promise<ExitCode> => {
  const secretAccessKey = secretAccessKeyOf(await deps.readStdin());
  deps.io.stdout(`${deriveSesSmtpPassword(secretAccessKey, options.region)}\n`);
  return EXIT_OK;
};
