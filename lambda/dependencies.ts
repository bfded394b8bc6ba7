import { Logger } from '@aws-lambda-powertools/logger';
import { IAMClient } from '@aws-sdk/client-iam';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { IamAccessKeyStore } from './aws/iam-access-key-store.js';
import { SecretsManagerSecretStore } from './aws/secrets-manager-secret-store.js';
import { StsCallerIdentityService } from './aws/sts-caller-identity.js';
import type { Clock, RotationServices } from './rotation/step-context.js';

export type { Clock } from './rotation/step-context.js';

/** Everything the handler needs, built once per Lambda container. */
export interface HandlerDependencies extends RotationServices {
  readonly logger: Logger;
}

/**
 * Settings shared by every SDK client, for tests and local runs (a simulated request
 * handler, a region, fixed credentials). Left empty, the SDK's default configuration
 * applies, so `AWS_REGION` and `AWS_ENDPOINT_URL*` work as usual.
 */
export type ClientOverrides = Pick<
  SecretsManagerClientConfig,
  'region' | 'credentials' | 'requestHandler' | 'maxAttempts' | 'retryStrategy' | 'endpoint'
>;

export interface DependencyOptions {
  readonly clientConfig?: ClientOverrides;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (milliseconds) =>
    new Promise((resolve) => {
      setTimeout(resolve, milliseconds);
    }),
};

export const SERVICE_NAME = 'iam-key-rotation';

/** The only place that constructs AWS SDK clients. */
export const defaultDependencies = (options: DependencyOptions = {}): HandlerDependencies => {
  const clientConfig = options.clientConfig ?? {};
  const secretsManager = new SecretsManagerClient({ ...clientConfig });
  const iam = new IAMClient({ ...(clientConfig as object) });
  return {
    secrets: new SecretsManagerSecretStore(secretsManager),
    iam: new IamAccessKeyStore(iam),
    sts: new StsCallerIdentityService(
      (credentials) => new STSClient({ ...(clientConfig as object), credentials }),
    ),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? new Logger({ serviceName: SERVICE_NAME }),
  };
};
