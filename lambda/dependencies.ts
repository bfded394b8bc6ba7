import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { IAMClient } from '@aws-sdk/client-iam';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { IamAccessKeyStore } from './aws/iam-access-key-store.js';
import type {
  RetirementScheduler,
  SchedulerEndpointOptions,
} from './aws/scheduler-retirement-schedules.js';
import { SecretsManagerSecretStore } from './aws/secrets-manager-secret-store.js';
import {
  LazySmtpLoginService,
  SES_SMTP_ENDPOINT_ENV,
  type SmtpLoginClient,
  type SmtpLoginService,
} from './aws/ses-smtp-login.js';
import { STS_ATTEMPT_TIMEOUT_MS, StsCallerIdentityService } from './aws/sts-caller-identity.js';
import { InvalidSettingsError } from './errors.js';
import { SES_SMTP_TEST_TAG_KEY } from './rotation/binding.js';
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
  /**
   * SES SMTP logins for testSecret's SMTP check.
   * @default - nodemailer's SMTP connection, loaded on first use, to `email-smtp.<region>.amazonaws.com:587`
   * or to the `host:port` of `AWS_ENDPOINT_URL_SES_SMTP` in `environment`
   */
  readonly smtpLogin?: SmtpLoginService;
}

/**
 * Set only in the function's asset, by esbuild's `define` (lib/rotation-bundling.ts): the file,
 * beside `index.cjs`, into which the SMTP client is bundled (an entry point of the asset's build,
 * which esbuild then names in the import below), or `''` in the asset of a stack without an SMTP
 * test, which has no such file.
 */
declare const IAM_KEY_ROTATION_SMTP_CLIENT_FILE: string | undefined;

/**
 * Loads the SMTP client when the first SMTP test runs (in the asset, from its own file). A
 * function whose secrets have no SMTP test never loads it; in the asset of a stack without one,
 * the import is dead code esbuild leaves out, and the loader refuses the test.
 */
export const loadSmtpLoginClient = async (): Promise<SmtpLoginClient> => {
  // typeof first: outside the asset the name is not defined at all.
  const module =
    typeof IAM_KEY_ROTATION_SMTP_CLIENT_FILE === 'string' &&
    IAM_KEY_ROTATION_SMTP_CLIENT_FILE === ''
      ? undefined
      : await import('./aws/smtp-login-client.js');
  if (module === undefined) {
    throw new InvalidSettingsError(
      `this rotation function was built without the SMTP client of the SES SMTP login test: no user of its stack has "sesSmtpTest": true, yet the secret's tag ${SES_SMTP_TEST_TAG_KEY} asks for the test; set "sesSmtpTest": true for the user in the configuration and deploy, or remove the tag`,
    );
  }
  return module.smtpLogin;
};

/**
 * Memoizes an asynchronous load: the first call starts it, later calls share it, and a failed
 * load is started again by the next call (a module that failed to load is not cached as failed).
 */
export const loadOnce = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
};

/**
 * The grace period's scheduler, loaded when finishSecret first schedules a retirement: a
 * function without a grace period, and every other step, never load it.
 */
export const lazyRetirementScheduler = (options: SchedulerEndpointOptions): RetirementScheduler => {
  const load = loadOnce(async () => {
    const { EventBridgeRetirementScheduler } =
      await import('./aws/scheduler-retirement-schedules.js');
    return new EventBridgeRetirementScheduler(options);
  });
  return {
    createOneTimeSchedule: async (schedule) => (await load()).createOneTimeSchedule(schedule),
    getOneTimeSchedule: async (name, group) => (await load()).getOneTimeSchedule(name, group),
  };
};

/**
 * Request timeouts of the Secrets Manager and IAM clients: a call that hangs (a VPC without an
 * endpoint, a dead connection) fails with a TimeoutError the SDK retries, instead of running
 * into the Lambda timeout with nothing logged.
 */
export const CONNECTION_TIMEOUT_MS = 3_000;
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Attempts per IAM call. IAM throttles each API with its own token bucket and publishes no
 * rates: with a thousand users rotating in one account, a step that meets `Throttling` waits
 * and tries again (the SDK's adaptive mode also slows this client down after a throttle) rather
 * than failing the step, within the function's timeout.
 */
export const IAM_MAX_ATTEMPTS = 6;

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
  // finishSecret's AWSCURRENT move is sent once: a retry stalled in backoff could undo a rollback.
  // Created when finishSecret first moves AWSCURRENT, not at every cold start.
  const secretsManagerOnce = (): SecretsManagerClient =>
    new SecretsManagerClient({
      requestHandler: clientConfig.requestHandler,
      ...(overrides as object),
      maxAttempts: 1,
    });
  // Adaptive retry: throttling errors back off and rate-limit the client; overrides (tests, the
  // simulation) may still set their own retry strategy.
  const iam = new IAMClient({
    retryMode: 'adaptive',
    maxAttempts: IAM_MAX_ATTEMPTS,
    ...(clientConfig as object),
  });
  const environment = options.environment ?? process.env;
  const schedulerEndpoint =
    (options.clientConfig?.endpoint as string | undefined) ??
    environment.AWS_ENDPOINT_URL_SCHEDULER ??
    environment.AWS_ENDPOINT_URL;
  const scheduler =
    options.retirementScheduler ??
    lazyRetirementScheduler({
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
    secrets: new SecretsManagerSecretStore(secretsManager, secretsManagerOnce),
    iam: new IamAccessKeyStore(iam),
    scheduler,
    // One attempt per call and a request timeout: testSecret retries by itself, within its
    // deadline, so an attempt can never outlast the time it was given.
    // The STS client is loaded when testSecret first needs it.
    sts: new StsCallerIdentityService(
      async (credentials) =>
        new (await import('@aws-sdk/client-sts')).STSClient({
          requestHandler: {
            connectionTimeout: CONNECTION_TIMEOUT_MS,
            requestTimeout: STS_ATTEMPT_TIMEOUT_MS,
          },
          ...(overrides as object),
          maxAttempts: 1,
          credentials,
        }),
    ),
    smtp:
      options.smtpLogin ??
      new LazySmtpLoginService(loadSmtpLoginClient, environment[SES_SMTP_ENDPOINT_ENV]),
    clock: options.clock ?? systemClock,
    logger,
    metrics: options.metrics ?? createMetrics(logger),
    settings,
  };
};
