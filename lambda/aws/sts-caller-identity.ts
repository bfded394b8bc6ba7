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

export interface CallerIdentityService {
  open(credentials: AccessKeyCredentials): CallerIdentitySession;
}

export type StsClientFactory = (credentials: {
  accessKeyId: string;
  secretAccessKey: string;
}) => STSClient;

export class StsCallerIdentityService implements CallerIdentityService {
  public constructor(private readonly createClient: StsClientFactory) {}

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
