import { errorName } from './aws/aws-error.js';
import type { HandlerDependencies } from './dependencies.js';
import { InvalidSettingsError, RotationError } from './errors.js';
import {
  parseFunctionEvent,
  type FunctionEvent,
  type FunctionOperation,
  type RetirePreviousKeyEvent,
  type RotationEvent,
} from './event.js';
import { InvocationMeasurements, publishInvocationMetrics } from './invocation-metrics.js';
import { RETIRE_OPERATION } from './observability.js';
import {
  createSecret,
  finishSecret,
  retirePreviousKey,
  setSecret,
  testSecret,
} from './lazy-steps.js';
import { checkTokenVersion } from './rotation/guard.js';
import { verifyOwnership } from './rotation/ownership.js';
import type { RotationServices, StepContext } from './rotation/step-context.js';
import { stackSecretStore, verifyStackSecret } from './rotation/trust.js';

/** The part of the Lambda context the handler uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  /** The function's own ARN: the target of the grace period's schedules. */
  readonly invokedFunctionArn?: string;
}

export type RotationHandler = (event: unknown, context?: InvocationContext) => Promise<void>;

/** Time kept back from the Lambda timeout so a step can fail cleanly instead of being killed. */
export const DEADLINE_SAFETY_MARGIN_MS = 3_000;

/** The waiting budget when no Lambda context is given (a local run). */
export const DEFAULT_TIME_BUDGET_MS = 60_000;

/**
 * Name and message of an AWS service error (AWS's messages carry identifiers, not secret
 * values); only the name for anything else, whose message could quote data.
 */
const describeAwsError = (error: unknown): string => {
  const name = errorName(error) ?? 'unknown error';
  const isServiceError = typeof error === 'object' && error !== null && '$metadata' in error;
  return isServiceError && error instanceof Error ? `${name}: ${error.message}` : name;
};

const assertNever = (step: never): never => {
  throw new RotationError(`Unhandled rotation step ${String(step)}`);
};

/** Publishes the invocation's metrics; a failure to do so is logged, never thrown. */
const publishMetrics = (
  dependencies: HandlerDependencies,
  operation: FunctionOperation,
  outcome: 'succeeded' | 'failed',
  durationMs: number,
  measurements: InvocationMeasurements,
): void => {
  try {
    publishInvocationMetrics(dependencies.metrics, operation, outcome, durationMs, measurements);
  } catch (error) {
    dependencies.logger.warn('Could not publish the invocation metrics', {
      errorName: errorName(error),
    });
  }
};

/** Builds the rotation function from its dependencies; `handler.ts` wires the real ones. */
export const createHandler =
  (dependencies: HandlerDependencies): RotationHandler =>
  async (rawEvent, invocationContext) => {
    const { logger, clock } = dependencies;
    const startedAt = clock.now();
    let parsed: FunctionEvent;
    try {
      parsed = parseFunctionEvent(rawEvent);
    } catch (error) {
      logger.error('Rejected an invalid event', { error });
      throw error;
    }
    const operation = parsed.kind === 'step' ? parsed.event.Step : RETIRE_OPERATION;
    const measurements = new InvocationMeasurements();
    let outcome: 'succeeded' | 'failed' = 'failed';
    try {
      if (parsed.kind === 'step') {
        await runStep(dependencies, parsed.event, invocationContext, startedAt, measurements);
      } else {
        await runRetirement(dependencies, parsed.event, startedAt, measurements);
      }
      outcome = 'succeeded';
    } finally {
      publishMetrics(dependencies, operation, outcome, clock.now() - startedAt, measurements);
    }
  };

/** Wraps what a step or a retirement threw into a RotationError that says where. */
const asFailure = (
  error: unknown,
  operation: FunctionOperation,
  secretId: string,
): RotationError =>
  error instanceof RotationError
    ? error.withContext(operation, secretId)
    : new RotationError(`${operation} failed: ${describeAwsError(error)}`, {
        cause: error,
        step: operation,
        secretId,
      });

/**
 * The services a step or a retirement gets: the handler's own, with a secret store that
 * describes only this stack's secrets (see trust.ts).
 */
const stackServices = (dependencies: HandlerDependencies, stackId: string): RotationServices => ({
  ...dependencies,
  secrets: stackSecretStore(dependencies.secrets, stackId),
});

/**
 * A Secrets Manager rotation step: the trust check (this stack's secret, the user its name
 * gives), the token's guard, the ownership check, then the step.
 */
const runStep = async (
  dependencies: HandlerDependencies,
  event: RotationEvent,
  invocationContext: InvocationContext | undefined,
  startedAt: number,
  measurements: InvocationMeasurements,
): Promise<void> => {
  const { logger, clock } = dependencies;
  const log = logger.createChild();
  log.appendKeys({
    secretId: event.SecretId,
    step: event.Step,
    clientRequestToken: event.ClientRequestToken,
  });
  const remaining = invocationContext?.getRemainingTimeInMillis() ?? DEFAULT_TIME_BUDGET_MS;
  const deadline = startedAt + remaining - DEADLINE_SAFETY_MARGIN_MS;

  try {
    const { settings } = dependencies;
    if (settings instanceof InvalidSettingsError) throw settings;
    const services = stackServices(dependencies, settings.stackId);
    const secret = await dependencies.secrets.describeSecret(event.SecretId);
    // Before anything else, and before any IAM call: a look-alike secret stops here.
    const userName = verifyStackSecret(secret, settings.stackId);
    const state = checkTokenVersion(secret, event.ClientRequestToken);
    if (state === 'finished' || (state === 'promoted' && event.Step !== 'finishSecret')) {
      log.info(
        `${event.Step}: the version is already AWSCURRENT${state === 'finished' ? ' and the rotation complete' : ''}; nothing to do`,
      );
      return;
    }
    // Ownership is checked before every step that acts, right before it acts.
    const user = await verifyOwnership(dependencies.iam, secret, userName);
    const context: StepContext = {
      event,
      secret,
      userName,
      user,
      settings,
      services,
      log,
      deadline,
      functionArn: invocationContext?.invokedFunctionArn,
      measurements,
    };
    switch (event.Step) {
      case 'createSecret':
        await createSecret(context);
        break;
      case 'setSecret':
        await setSecret(context);
        break;
      case 'testSecret':
        await testSecret(context);
        break;
      case 'finishSecret':
        await finishSecret(context, state);
        break;
      default:
        assertNever(event.Step);
    }
    log.info(`${event.Step}: done`, { userName, durationMs: clock.now() - startedAt });
  } catch (error) {
    const failure = asFailure(error, event.Step, event.SecretId);
    log.error(`${event.Step}: failed`, { error: failure, durationMs: clock.now() - startedAt });
    throw failure;
  }
};

/** A grace-period schedule's event: retire the previous key if it is still AWSPREVIOUS. */
const runRetirement = async (
  dependencies: HandlerDependencies,
  event: RetirePreviousKeyEvent,
  startedAt: number,
  measurements: InvocationMeasurements,
): Promise<void> => {
  const { logger, clock } = dependencies;
  const log = logger.createChild();
  log.appendKeys({
    secretId: event.SecretId,
    step: RETIRE_OPERATION,
    versionId: event.VersionId,
    accessKeyId: event.AccessKeyId,
  });
  try {
    const { settings } = dependencies;
    if (settings instanceof InvalidSettingsError) throw settings;
    await retirePreviousKey({
      event,
      // Its DescribeSecret runs the trust check before the retirement reads anything else.
      services: stackServices(dependencies, settings.stackId),
      gracePeriodSeconds: settings.gracePeriod?.seconds,
      log,
      measurements,
    });
    log.info(`${RETIRE_OPERATION}: done`, { durationMs: clock.now() - startedAt });
  } catch (error) {
    const failure = asFailure(error, RETIRE_OPERATION, event.SecretId);
    log.error(`${RETIRE_OPERATION}: failed`, {
      error: failure,
      durationMs: clock.now() - startedAt,
    });
    throw failure;
  }
};
