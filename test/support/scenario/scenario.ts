import { Logger } from '@aws-lambda-powertools/logger';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  TagUserCommand,
} from '@aws-sdk/client-iam';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { HttpRequest } from '@smithy/core/protocols';
import { createHandler } from '../../../lambda/create-handler.js';
import { defaultDependencies, SERVICE_NAME } from '../../../lambda/dependencies.js';
import { OWNER_TAG_KEY } from '../../../lambda/rotation/binding.js';
import {
  createUserSecret,
  deploymentStack,
  gracePeriodEnvironment,
  RETIREMENT_SCHEDULE_GROUP,
  secretNameOf,
  stackEnvironment,
} from '../../../local/simulated-deployment.js';
import {
  AWSCURRENT,
  AWSPENDING,
  Simulation,
  VirtualClock,
  type AccessKeyView,
  type PropagationDelay,
  type RotationFunction,
  type RotationRecord,
  type RotationRunnerOptions,
  type ScheduledInvocationRecord,
  type SimulatedStack,
} from '../../../local/simulation/index.js';
import { LogCapture } from '../log-capture.js';
import { copySimulationState } from './simulation-fork.js';
import { keyIdOf, takeSnapshot, type CallSnapshot } from './call-snapshots.js';
import {
  applyOperatorAction,
  type LabelMove,
  type OperatorAction,
  type OperatorActionRecord,
} from './operator-actions.js';

export const USER_NAME = 'alice';
export const SECRET_NAME = secretNameOf(USER_NAME);
/** A second user of the same stack, with a secret of its own: the target of hostile edits. */
export const OTHER_USER_NAME = 'bob';
export const OTHER_SECRET_NAME = secretNameOf(OTHER_USER_NAME);
/**
 * A secret someone else creates for bob (by hand, or another stack of the account): it has the
 * stack's binding tag, but not CloudFormation's tag of this stack.
 */
export const CLAIMANT_SECRET_NAME = 'iam-key-rotation-elsewhere/bob';
export const ROTATION_RULES = { ScheduleExpression: 'rate(30 days)' } as const;
/** The function's staleKeyDays (its default). */
export const STALE_KEY_DAYS = 7;

/**
 * How the primary secret starts, as the CDK stack would leave it before its first rotation:
 * - `empty`: alice has no key; the secret holds `{"UserName"}` only.
 * - `pre-existing-key`: alice already had a key, never used, that the secret does not hold.
 * - `stored-key`: the secret was created holding alice's existing key.
 * - `two-keys-in-use`: alice has two keys the secret does not hold, both signing requests.
 * - `two-keys-one-unused`: alice has two such keys; only the older one signs requests.
 */
export type ScenarioStart =
  'empty' | 'pre-existing-key' | 'stored-key' | 'two-keys-in-use' | 'two-keys-one-unused';

export interface ScenarioOptions {
  readonly start?: ScenarioStart;
  readonly seed?: number;
  /** @default 3_000 */
  readonly propagationDelayMs?: PropagationDelay;
  readonly rotation?: RotationRunnerOptions;
  /** Lets a checker self-test run a deliberately broken function (see the Simulation option). */
  readonly accessKeysPerUser?: number;
  /**
   * The function's grace period (GRACE_PERIOD_SECONDS): the stack's schedule group exists and
   * the previous key stays Active until its schedule fires ({@link Scenario.runDueSchedules}).
   * @default 0 (none: finishSecret deactivates the previous key at once)
   */
  readonly gracePeriodSeconds?: number;
  /**
   * Replaces the rotation function, for self-tests of the invariant checks: gets the real
   * handler and the scenario, returns the function Secrets Manager invokes.
   * @default the real handler
   */
  readonly rotationFunction?: (real: RotationFunction, scenario: Scenario) => RotationFunction;
}

/** What happened to a `RotateSecret` call made by a test (an operator or the schedule). */
export type RotateSecretOutcome =
  | { readonly accepted: true; readonly versionId: string }
  | { readonly accepted: false; readonly errorName: string; readonly message: string };

export const errorNameOf = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'string' ? error : 'unknown error';

/**
 * Two IAM users of one stack, alice and bob, each owned (by the user tag the stack sets) by its
 * own secret, inside a {@link Simulation}, with the real rotation handler registered as the
 * rotation function. Alice's secret is the one the scenarios rotate; bob is who hostile edits
 * aim at. It records what the invariants need and the call log does not hold: every secret
 * value handed out (no log line may contain one), the state of keys, secrets and ownership tags
 * at the arrival of every request, and what operators did by hand.
 *
 * Create with {@link Scenario.create}, always {@link Scenario.dispose} (it stops the log capture).
 */
export class Scenario {
  /** Secret access keys, secret strings and RotationTokens: none may appear in a log line. */
  public readonly sensitiveValues = new Set<string>();
  /** The RotationTokens of every invocation (also in {@link sensitiveValues}). */
  public readonly rotationTokens = new Set<string>();
  /** The world as each request (by call index) found it on arrival. */
  public readonly snapshots = new Map<number, CallSnapshot>();
  /** Keys alice had before her secret existed and that the secret does not hold. */
  public readonly preExistingKeyIds = new Set<string>();
  /** Every operator action on alice's user or secret, in order. */
  public readonly outOfBandChanges: OperatorActionRecord[] = [];
  /** Operators' moves of alice's AWSCURRENT (rollbacks, values put by hand), for invariant 6. */
  public readonly labelMoves: LabelMove[] = [];
  public readonly logs = new LogCapture();
  /** What operator commands printed (stdout and stderr), in order. */
  public readonly commandOutput: string[] = [];
  public functionArn = '';
  /** The stack that deployed the function and created alice's and bob's secrets. */
  public readonly stack: SimulatedStack;
  /** ARNs of alice's, bob's and (once created) the claimant's secret. */
  public readonly secretArns = new Map<string, string>();
  private readonly interleaved: { atCall: number; run: () => Promise<unknown> }[] = [];
  private readonly background = new Set<Promise<unknown>>();

  private constructor(
    public readonly sim: Simulation,
    public readonly iam: IAMClient,
    public readonly sm: SecretsManagerClient,
    public readonly start: ScenarioStart,
    /** The function's grace period in ms; 0 for none. */
    public readonly gracePeriodMs: number,
    private readonly options: ScenarioOptions,
  ) {
    this.stack = deploymentStack(sim);
  }

  public static async create(options: ScenarioOptions = {}): Promise<Scenario> {
    const scenario = Scenario.construct(options);
    try {
      await scenario.setUp(options);
    } catch (error) {
      scenario.dispose();
      throw error;
    }
    return scenario;
  }

  /**
   * A scenario in the state `base` is in now, without replaying the calls that brought `base`
   * there: a simulation built with the same options takes a deep copy of `base`'s simulation
   * (see copySimulationState), and the scenario a copy of what `base` recorded (secret values
   * handed out, snapshots, operator changes, log lines). The rotation function is a new instance
   * of the real handler, as after a cold start. `base` must be settled, with nothing interleaved;
   * it is left as it was, and may be forked again. Always {@link dispose} the fork.
   */
  public static async fork(
    base: Scenario,
    options: {
      /**
       * The base's replaced rotation function keeps nothing between invocations (it only wraps
       * the real handler): the fork gets a new one from `rotationFunction`.
       * @default false (a base with a replaced rotation function is refused)
       */
      readonly statelessRotationFunction?: boolean;
    } = {},
  ): Promise<Scenario> {
    await base.settle();
    if (base.interleaved.length > 0 || base.background.size > 0) {
      throw new Error('Scenario.fork: the base scenario has interleaved actions pending');
    }
    if (base.options.rotationFunction !== undefined && options.statelessRotationFunction !== true) {
      throw new Error('Scenario.fork: a replaced rotation function may hold state of its own');
    }
    const scenario = Scenario.construct(base.options);
    try {
      await scenario.registerFunction(base.options, false);
      if (scenario.functionArn !== base.functionArn) {
        throw new Error(`Scenario.fork: function ${scenario.functionArn}, not ${base.functionArn}`);
      }
      copySimulationState(base.sim, scenario.sim);
      for (const value of base.sensitiveValues) scenario.sensitiveValues.add(value);
      for (const token of base.rotationTokens) scenario.rotationTokens.add(token);
      for (const id of base.preExistingKeyIds) scenario.preExistingKeyIds.add(id);
      for (const [name, arn] of base.secretArns) scenario.secretArns.set(name, arn);
      // Snapshots, operator records and label moves are never changed once recorded.
      for (const [index, snapshot] of base.snapshots) scenario.snapshots.set(index, snapshot);
      scenario.outOfBandChanges.push(...base.outOfBandChanges);
      scenario.labelMoves.push(...base.labelMoves);
      scenario.commandOutput.push(...base.commandOutput);
      scenario.logs.append(base.logs.text);
    } catch (error) {
      scenario.dispose();
      throw error;
    }
    return scenario;
  }

  /** Runs `body` on a fork of `base` (see {@link fork}) and always disposes the fork. */
  public static async runFork<T>(
    base: Scenario,
    body: (scenario: Scenario) => T | Promise<T>,
  ): Promise<T> {
    return Scenario.disposedAfter(await Scenario.fork(base), body);
  }

  /**
   * Brings a new scenario to a state with `prepare` and disposes it (its state stays readable):
   * the base that {@link fork} and {@link runFork} copy for each case.
   */
  public static async prepared<T>(
    options: ScenarioOptions,
    prepare: (scenario: Scenario) => T | Promise<T>,
  ): Promise<{ readonly base: Scenario; readonly prepared: T }> {
    const base = await Scenario.create(options);
    try {
      const prepared = await prepare(base);
      await base.settle();
      return { base, prepared };
    } finally {
      base.dispose();
    }
  }

  /** A scenario with its simulation, instrumented and capturing logs, before any setup. */
  private static construct(options: ScenarioOptions): Scenario {
    const sim = new Simulation({
      clock: new VirtualClock(),
      seed: options.seed ?? 1,
      propagationDelayMs: options.propagationDelayMs ?? 3_000,
      rotation: options.rotation ?? { retry: { maxAttempts: 3, delayMs: 60_000 } },
      ...(options.accessKeysPerUser === undefined
        ? {}
        : { accessKeysPerUser: options.accessKeysPerUser }),
    });
    const scenario = new Scenario(
      sim,
      new IAMClient({ ...sim.adminClientConfig() }),
      new SecretsManagerClient({ ...sim.adminClientConfig() }),
      options.start ?? 'empty',
      (options.gracePeriodSeconds ?? 0) * 1_000,
      options,
    );
    scenario.instrument();
    scenario.logs.start();
    return scenario;
  }

  /** Runs `body` on a fresh scenario and always stops its log capture. */
  public static async run<T>(
    options: ScenarioOptions,
    body: (scenario: Scenario) => T | Promise<T>,
  ): Promise<T> {
    return Scenario.disposedAfter(await Scenario.create(options), body);
  }

  private static async disposedAfter<T>(
    scenario: Scenario,
    body: (scenario: Scenario) => T | Promise<T>,
  ): Promise<T> {
    try {
      return await body(scenario);
    } finally {
      scenario.dispose();
    }
  }

  public dispose(): void {
    this.logs.stop();
    // Thousands of live simulations would slow every later promise down (see Simulation.dispose).
    this.sim.dispose();
  }

  public get secretId(): string {
    return SECRET_NAME;
  }

  /** The full ARN of alice's secret. */
  public get secretArn(): string {
    return this.secretArns.get(SECRET_NAME) ?? '';
  }

  // ---- Rotation ----

  /**
   * `RotateSecret` as an operator (or the construct's first deployment) calls it: it answers at
   * once; {@link settle} waits for the rotation. `rotateImmediately: false` tests the
   * configuration only (testSecret on a temporary AWSPENDING version).
   */
  public async rotateSecret(
    secretName: string = SECRET_NAME,
    options: { rotateImmediately?: boolean } = {},
  ): Promise<RotateSecretOutcome> {
    try {
      const output = await this.sm.send(
        new RotateSecretCommand({
          SecretId: secretName,
          RotationLambdaARN: this.functionArn,
          RotationRules: ROTATION_RULES,
          ...(options.rotateImmediately === undefined
            ? {}
            : { RotateImmediately: options.rotateImmediately }),
        }),
      );
      return { accepted: true, versionId: output.VersionId ?? '' };
    } catch (error) {
      return {
        accepted: false,
        errorName: errorNameOf(error),
        message: error instanceof Error ? error.message : '',
      };
    }
  }

  /** RotateSecret, then waits for everything it started. */
  public async rotateNow(): Promise<RotateSecretOutcome> {
    const outcome = await this.rotateSecret();
    await this.settle();
    return outcome;
  }

  /** The scheduled rotation of alice's secret (a reattempt of an incomplete one, if any), to its end. */
  public async runScheduledRotation(): Promise<RotationRecord> {
    await this.settle();
    const record = await this.sim.runScheduledRotation(SECRET_NAME);
    await this.settle();
    return record;
  }

  /**
   * Fires the schedules that are due on the clock (the grace period's retirements) and waits
   * for their invocations, Lambda's retries included. The property and fault runs call it after
   * every action, so a schedule fires between actions, never in the middle of one.
   */
  public async runDueSchedules(): Promise<readonly ScheduledInvocationRecord[]> {
    await this.settle();
    const fired = await this.sim.runDueSchedules();
    await this.settle();
    return fired;
  }

  /** Waits until every rotation, invocation and interleaved action has ended. */
  public async settle(): Promise<void> {
    for (;;) {
      await this.sim.settle();
      if (this.background.size === 0) return;
      await Promise.allSettled([...this.background]);
    }
  }

  /** Runs `action` just before the request with global call index `atCall` is handled. */
  public interleaveAt(atCall: number, action: () => Promise<unknown>): void {
    this.interleaved.push({ atCall, run: action });
  }

  /** Drops interleaved actions whose call never came. */
  public clearInterleaved(): void {
    this.interleaved.length = 0;
  }

  /** Rotations of alice's secret, in order (the claimant's are left out). */
  public get rotations(): readonly RotationRecord[] {
    return this.sim.rotations.filter((rotation) => rotation.secretArn === this.secretArn);
  }

  public get lastRotation(): RotationRecord | undefined {
    return this.rotations.at(-1);
  }

  // ---- Operator actions ----

  /** An operator's (or an attacker's) action; see {@link OperatorAction}. */
  public async applyOutOfBand(action: OperatorAction): Promise<void> {
    await applyOperatorAction(this, action);
  }

  // ---- Inspection ----

  public keys(userName: string = USER_NAME): AccessKeyView[] {
    return this.sim.accessKeys(userName);
  }

  /** The AccessKeyId stored in the version of `secretName` that carries `stage`, if any. */
  public storedKeyId(stage: string, secretName: string = SECRET_NAME): string | undefined {
    const secret = this.sim.secret(secretName);
    if (secret === undefined) return undefined;
    return keyIdOf(this.sim.secretsManager.holderOf(secret, stage)?.value?.SecretString);
  }

  /** Whether AWSPENDING sits on a version that is not AWSCURRENT (an incomplete rotation). */
  public hasIncompleteRotation(secretName: string = SECRET_NAME): boolean {
    const secret = this.sim.secret(secretName);
    return secret !== undefined && this.sim.secretsManager.hasIncompleteRotation(secret);
  }

  public pendingKeyId(): string | undefined {
    return this.hasIncompleteRotation() ? this.storedKeyId(AWSPENDING) : undefined;
  }

  /** The version ids of alice's secret, oldest first. */
  public versionIds(secretName: string = SECRET_NAME): string[] {
    const secret = this.sim.secret(secretName);
    return secret === undefined ? [] : [...secret.versions.keys()];
  }

  /** Signs STS GetCallerIdentity with a key, as an application using it would. */
  public async useKey(accessKeyId: string | undefined): Promise<void> {
    const key = accessKeyId === undefined ? undefined : this.sim.accessKey(accessKeyId);
    if (key === undefined || !key.authenticates) return;
    const sts = new STSClient({
      ...this.sim.clientConfig({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
      }),
    });
    try {
      await sts.send(new GetCallerIdentityCommand({}));
    } finally {
      sts.destroy();
    }
  }

  // ---- Setup ----

  /**
   * Registers the real handler as the rotation function (with `createScheduleGroup`, the stack's
   * schedule group of the grace period too).
   */
  private async registerFunction(
    options: ScenarioOptions,
    createScheduleGroup: boolean,
  ): Promise<void> {
    const real = createHandler(
      defaultDependencies({
        clientConfig: this.sim.lambdaClientConfig(),
        clock: this.sim.clock,
        logger: new Logger({ serviceName: SERVICE_NAME, logLevel: 'DEBUG' }),
        environment: {
          ...stackEnvironment(this.stack),
          ...(this.gracePeriodMs > 0
            ? gracePeriodEnvironment(this.sim, this.gracePeriodMs / 1_000)
            : {}),
        },
      }),
    );
    if (this.gracePeriodMs > 0 && createScheduleGroup) {
      const scheduler = new SchedulerClient({ ...this.sim.adminClientConfig() });
      await scheduler.send(new CreateScheduleGroupCommand({ Name: RETIREMENT_SCHEDULE_GROUP }));
      scheduler.destroy();
    }
    const realFunction: RotationFunction = (event, context) => real(event, context);
    const fn = options.rotationFunction?.(realFunction, this) ?? realFunction;
    this.functionArn = this.sim.registerRotationFunction(async (event, context) => {
      if (event.RotationToken !== undefined) {
        this.sensitiveValues.add(event.RotationToken);
        this.rotationTokens.add(event.RotationToken);
      }
      return fn(event, context);
    });
  }

  private async setUp(options: ScenarioOptions): Promise<void> {
    await this.registerFunction(options, true);
    await this.iam.send(new CreateUserCommand({ UserName: USER_NAME }));
    await this.iam.send(new CreateUserCommand({ UserName: OTHER_USER_NAME }));

    let stored: Record<string, string> = {};
    const keyCount =
      this.start === 'empty'
        ? 0
        : this.start === 'two-keys-in-use' || this.start === 'two-keys-one-unused'
          ? 2
          : 1;
    for (let index = 0; index < keyCount; index += 1) {
      const { AccessKey } = await this.iam.send(
        new CreateAccessKeyCommand({ UserName: USER_NAME }),
      );
      const accessKeyId = AccessKey?.AccessKeyId ?? '';
      if (this.start === 'stored-key') {
        stored = { AccessKeyId: accessKeyId, SecretAccessKey: AccessKey?.SecretAccessKey ?? '' };
      } else {
        this.preExistingKeyIds.add(accessKeyId);
      }
    }
    // The keys are in use for a while before the secret is deployed: IAM dates keys to the
    // second, and the handler tells orphans from older keys by that date.
    if (keyCount > 0) await this.sim.clock.sleep(60_000);
    const [older, newer] = [...this.preExistingKeyIds];
    if (this.start === 'two-keys-in-use') {
      await this.useKey(older);
      await this.useKey(newer);
    } else if (this.start === 'two-keys-one-unused') {
      await this.useKey(older);
    }

    const aliceArn = this.createSecret(SECRET_NAME, USER_NAME, stored);
    // Bob's secret holds a working key of his: what a hostile edit would be after.
    const { AccessKey: bobKey } = await this.iam.send(
      new CreateAccessKeyCommand({ UserName: OTHER_USER_NAME }),
    );
    const bobArn = this.createSecret(OTHER_SECRET_NAME, OTHER_USER_NAME, {
      AccessKeyId: bobKey?.AccessKeyId ?? '',
      SecretAccessKey: bobKey?.SecretAccessKey ?? '',
    });
    // What the stack does at deploy time: each user names the secret that owns it.
    await this.tagOwner(USER_NAME, aliceArn);
    await this.tagOwner(OTHER_USER_NAME, bobArn);
  }

  /** What CloudFormation creates for a user of the stack (see createUserSecret). */
  private createSecret(name: string, userName: string, stored: Record<string, string>): string {
    const { arn } = createUserSecret(this.sim, this.stack, userName, stored);
    this.secretArns.set(name, arn);
    return arn;
  }

  /** Sets the user's ownership tag, as the stack does at deploy time. */
  public async tagOwner(userName: string, secretArn: string): Promise<void> {
    await this.iam.send(
      new TagUserCommand({ UserName: userName, Tags: [{ Key: OWNER_TAG_KEY, Value: secretArn }] }),
    );
  }

  /**
   * Records every secret the simulation hands out, and the world at the arrival of every
   * request (for the invariants); runs interleaved actions at their call index.
   */
  private instrument(): void {
    const iamModel = this.sim.iam;
    const createAccessKey = iamModel.createAccessKey.bind(iamModel);
    iamModel.createAccessKey = (...args) => {
      const key = createAccessKey(...args);
      this.sensitiveValues.add(key.secretAccessKey);
      return key;
    };
    const dispatch = this.sim.dispatch.bind(this.sim);
    this.sim.dispatch = (request: HttpRequest) => {
      const index = this.sim.callCount;
      this.snapshots.set(index, takeSnapshot(this.sim, request));
      const due = this.interleaved.filter((entry) => entry.atCall === index);
      for (const entry of due) {
        this.interleaved.splice(this.interleaved.indexOf(entry), 1);
        // Outside the invocation's async context: the action is someone else's, not the
        // rotation function's (its calls must not be attributed to, or die with, the invocation).
        const promise = this.sim.outsideInvocation(entry.run);
        this.background.add(promise);
        const remove = (): void => {
          this.background.delete(promise);
        };
        promise.then(remove, remove);
      }
      return dispatch(request);
    };
  }

  /** AWSCURRENT's key id of alice's secret (shorthand used by the checks). */
  public get currentKeyId(): string | undefined {
    return this.storedKeyId(AWSCURRENT);
  }
}
