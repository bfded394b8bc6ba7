import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { AccessKeyCredentials } from '../rotation/access-key-credentials.js';

export interface CallerIdentity {
  readonly arn: string;
  readonly account: string;
}

/** A session that signs STS calls with one access key. */
export interface CallerIdentitySession {
  getCallerIdentity(): Promise<CallerIdentity>;
  close(): void;
}

/**
 * How long one GetCallerIdentity attempt may take before the client gives up on it (its request
 * timeout). testSecret starts an attempt only when this much time is left before its deadline,
 * so the step always fails by itself before the Lambda timeout kills it.
 */
export const STS_ATTEMPT_TIMEOUT_MS = 5_000;

export interface CallerIdentityService {
  /** The longest one attempt can take (the client's request timeout, no SDK retries). */
  readonly attemptTimeoutMs: number;
  open(credentials: AccessKeyCredentials): CallerIdentitySession;
}

export type StsClientFactory = (credentials: {
  accessKeyId: string;
  secretAccessKey: string;
}) => STSClient;

export class StsCallerIdentityService implements CallerIdentityService {
  /**
   * @param createClient builds a client that signs with the given key, makes ONE attempt per
   *   call (testSecret retries by itself) and times a request out after `attemptTimeoutMs`
   */
  public constructor(
    private readonly createClient: StsClientFactory,
    public readonly attemptTimeoutMs: number = STS_ATTEMPT_TIMEOUT_MS,
  ) {}

  public open(credentials: AccessKeyCredentials): CallerIdentitySession {
    const client = this.createClient(credentials.toAwsCredentials());
    return {
      getCallerIdentity: async () => {
        const output = await client.send(new GetCallerIdentityCommand({}));
        return { arn: output.Arn ?? '', account: output.Account ?? '' };
      },
      close: () => {
        client.destroy();
      },
    };
  }
}
