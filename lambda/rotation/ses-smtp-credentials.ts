import { inspect } from 'node:util';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { deriveSesSmtpPassword } from './ses-smtp-password.js';

const REDACTED = '[REDACTED]';

/**
 * The SES SMTP credentials stored beside an access key: `SmtpUsername` (the access key id) and
 * one password per region (`SmtpPasswords`). The passwords live in a private field and are
 * redacted from `JSON.stringify`, `util.inspect` and `String()`; only
 * {@link SesSmtpCredentials.password} and {@link SesSmtpCredentials.toSecretFields} hand them out,
 * for logging in and for storing.
 */
export class SesSmtpCredentials {
  readonly #passwords: ReadonlyMap<string, string>;

  public constructor(
    public readonly username: string,
    passwords: ReadonlyMap<string, string>,
  ) {
    this.#passwords = new Map(passwords);
  }

  /** The credentials of `credentials` for `regions`, derived with AWS's algorithm. */
  public static derive(
    credentials: AccessKeyCredentials,
    regions: readonly string[],
  ): SesSmtpCredentials {
    const { accessKeyId, secretAccessKey } = credentials.toAwsCredentials();
    return new SesSmtpCredentials(
      accessKeyId,
      new Map(regions.map((region) => [region, deriveSesSmtpPassword(secretAccessKey, region)])),
    );
  }

  /** The regions that have a password, in stored order. */
  public get regions(): readonly string[] {
    return [...this.#passwords.keys()];
  }

  /** The password for `region`, or `undefined` when none is stored. */
  public password(region: string): string | undefined {
    return this.#passwords.get(region);
  }

  /** The fields of the stored secret value. */
  public toSecretFields(): { SmtpUsername: string; SmtpPasswords: Record<string, string> } {
    return { SmtpUsername: this.username, SmtpPasswords: Object.fromEntries(this.#passwords) };
  }

  public toJSON(): { username: string; passwords: Record<string, string> } {
    return {
      username: this.username,
      passwords: Object.fromEntries(this.regions.map((region) => [region, REDACTED])),
    };
  }

  public toString(): string {
    return `SesSmtpCredentials(${this.username}, ${this.regions.join(' ')}: ${REDACTED})`;
  }

  public [inspect.custom](): string {
    return this.toString();
  }
}
