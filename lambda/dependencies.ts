import { Logger } from '@aws-lambda-powertools/logger';
import { IAMClient } from '@aws-sdk/client-iam';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { IamAccessKeyStore } from './aws/iam-access-key-store.js';
import { SecretsManagerSecretStore } from './aws/secrets-manager-secret-store.js';
import { STS_ATTEMPT_TIMEOUT_MS, StsCallerIdentityService } from './aws/sts-caller-identity.js';
import type { InvalidSettingsError } from './errors.js';
import type { Clock, RotationServices } from './rotation/step-context.js';
import { parseRotationSettings, type RotationSettings } from './settings.js';

export type { Clock } from './rotation/step-context.js';

/** Everything the handler needs, built once per Lambda container. */
export interface HandlerDependencies extends RotationServices {
  readonly logger: Logger;
  /**
   * The function's settings, or why its environment is invalid: then every invocation fails
   * with that message before touching anything.
   */
  readonly settings: RotationSettings | InvalidSettingsError;
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
  /**
   * The environment the settings are read from.
   * @default process.env
   */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

/**
 * Request timeouts of the Secrets Manager and IAM clients: a call that hangs (a VPC without an
 * endpoint, a dead connection) fails with a TimeoutError the SDK retries, instead of running
 * into the Lambda timeout with nothing logged.
 */
export const CONNECTION_TIMEOUT_MS = 3_000;
export const REQUEST_TIMEOUT_MS = 10_000;

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
  // The test client makes one attempt per call: the shared retry strategy must not apply to it.
  const overrides: ClientOverrides = { ...options.clientConfig };
  delete (overrides as { retryStrategy?: unknown }).retryStrategy;
  const clientConfig = {
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    ...options.clientConfig,
  };
  const secretsManager = new SecretsManagerClient({ ...clientConfig });
  const iam = new IAMClient({ ...(clientConfig as object) });
  let settings: RotationSettings | InvalidSettingsError;
  try {
    settings = parseRotationSettings(options.environment ?? process.env);
  } catch (error) {
    settings = error as InvalidSettingsError;
  }
  return {
    secrets: new SecretsManagerSecretStore(secretsManager),
    iam: new IamAccessKeyStore(iam),
    // One attempt per call and a request timeout: testSecret retries by itself, within its
    // deadline, so an attempt can never outlast the time it was given.
    sts: new StsCallerIdentityService(
      (credentials) =>
        new STSClient({
          requestHandler: {
            connectionTimeout: CONNECTION_TIMEOUT_MS,
            requestTimeout: STS_ATTEMPT_TIMEOUT_MS,
          },
          ...(overrides as object),
          maxAttempts: 1,
          credentials,
        }),
    ),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? new Logger({ serviceName: SERVICE_NAME }),
    settings,
  };
};
