import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { IAMClient } from '@aws-sdk/client-iam';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { IamAccessKeyStore } from './aws/iam-access-key-store.js';
import {
  EventBridgeRetirementScheduler,
  type RetirementScheduler,
} from './aws/scheduler-retirement-schedules.js';
import { SecretsManagerSecretStore } from './aws/secrets-manager-secret-store.js';
import { STS_ATTEMPT_TIMEOUT_MS, StsCallerIdentityService } from './aws/sts-caller-identity.js';
import type { InvalidSettingsError } from './errors.js';
import type { MetricsSink } from './invocation-metrics.js';
import {
  METRIC_DIMENSION_SERVICE,
  METRIC_SERVICE_NAME,
  METRICS_NAMESPACE,
} from './observability.js';
import type { Clock, RotationServices } from './rotation/step-context.js';
import { parseRotationSettings, type RotationSettings } from './settings.js';

export type { Clock } from './rotation/step-context.js';

/** Everything the handler needs, built once per Lambda container. */
export interface HandlerDependencies extends RotationServices {
  readonly logger: Logger;
  /**
   * The invocation metrics (embedded metric format on stdout, beside the log lines), published
   * once at the end of every invocation.
   */
  readonly metrics: MetricsSink;
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
   * @default - Powertools Metrics in namespace METRICS_NAMESPACE with the `service` dimension
   */
  readonly metrics?: MetricsSink;
  /**
   * The environment the settings are read from.
   * @default process.env
   */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /**
   * Creates the grace period's schedules.
   * @default - CreateSchedule requests signed like the other clients' calls, sent by their handler
   */
  readonly retirementScheduler?: RetirementScheduler;
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

export const SERVICE_NAME = METRIC_SERVICE_NAME;

/** The function's metrics, with the one default dimension `service`. */
export const createMetrics = (logger?: Logger): Metrics =>
  new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRIC_SERVICE_NAME,
    defaultDimensions: { [METRIC_DIMENSION_SERVICE]: METRIC_SERVICE_NAME },
    ...(logger === undefined ? {} : { logger }),
  });

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
  const environment = options.environment ?? process.env;
  const schedulerEndpoint =
    (options.clientConfig?.endpoint as string | undefined) ??
    environment.AWS_ENDPOINT_URL_SCHEDULER ??
    environment.AWS_ENDPOINT_URL;
  const scheduler =
    options.retirementScheduler ??
    new EventBridgeRetirementScheduler({
      region: () => secretsManager.config.region(),
      credentials: (identityProperties) => secretsManager.config.credentials(identityProperties),
      requestHandler: secretsManager.config.requestHandler,
      ...(schedulerEndpoint === undefined || schedulerEndpoint === ''
        ? {}
        : { endpoint: schedulerEndpoint }),
      sleep: (milliseconds) => (options.clock ?? systemClock).sleep(milliseconds),
    });
  const logger = options.logger ?? new Logger({ serviceName: SERVICE_NAME });
  let settings: RotationSettings | InvalidSettingsError;
  try {
    settings = parseRotationSettings(environment);
  } catch (error) {
    settings = error as InvalidSettingsError;
  }
  return {
    secrets: new SecretsManagerSecretStore(secretsManager),
    iam: new IamAccessKeyStore(iam),
    scheduler,
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
    logger,
    metrics: options.metrics ?? createMetrics(logger),
    settings,
  };
};
