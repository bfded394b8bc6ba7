import type { STSClient } from '@aws-sdk/client-sts';
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

/**
 * Builds the STS client of one session. Asynchronous, so that the STS client can be loaded when
 * testSecret first needs it (in the function's asset, a chunk of its own that the other steps
 * never load).
 */
export type StsClientFactory = (credentials: {
  accessKeyId: string;
  secretAccessKey: string;
}) => Promise<STSClient>;

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
    // Created at the first call, once per session; a failed load is tried again at the next.
    let client: Promise<STSClient> | undefined;
    return {
      getCallerIdentity: async () => {
        client ??= this.createClient(credentials.toAwsCredentials()).catch((error: unknown) => {
          client = undefined;
          throw error;
        });
        const [sts, { GetCallerIdentityCommand }] = await Promise.all([
          client,
          import('@aws-sdk/client-sts'),
        ]);
        const output = await sts.send(new GetCallerIdentityCommand({}));
        return { arn: output.Arn ?? '', account: output.Account ?? '' };
      },
      close: () => {
        void client?.then(
          (sts) => {
            sts.destroy();
          },
          () => undefined,
        );
      },
    };
  }
}
