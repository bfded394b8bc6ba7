import { deriveSesSmtpPassword } from '../../lambda/rotation/ses-smtp-password.js';
import type { CliIo } from '../dependencies.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';

/** More than any secret access key (40 characters; the API allows far less than this). */
const MAX_INPUT_BYTES = 4_096;

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
      throw new CliError(
        `smtp-password: standard input holds more than ${MAX_INPUT_BYTES} bytes; expected one secret access key`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
};

/**
 * `iam-key-rotation smtp-password --region <region>`: reads a secret access key on standard
 * input and prints its Amazon SES SMTP password for the region (AWS's algorithm), for a key made
 * by hand. Nothing on stderr on success; the key is never printed, and neither it nor the input
 * is quoted in an error.
 */
export const runSmtpPassword = async (
  deps: SmtpPasswordDependencies,
  options: { readonly region: string },
): Promise<ExitCode> => {
  const secretAccessKey = (await deps.readStdin()).trim();
  if (secretAccessKey === '') {
    throw new CliError(
      'smtp-password: no secret access key on standard input; pipe it in, e.g. from a file: iam-key-rotation smtp-password --region eu-west-1 < secret-access-key.txt',
    );
  }
  if (/\s/.test(secretAccessKey)) {
    throw new CliError(
      'smtp-password: standard input holds more than one word; expected one secret access key (on one line)',
    );
  }
  deps.io.stdout(`${deriveSesSmtpPassword(secretAccessKey, options.region)}\n`);
  return EXIT_OK;
};
