import { Logger } from '@aws-lambda-powertools/logger';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  IAMClient,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { HttpRequest } from '@smithy/core/protocols';
import { createHandler } from '../../../lambda/create-handler.js';
import { defaultDependencies, SERVICE_NAME } from '../../../lambda/dependencies.js';
import { BINDING_TAG_KEY } from '../../../lambda/rotation/binding.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  Simulation,
  VirtualClock,
  type AccessKeyView,
  type PropagationDelay,
  type RotationRecord,
  type RotationRunnerOptions,
} from '../../../local/simulation/index.js';
import { LogCapture } from '../log-capture.js';

export const USER_NAME = 'alice';
export const SECRET_NAME = 'alice-access-key';
export const ROTATION_RULES = { ScheduleExpression: 'rate(30 days)' } as const;

/**
 * How the secret starts, as the CDK construct would leave it before its first rotation:
 * - `empty`: the user has no key; the secret holds `{"UserName"}` only.
 * - `pre-existing-key`: the user already had a key before the secret existed (not stored).
 * - `stored-key`: the secret was created holding the user's existing key.
 */
export type ScenarioStart = 'empty' | 'pre-existing-key' | 'stored-key';

export interface ScenarioOptions {
  readonly start?: ScenarioStart;
  readonly seed?: number;
  /** @default 3_000 */
  readonly propagationDelayMs?: PropagationDelay;
  readonly rotation?: RotationRunnerOptions;
}

/** What happened to a `RotateSecret` call made by a test (an operator or the schedule). */
export type RotateSecretOutcome =
  | { readonly accepted: true; readonly versionId: string }
  | { readonly accepted: false; readonly errorName: string; readonly message: string };

/** A change a human makes to IAM outside the rotation. */
export type OutOfBandChange =
  | 'delete-current-key'
  | 'delete-previous-key'
  | 'deactivate-current-key'
  | 'deactivate-previous-key'
  | 'create-key'
  | 'delete-user'
  | 'recreate-user';

interface StoredKeyFields {
  readonly AccessKeyId?: string;
}

const errorNameOf = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'string' ? error : 'unknown error';

/**
 * One IAM user and its rotated secret inside a {@link Simulation}, with the real rotation
 * handler registered as the rotation function. It records what the invariants need and the
 * call log does not hold: every secret value the simulation handed out (so no log line may
 * contain one), the AccessKeyId stored in AWSCURRENT at the arrival of every request, and when
 * a human last changed the user's keys.
 *
 * Create with {@link Scenario.create}, always {@link Scenario.dispose} (it stops the log capture).
 */
export class Scenario {
  /** Secret access keys, secret strings and RotationTokens: none may appear in a log line. */
  public readonly sensitiveValues = new Set<string>();
  /** The RotationTokens of every invocation (also in {@link sensitiveValues}). */
  public readonly rotationTokens = new Set<string>();
  /** AccessKeyId in AWSCURRENT when the request with this call index arrived. */
  public readonly currentKeyAtCall = new Map<number, string | undefined>();
  /** Keys the user had before the secret existed and that the secret does not hold. */
  public readonly preExistingKeyIds = new Set<string>();
  /** Every out-of-band change, in order, with the number of rotations started before it. */
  public readonly outOfBandChanges: { change: OutOfBandChange; rotationsBefore: number }[] = [];
  public readonly logs = new LogCapture();
  public functionArn = '';
  private readonly interleaved: { atCall: number; run: () => Promise<unknown> }[] = [];
  private readonly background = new Set<Promise<unknown>>();

  private constructor(
    public readonly sim: Simulation,
    public readonly iam: IAMClient,
    public readonly sm: SecretsManagerClient,
    public readonly start: ScenarioStart,
  ) {}

  public static async create(options: ScenarioOptions = {}): Promise<Scenario> {
    const sim = new Simulation({
      clock: new VirtualClock(),
      seed: options.seed ?? 1,
      propagationDelayMs: options.propagationDelayMs ?? 3_000,
      rotation: options.rotation ?? { retry: { maxAttempts: 3, delayMs: 60_000 } },
    });
    const scenario = new Scenario(
      sim,
      new IAMClient({ ...sim.adminClientConfig() }),
      new SecretsManagerClient({ ...sim.adminClientConfig() }),
      options.start ?? 'empty',
    );
    scenario.instrument();
    scenario.logs.start();
    try {
      await scenario.setUp();
    } catch (error) {
      scenario.dispose();
      throw error;
    }
    return scenario;
  }

  /** Runs `body` on a fresh scenario and always stops its log capture. */
  public static async run<T>(
    options: ScenarioOptions,
    body: (scenario: Scenario) => T | Promise<T>,
  ): Promise<T> {
    const scenario = await Scenario.create(options);
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

  // ---- Rotation ----

  /**
   * `RotateSecret` as an operator (or the construct's first deployment) calls it: it answers at
   * once; {@link settle} waits for the rotation.
   */
  public async rotateSecret(): Promise<RotateSecretOutcome> {
    try {
      const output = await this.sm.send(
        new RotateSecretCommand({
          SecretId: SECRET_NAME,
          RotationLambdaARN: this.functionArn,
          RotationRules: ROTATION_RULES,
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

  /** The scheduled rotation (a reattempt of an incomplete one, if any), to its end. */
  public async runScheduledRotation(): Promise<RotationRecord> {
    await this.settle();
    const record = await this.sim.runScheduledRotation(SECRET_NAME);
    await this.settle();
    return record;
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

  public get lastRotation(): RotationRecord | undefined {
    return this.sim.rotations.at(-1);
  }

  // ---- Out-of-band changes ----

  /** A human's change to IAM. Changes that IAM refuses (or that do not apply) are no-ops. */
  public async applyOutOfBand(change: OutOfBandChange): Promise<void> {
    this.outOfBandChanges.push({ change, rotationsBefore: this.sim.rotations.length });
    try {
      switch (change) {
        case 'delete-current-key':
        case 'delete-previous-key': {
          const id = this.storedKeyId(change === 'delete-current-key' ? AWSCURRENT : AWSPREVIOUS);
          if (id !== undefined && this.sim.accessKey(id) !== undefined) {
            await this.iam.send(
              new DeleteAccessKeyCommand({ UserName: USER_NAME, AccessKeyId: id }),
            );
          }
          return;
        }
        case 'deactivate-current-key':
        case 'deactivate-previous-key': {
          const stage = change === 'deactivate-current-key' ? AWSCURRENT : AWSPREVIOUS;
          const id = this.storedKeyId(stage);
          if (id !== undefined && this.sim.accessKey(id) !== undefined) {
            await this.iam.send(
              new UpdateAccessKeyCommand({
                UserName: USER_NAME,
                AccessKeyId: id,
                Status: 'Inactive',
              }),
            );
          }
          return;
        }
        case 'create-key':
          if (this.sim.user(USER_NAME) !== undefined && this.keys().length < 2) {
            await this.iam.send(new CreateAccessKeyCommand({ UserName: USER_NAME }));
          }
          return;
        case 'delete-user':
          if (this.sim.user(USER_NAME) === undefined) return;
          for (const key of this.keys()) {
            await this.iam.send(
              new DeleteAccessKeyCommand({ UserName: USER_NAME, AccessKeyId: key.accessKeyId }),
            );
          }
          await this.iam.send(new DeleteUserCommand({ UserName: USER_NAME }));
          return;
        case 'recreate-user':
          if (this.sim.user(USER_NAME) === undefined) {
            await this.iam.send(new CreateUserCommand({ UserName: USER_NAME }));
          }
          return;
      }
    } catch (error) {
      // A human racing the rotation can lose (NoSuchEntity, LimitExceeded, DeleteConflict).
      const name = errorNameOf(error);
      if (
        !['NoSuchEntityException', 'LimitExceededException', 'DeleteConflictException'].includes(
          name,
        )
      ) {
        throw error;
      }
    }
  }

  // ---- Inspection ----

  public keys(): AccessKeyView[] {
    return this.sim.accessKeys(USER_NAME);
  }

  /** The AccessKeyId stored in the version that carries `stage`, if any. */
  public storedKeyId(stage: string): string | undefined {
    const secret = this.sim.secret(SECRET_NAME);
    if (secret === undefined) return undefined;
    const version = this.sim.secretsManager.holderOf(secret, stage);
    const text = version?.value?.SecretString;
    if (text === undefined) return undefined;
    try {
      return (JSON.parse(text) as StoredKeyFields).AccessKeyId;
    } catch {
      return undefined;
    }
  }

  /** Whether AWSPENDING sits on a version that is not AWSCURRENT (an incomplete rotation). */
  public hasIncompleteRotation(): boolean {
    const secret = this.sim.secret(SECRET_NAME);
    return secret !== undefined && this.sim.secretsManager.hasIncompleteRotation(secret);
  }

  public pendingKeyId(): string | undefined {
    return this.hasIncompleteRotation() ? this.storedKeyId(AWSPENDING) : undefined;
  }

  // ---- Setup ----

  private async setUp(): Promise<void> {
    const handler = createHandler(
      defaultDependencies({
        clientConfig: this.sim.lambdaClientConfig(),
        clock: this.sim.clock,
        logger: new Logger({ serviceName: SERVICE_NAME, logLevel: 'DEBUG' }),
      }),
    );
    this.functionArn = this.sim.registerRotationFunction(async (event, context) => {
      if (event.RotationToken !== undefined) {
        this.sensitiveValues.add(event.RotationToken);
        this.rotationTokens.add(event.RotationToken);
      }
      await handler(event, context);
    });
    await this.iam.send(new CreateUserCommand({ UserName: USER_NAME }));
    let stored: { AccessKeyId?: string; SecretAccessKey?: string } = {};
    if (this.start !== 'empty') {
      const { AccessKey } = await this.iam.send(
        new CreateAccessKeyCommand({ UserName: USER_NAME }),
      );
      const accessKeyId = AccessKey?.AccessKeyId ?? '';
      if (this.start === 'pre-existing-key') {
        this.preExistingKeyIds.add(accessKeyId);
      } else {
        stored = { AccessKeyId: accessKeyId, SecretAccessKey: AccessKey?.SecretAccessKey ?? '' };
      }
      // The key is in use for a while before the secret is deployed: IAM dates keys to the
      // second, and the handler tells orphans from older keys by that date.
      await this.sim.clock.sleep(60_000);
    }
    await this.sm.send(
      new CreateSecretCommand({
        Name: SECRET_NAME,
        SecretString: JSON.stringify({ UserName: USER_NAME, ...stored }),
        Tags: [{ Key: BINDING_TAG_KEY, Value: USER_NAME }],
      }),
    );
  }

  /**
   * Records every secret the simulation hands out, and the AWSCURRENT key at the arrival of
   * every request (for invariant 4); runs interleaved actions at their call index.
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
      this.currentKeyAtCall.set(index, this.storedKeyId(AWSCURRENT));
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
}
