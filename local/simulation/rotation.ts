import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from './clock.js';
import { SimulationError } from './errors.js';
import type { SeededRandom } from './random.js';
import {
  AWSCURRENT,
  AWSPENDING,
  type RotationHooks,
  type SecretState,
  type SecretValue,
  type SecretsManagerModel,
} from './secrets-manager.js';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The event Secrets Manager sends to a rotation function. */
export interface RotationInvocationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  /** Sensitive. */
  readonly RotationToken?: string;
}

/** The part of the Lambda context a rotation function may use. */
export interface RotationInvocationContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  getRemainingTimeInMillis(): number;
}

export type RotationFunction = (
  event: RotationInvocationEvent,
  context: RotationInvocationContext,
) => Promise<unknown>;

/**
 * - `succeeded`: the handler resolved before the Lambda timeout.
 * - `failed`: the handler rejected (`error` holds the reason).
 * - `crashed`: a `crash-after-success` fault killed the process.
 * - `timed-out`: the clock passed the invocation's deadline.
 */
export type InvocationOutcome = 'succeeded' | 'failed' | 'crashed' | 'timed-out';

export interface InvocationRecord {
  /** `inv-N`, also the context's awsRequestId and {@link CallInfo.invocationId}. */
  readonly id: string;
  readonly rotationId: string;
  readonly secretArn: string;
  readonly step: RotationStep;
  readonly clientRequestToken: string;
  /** Which attempt of the whole rotation (1 = first). */
  readonly attempt: number;
  readonly startedAt: number;
  readonly deadline: number;
  endedAt?: number;
  outcome?: InvocationOutcome;
  error?: unknown;
}

/**
 * - `running`
 * - `succeeded`: all four steps succeeded (or, for a test rotation, testSecret did).
 * - `failed`: every attempt failed; AWSPENDING stays where the last attempt left it.
 * - `abandoned`: someone else's PutSecretValue removed AWSPENDING.
 */
export type RotationStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

export interface RotationRecord {
  /** `rot-N`. */
  readonly id: string;
  readonly secretArn: string;
  /** `api`: RotateSecret; `schedule`: {@link RotationRunner.runScheduled}. */
  readonly trigger: 'api' | 'schedule';
  /** `test`: RotateImmediately=false, only testSecret runs. */
  readonly kind: 'rotation' | 'test';
  /** The current attempt's ClientRequestToken (changes on retry when tokens are not reused). */
  clientRequestToken: string;
  /** Every token used, in order. */
  readonly tokens: string[];
  attempts: number;
  status: RotationStatus;
  readonly startedAt: number;
  endedAt?: number;
  readonly invocations: InvocationRecord[];
}

export interface RotationRetryOptions {
  /**
   * How many times Secrets Manager runs the whole rotation before it gives up (AWS: "multiple
   * times", count undocumented).
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Wait between attempts, on the simulation clock.
   * @default 60_000
   */
  readonly delayMs?: number;
  /**
   * Whether a retry reuses the ClientRequestToken (unverified on AWS). When `false`, each retry
   * moves AWSPENDING to a new version without a value, with a new token.
   * @default true
   */
  readonly reuseToken?: boolean;
}

export interface RotationRunnerOptions {
  readonly retry?: RotationRetryOptions;
  /**
   * The Lambda timeout of the rotation function.
   * @default 30_000
   */
  readonly lambdaTimeoutMs?: number;
  /**
   * Whether events carry a RotationToken (as for rotation with an assumed role).
   * @default true
   */
  readonly sendRotationToken?: boolean;
  /**
   * At-least-once delivery: when this returns true for an invocation that succeeded, the same
   * event is delivered once more right away, and the step's outcome is the duplicate's.
   * @default - never
   */
  readonly duplicateInvocation?: (invocation: InvocationRecord) => boolean;
  /**
   * What the AWSPENDING version of a test rotation (RotateSecret with RotateImmediately=false,
   * which runs only testSecret) holds: `none`, a version without a value, as RotateSecret
   * creates for a rotation (GetSecretValue on it is ResourceNotFoundException); `copy-current`,
   * a copy of the AWSCURRENT value, stored when RotateSecret answers, as moto does. Emulators
   * differ here (see the facts file), so a test can stage either. Either way AWSPENDING, and
   * the version unless the function gave it another label, is removed after testSecret.
   * @default 'none'
   */
  readonly testVersionValue?: 'none' | 'copy-current';
}

/**
 * An invocation of a function by an EventBridge Scheduler schedule (its `Target.Input` as the
 * event). Lambda invokes it asynchronously: a failed invocation is retried twice (see
 * {@link LAMBDA_ASYNC_RETRY_DELAYS_MS}), each retry a record of its own.
 */
export interface ScheduledInvocationRecord {
  /** `inv-N`, numbered with the rotation invocations. */
  readonly id: string;
  readonly scheduleArn: string;
  readonly functionArn: string;
  /** The schedule's Target.Input, as the function received it (parsed as JSON). */
  readonly input: string;
  /** The `step` the call log gives this invocation's calls. */
  readonly step: typeof SCHEDULED_STEP;
  /** Lambda's attempt: 1, then 2 and 3 for its retries. */
  readonly attempt: number;
  readonly startedAt: number;
  readonly deadline: number;
  endedAt?: number;
  outcome?: InvocationOutcome;
  error?: unknown;
}

/** The `step` of calls made by a scheduled invocation (see {@link CallInfo.step}). */
export const SCHEDULED_STEP = 'scheduled';

/** Lambda's asynchronous invocation retries a failed invocation twice, after 1 and 2 minutes. */
export const LAMBDA_ASYNC_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/**
 * Called before Secrets Manager invokes a step (the invocation, and its Lambda deadline, start
 * once the returned promise settles): lets a deterministic test hold a rotation between steps.
 */
export type StepInvocationGate = (
  step: RotationStep,
  rotation: RotationRecord,
) => Promise<void> | undefined;

interface LiveInvocation {
  readonly record: InvocationRecord | ScheduledInvocationRecord;
  state: 'running' | 'dead' | 'ended';
  deathCause?: 'crashed' | 'timed-out';
  kill: () => void;
}

/**
 * Plays Secrets Manager's part in rotation: invokes the registered rotation function step by
 * step (each invocation runs inside an AsyncLocalStorage context so every SDK call it makes
 * is attributed to it), retries failed rotations, and tracks everything it starts so that
 * {@link RotationRunner.settle} can wait for it.
 */
export class RotationRunner implements RotationHooks {
  public readonly rotations: RotationRecord[] = [];
  public readonly scheduledInvocations: ScheduledInvocationRecord[] = [];
  private readonly functions = new Map<string, RotationFunction>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly storage = new AsyncLocalStorage<LiveInvocation>();
  private readonly abandonedTokens = new Set<string>();
  /** The values `copy-current` put into test versions, to know them when the test ends. */
  private readonly copiedTestValues = new WeakSet<SecretValue>();
  private model?: SecretsManagerModel;
  private invocationCount = 0;
  /** Holds each step's invocation until it settles (see {@link StepInvocationGate}). */
  public beforeStepInvocation: StepInvocationGate | undefined;

  public constructor(
    private readonly clock: Clock,
    private readonly random: SeededRandom,
    private readonly region: string,
    private readonly accountId: string,
    private readonly options: RotationRunnerOptions = {},
  ) {}

  public attach(model: SecretsManagerModel): void {
    this.model = model;
  }

  /** Registers a rotation function and returns its ARN. */
  public register(name: string, fn: RotationFunction): string {
    const arn = `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`;
    this.functions.set(arn, fn);
    return arn;
  }

  public isRotationFunction(arn: string): boolean {
    return this.functions.has(arn);
  }

  /**
   * Invokes the function `functionArn` once with `input` (a schedule's Target.Input, parsed as
   * JSON as Lambda does), in an invocation context of its own. A function that does not exist
   * fails the invocation.
   */
  public async invokeScheduled(
    functionArn: string,
    input: string,
    scheduleArn: string,
    attempt: number,
  ): Promise<ScheduledInvocationRecord> {
    this.invocationCount += 1;
    const startedAt = this.clock.now();
    const record: ScheduledInvocationRecord = {
      id: `inv-${this.invocationCount}`,
      scheduleArn,
      functionArn,
      input,
      step: SCHEDULED_STEP,
      attempt,
      startedAt,
      deadline: startedAt + (this.options.lambdaTimeoutMs ?? 30_000),
    };
    this.scheduledInvocations.push(record);
    const fn = this.functions.get(functionArn);
    if (fn === undefined) {
      record.outcome = 'failed';
      record.error = new SimulationError(`No function ${functionArn}`);
      record.endedAt = startedAt;
      return record;
    }
    let event: unknown;
    try {
      event = JSON.parse(input === '' ? '{}' : input);
    } catch {
      event = input;
    }
    const context: RotationInvocationContext = {
      awsRequestId: record.id,
      functionName: functionArn.slice(functionArn.lastIndexOf(':') + 1),
      invokedFunctionArn: functionArn,
      getRemainingTimeInMillis: () => Math.max(0, record.deadline - this.clock.now()),
    };
    await this.execute(record, () => fn(event as RotationInvocationEvent, context));
    return record;
  }

  /** The invocation whose async context the caller runs in, if any. */
  public currentInvocation(): LiveInvocation | undefined {
    return this.storage.getStore();
  }

  /** Runs `action` outside any invocation's async context (someone else's calls). */
  public outsideInvocation<T>(action: () => T): T {
    return this.storage.exit(action);
  }

  /**
   * Releases the async context. On Node 20 every live AsyncLocalStorage is visited on every
   * promise created afterwards, so thousands of simulations would slow each other down.
   */
  public dispose(): void {
    this.storage.disable();
  }

  public startRotation(secret: SecretState, token: string, rotateImmediately: boolean): void {
    if (!rotateImmediately && this.options.testVersionValue === 'copy-current') {
      this.copyCurrentValue(secret, token);
    }
    void this.start(secret, token, rotateImmediately ? 'rotation' : 'test', 'api');
  }

  public abandonRotation(_secret: SecretState, versionId: string): void {
    this.abandonedTokens.add(versionId);
    for (const record of this.rotations) {
      if (record.status === 'running' && record.clientRequestToken === versionId) {
        record.status = 'abandoned';
        record.endedAt = this.clock.now();
      }
    }
  }

  /**
   * A scheduled rotation: reattempts the incomplete rotation (same token) if AWSPENDING sits on
   * a non-current version, else starts a new one. Resolves when it has finished, retries included.
   */
  public runScheduled(secret: SecretState): Promise<RotationRecord> {
    const model = this.requireModel();
    if (secret.rotationEnabled !== true) {
      throw new SimulationError(`Rotation is not enabled for secret ${secret.arn}`);
    }
    const running = this.rotations.find(
      (r) => r.secretArn === secret.arn && r.status === 'running',
    );
    if (running !== undefined) {
      throw new SimulationError(
        `A rotation of secret ${secret.arn} is still running (${running.id}); await settle() first`,
      );
    }
    const pending = model.holderOf(secret, AWSPENDING);
    let token: string;
    if (pending !== undefined && !pending.stages.has(AWSCURRENT)) {
      token = pending.versionId;
      this.abandonedTokens.delete(token);
    } else {
      token = this.random.uuid();
      model.createPendingVersion(secret, token);
    }
    return this.start(secret, token, 'rotation', 'schedule');
  }

  /**
   * Delivers `step` of `rotation` once more, with its current ClientRequestToken, as at-least-once
   * delivery can (late, or while the first delivery still runs); resolves when it has ended. The
   * invocation is recorded with the rotation's. The rotation's own course is unaffected.
   */
  public redeliver(rotation: RotationRecord, step: RotationStep): Promise<InvocationRecord> {
    const secret = this.requireModel().get(rotation.secretArn);
    const done = this.invoke(secret, rotation, step, Math.max(1, rotation.attempts));
    this.track(done);
    return done;
  }

  /** Resolves when every rotation and invocation started so far (and those they start) ended. */
  public async settle(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /** Marks the current invocation dead (crash fault). */
  public kill(invocation: LiveInvocation, cause: 'crashed' | 'timed-out'): void {
    if (invocation.state !== 'running') return;
    invocation.state = 'dead';
    invocation.deathCause = cause;
    invocation.kill();
  }

  private start(
    secret: SecretState,
    token: string,
    kind: 'rotation' | 'test',
    trigger: 'api' | 'schedule',
  ): Promise<RotationRecord> {
    const record: RotationRecord = {
      id: `rot-${this.rotations.length + 1}`,
      secretArn: secret.arn,
      trigger,
      kind,
      clientRequestToken: token,
      tokens: [token],
      attempts: 0,
      status: 'running',
      startedAt: this.clock.now(),
      invocations: [],
    };
    this.rotations.push(record);
    const done = (kind === 'test' ? this.runTest(secret, record) : this.run(secret, record)).then(
      () => record,
    );
    this.track(done);
    return done;
  }

  private async run(secret: SecretState, record: RotationRecord): Promise<void> {
    const model = this.requireModel();
    const maxAttempts = this.options.retry?.maxAttempts ?? 3;
    // Let RotateSecret answer before the first invocation, as the real service does.
    await Promise.resolve();
    for (let attempt = 1; ; attempt += 1) {
      record.attempts = attempt;
      let failed = false;
      for (const step of ROTATION_STEPS) {
        if (this.isAbandoned(record)) return;
        const outcome = await this.invokeStep(secret, record, step, attempt);
        if (this.isAbandoned(record)) return;
        if (outcome !== 'succeeded') {
          failed = true;
          break;
        }
      }
      if (!failed) {
        this.finish(record, 'succeeded');
        secret.lastRotatedDate = this.clock.now();
        return;
      }
      if (attempt >= maxAttempts) {
        this.finish(record, 'failed');
        return;
      }
      await this.clock.sleep(this.options.retry?.delayMs ?? 60_000);
      if (this.isAbandoned(record)) return;
      if (this.options.retry?.reuseToken === false) {
        const token = this.random.uuid();
        model.createPendingVersion(secret, token);
        record.clientRequestToken = token;
        record.tokens.push(token);
      }
    }
  }

  private async runTest(secret: SecretState, record: RotationRecord): Promise<void> {
    await Promise.resolve();
    record.attempts = 1;
    const outcome = await this.invokeStep(secret, record, 'testSecret', 1);
    const version = secret.versions.get(record.clientRequestToken);
    if (version?.stages.has(AWSPENDING) === true) {
      version.stages.delete(AWSPENDING);
      const placedHere = version.value === undefined || this.copiedTestValues.has(version.value);
      if (placedHere && version.stages.size === 0) secret.versions.delete(version.versionId);
    }
    this.finish(record, outcome === 'succeeded' ? 'succeeded' : 'failed');
  }

  /** `copy-current`: the test version gets a copy of the AWSCURRENT value, if there is one. */
  private copyCurrentValue(secret: SecretState, token: string): void {
    const current = this.requireModel().holderOf(secret, AWSCURRENT)?.value;
    const version = secret.versions.get(token);
    if (current === undefined || version === undefined || version.value !== undefined) return;
    const copy: SecretValue = { ...current };
    this.copiedTestValues.add(copy);
    version.value = copy;
  }

  private async invokeStep(
    secret: SecretState,
    record: RotationRecord,
    step: RotationStep,
    attempt: number,
  ): Promise<InvocationOutcome> {
    const gate = this.beforeStepInvocation?.(step, record);
    if (gate !== undefined) await gate;
    const first = await this.invoke(secret, record, step, attempt);
    if (first.outcome === 'succeeded' && this.options.duplicateInvocation?.(first) === true) {
      return (await this.invoke(secret, record, step, attempt)).outcome ?? 'failed';
    }
    return first.outcome ?? 'failed';
  }

  private async invoke(
    secret: SecretState,
    record: RotationRecord,
    step: RotationStep,
    attempt: number,
  ): Promise<InvocationRecord> {
    const fn =
      secret.rotationLambdaArn === undefined
        ? undefined
        : this.functions.get(secret.rotationLambdaArn);
    this.invocationCount += 1;
    const startedAt = this.clock.now();
    const invocationRecord: InvocationRecord = {
      id: `inv-${this.invocationCount}`,
      rotationId: record.id,
      secretArn: secret.arn,
      step,
      clientRequestToken: record.clientRequestToken,
      attempt,
      startedAt,
      deadline: startedAt + (this.options.lambdaTimeoutMs ?? 30_000),
    };
    record.invocations.push(invocationRecord);
    if (fn === undefined || secret.rotationLambdaArn === undefined) {
      invocationRecord.outcome = 'failed';
      invocationRecord.error = new SimulationError(`No rotation function for secret ${secret.arn}`);
      invocationRecord.endedAt = startedAt;
      return invocationRecord;
    }
    const functionArn = secret.rotationLambdaArn;
    const event: RotationInvocationEvent = {
      Step: step,
      SecretId: secret.arn,
      ClientRequestToken: record.clientRequestToken,
      ...(this.options.sendRotationToken === false ? {} : { RotationToken: this.random.token(48) }),
    };
    const context: RotationInvocationContext = {
      awsRequestId: invocationRecord.id,
      functionName: functionArn.slice(functionArn.lastIndexOf(':') + 1),
      invokedFunctionArn: functionArn,
      getRemainingTimeInMillis: () => Math.max(0, invocationRecord.deadline - this.clock.now()),
    };
    await this.execute(invocationRecord, () => fn(event, context));
    return invocationRecord;
  }

  /**
   * Runs one invocation in its own async context (so every call it makes is attributed to it),
   * and records how it ended: its result, a crash fault, or its deadline.
   */
  private async execute(
    record: InvocationRecord | ScheduledInvocationRecord,
    body: () => Promise<unknown>,
  ): Promise<void> {
    let killed!: () => void;
    const death = new Promise<'dead'>((resolve) => {
      killed = () => {
        resolve('dead');
      };
    });
    const live: LiveInvocation = { record, state: 'running', kill: killed };
    const run = this.storage
      .run(live, () => Promise.resolve().then(body))
      .then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    this.track(run);
    const result = await Promise.race([run, death]);
    record.endedAt = this.clock.now();
    if (live.state === 'dead' || result === 'dead') {
      record.outcome = live.deathCause ?? 'crashed';
    } else if (record.endedAt > record.deadline) {
      record.outcome = 'timed-out';
    } else if (result.ok) {
      record.outcome = 'succeeded';
    } else {
      record.outcome = 'failed';
      record.error = result.error;
    }
    live.state = 'ended';
  }

  private isAbandoned(record: RotationRecord): boolean {
    if (record.status === 'abandoned') return true;
    if (this.abandonedTokens.has(record.clientRequestToken)) {
      this.finish(record, 'abandoned');
      return true;
    }
    return false;
  }

  private finish(record: RotationRecord, status: RotationStatus): void {
    if (record.status !== 'running') return;
    record.status = status;
    record.endedAt = this.clock.now();
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    const remove = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(remove, remove);
  }

  private requireModel(): SecretsManagerModel {
    if (this.model === undefined)
      throw new SimulationError('RotationRunner is not attached to a model');
    return this.model;
  }
}

export type { LiveInvocation };
