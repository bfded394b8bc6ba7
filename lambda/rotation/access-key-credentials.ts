import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';

/**
 * An IAM access key pair. The secret access key lives in a private field and is redacted from
 * `JSON.stringify`, `util.inspect` and `String()`, so an accidental log line cannot leak it.
 * Only {@link AccessKeyCredentials.toAwsCredentials} and {@link AccessKeyCredentials.toSecretFields}
 * hand it out, for signing and for storing.
 */
export class AccessKeyCredentials {
  readonly #secretAccessKey: string;

  public constructor(
    public readonly accessKeyId: string,
    secretAccessKey: string,
  ) {
    this.#secretAccessKey = secretAccessKey;
  }

  /** Credentials for an SDK client that signs with this key. */
  public toAwsCredentials(): { accessKeyId: string; secretAccessKey: string } {
    return { accessKeyId: this.accessKeyId, secretAccessKey: this.#secretAccessKey };
  }

  /** The fields of the stored secret value. */
  public toSecretFields(): { AccessKeyId: string; SecretAccessKey: string } {
    return { AccessKeyId: this.accessKeyId, SecretAccessKey: this.#secretAccessKey };
  }

  public toJSON(): { accessKeyId: string; secretAccessKey: string } {
    return { accessKeyId: this.accessKeyId, secretAccessKey: REDACTED };
  }

  public toString(): string {
    return `AccessKeyCredentials(${this.accessKeyId}, ${REDACTED})`;
  }

  public [inspect.custom](): string {
    return this.toString();
  }
}
