import { Logger } from '@aws-lambda-powertools/logger';
import { createHandler, type RotationHandler } from '../../lambda/create-handler.js';
import { defaultDependencies, type Clock } from '../../lambda/dependencies.js';
import type { RotationStep } from '../../lambda/event.js';
import { REGION, STACK_ENVIRONMENT, type FakeAws } from './fake-aws.js';
import { RecordingScheduler } from './recording-scheduler.js';

/** A clock whose sleep advances time at once, so retry schedules run instantly. */
export class ManualClock implements Clock {
  public readonly sleeps: number[] = [];

  public constructor(private current = Date.parse('2026-11-01T10:00:00Z')) {}

  public now(): number {
    return this.current;
  }

  /** Time passing without a sleep, e.g. a request that takes a while. */
  public advance(milliseconds: number): void {
    this.current += milliseconds;
  }

  public sleep(milliseconds: number): Promise<void> {
    this.sleeps.push(milliseconds);
    this.current += milliseconds;
    return Promise.resolve();
  }
}

export const ROTATION_TOKEN = 'rotation-token-SENSITIVE-3f9d2c';

export interface TestRotation {
  readonly handler: RotationHandler;
  readonly clock: ManualClock;
  /** The grace period's schedules the handler asked for. */
  readonly scheduler: RecordingScheduler;
  step(step: RotationStep, token: string, remainingMs?: number): Promise<void>;
  /** RotateSecret's placeholder, then the four steps in order. */
  rotate(token: string): Promise<void>;
}

/** The ARN the test Lambda context gives as invokedFunctionArn. */
export const FUNCTION_ARN = `arn:aws:lambda:${REGION}:123456789012:function:iam-key-rotation`;

export interface TestRotationOptions {
  /**
   * The function's environment (its settings), added to {@link STACK_ENVIRONMENT} (the stack id,
   * which the stack always sets).
   * @default {} (the defaults: no grace period)
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Receives the grace period's schedules.
   * @default a {@link RecordingScheduler}, available as `TestRotation.scheduler`
   */
  readonly retirementScheduler?: RecordingScheduler;
}

/** The real handler, with the real SDK clients (mocked by {@link FakeAws}). */
export const createTestRotation = (
  fake: FakeAws,
  secretName: string,
  options: TestRotationOptions = {},
): TestRotation => {
  const clock = new ManualClock();
  const scheduler = options.retirementScheduler ?? new RecordingScheduler();
  const handler = createHandler(
    defaultDependencies({
      clientConfig: {
        region: REGION,
        credentials: { accessKeyId: 'AKIALAMBDAROLE000000', secretAccessKey: 'lambda-role-secret' },
      },
      clock,
      logger: new Logger({ serviceName: 'iam-key-rotation-test', logLevel: 'DEBUG' }),
      environment: { ...STACK_ENVIRONMENT, ...options.environment },
      retirementScheduler: scheduler,
    }),
  );
  const step = (name: RotationStep, token: string, remainingMs = 120_000): Promise<void> =>
    handler(
      {
        Step: name,
        SecretId: fake.secret(secretName).arn,
        ClientRequestToken: token,
        RotationToken: ROTATION_TOKEN,
      },
      { getRemainingTimeInMillis: () => remainingMs, invokedFunctionArn: FUNCTION_ARN },
    );
  return {
    handler,
    clock,
    scheduler,
    step,
    rotate: async (token) => {
      fake.startRotation(secretName, token);
      for (const name of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
        await step(name, token);
      }
    },
  };
};
