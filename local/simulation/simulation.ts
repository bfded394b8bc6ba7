import type { HttpHandler, HttpRequest, HttpResponse } from '@smithy/core/protocols';
import type { AwsCredentialIdentity, RetryStrategyV2 } from '@smithy/types';
import { filterCalls, redactParams, type CallFilter, type CallRecord } from './call-log.js';
import { VirtualClock, type Clock } from './clock.js';
import {
  AwsServiceError,
  InvocationDeadError,
  SimulatedTimeoutError,
  SimulationError,
} from './errors.js';
import { FaultInjector, type CallInfo, type FaultSpec, type InjectedFault } from './faults.js';
import {
  errorResponse,
  headerOf,
  parseRequest,
  SimulatedHttpHandler,
  successResponse,
  type RequestPhase,
  type SimulatedRequest,
} from './http.js';
import { executeIam } from './iam-api.js';
import {
  ACCESS_KEYS_PER_USER,
  IamModel,
  type AccessKeyStatus,
  type IamAccessKey,
  type IamUser,
  type PropagationDelay,
} from './iam.js';
import type { Principal, RoleCredentials } from './principals.js';
import { SeededRandom } from './random.js';
import { createRetryStrategy } from './retry-strategy.js';
import {
  RotationRunner,
  type InvocationRecord,
  type ScheduledInvocationRecord,
  type RotationFunction,
  type RotationRecord,
  type RotationRunnerOptions,
  type RotationStep,
  type StepInvocationGate,
} from './rotation.js';
import { executeScheduler } from './scheduler-api.js';
import { fireDueSchedules, SchedulerModel, type ScheduleState } from './scheduler.js';
import { executeSecretsManager } from './secrets-manager-api.js';
import { SecretsManagerModel, type SecretState } from './secrets-manager.js';
import type { Tag } from './iam.js';
import { accessDeniedError, authError, faultError } from './service-errors.js';
import { verifySignature } from './sigv4.js';
import { executeSts } from './sts-api.js';
import type { XmlObject } from './wire.js';

export interface SimulationOptions {
  /**
   * The clock of the simulation, to be given to the handler as well.
   * @default new VirtualClock()
   */
  readonly clock?: Clock;
  /**
   * Seed of every identifier and secret the simulation generates.
   * @default 1
   */
  readonly seed?: number;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
  /**
   * How long a new access key fails authentication (InvalidClientTokenId) after creation: a
   * number of ms, or a function of the new key. Change it later with
   * {@link Simulation.setPropagationDelay} or per key with {@link Simulation.setKeyPropagationDelay}.
   * @default 0
   */
  readonly propagationDelayMs?: PropagationDelay;
  /**
   * How long a new access key is missing from ListAccessKeys after creation, as IAM's listings
   * are eventually consistent too. The key exists all the same: it counts against the key
   * quota, UpdateAccessKey and DeleteAccessKey act on it, and it authenticates once its own
   * {@link propagationDelayMs} has passed. Applies to keys created from then on; change it later
   * with {@link Simulation.setListPropagationDelay}.
   * @default 0
   */
  readonly listPropagationDelayMs?: number;
  /**
   * How many access keys a user may hold. AWS's quota is fixed at
   * {@link ACCESS_KEYS_PER_USER} (2): this option exists only so that the self-tests of an
   * invariant checker can let a deliberately broken rotation function hold a third key. A
   * simulation that stands for AWS leaves it alone.
   * @default ACCESS_KEYS_PER_USER
   */
  readonly accessKeysPerUser?: number;
  /** How Secrets Manager invokes and retries the rotation function. */
  readonly rotation?: RotationRunnerOptions;
  /**
   * `maxAttempts` of the SDK clients' retry strategy (as the SDK's default).
   * @default 3
   */
  readonly sdkMaxAttempts?: number;
  /**
   * How long a `timeout-*` fault keeps the caller waiting on the clock before the TimeoutError.
   * @default 5_000
   */
  readonly requestTimeoutMs?: number;
  /**
   * Latency of every call on the clock (useful with a real clock for the demo).
   * @default 0
   */
  readonly latencyMs?: number;
}

/** One request as a {@link RequestBoundaryHook} sees it. */
export interface RequestBoundary {
  readonly phase: RequestPhase;
  /** The request itself: the same object before and after. */
  readonly request: HttpRequest;
  /** The service the request is for (the host's first label when the simulation serves none). */
  readonly service: string;
  readonly operation: string;
  /** The SDK's attempt number (1 = first try), when sent. */
  readonly attempt?: number;
  /** The invocation of a function that sends it; absent for calls from outside any. */
  readonly invocationId?: string;
}

/**
 * Sees every request before it reaches the simulated service and after its answer is known,
 * in the async context of its sender; returning a promise holds the request (and its sender)
 * at that point until the promise settles. Deterministic interleaving tests pause one actor at
 * a chosen request boundary with it while another runs.
 */
export type RequestBoundaryHook = (boundary: RequestBoundary) => Promise<void> | undefined;

/** What to spread into an SDK v3 client constructor to talk to this simulation. */
export interface SimulationClientConfig {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity;
  readonly requestHandler: HttpHandler;
  /** A getter: every spread (every client) gets a fresh retry strategy, as the SDK does. */
  readonly retryStrategy: RetryStrategyV2;
  /**
   * The SDK's option to resolve a client's middleware stack once per command class instead of
   * at every `send`: the same requests, signed and parsed by the same middleware, at a fraction
   * of the cost (nothing adds middleware to a client once it sends).
   */
  readonly cacheMiddleware: true;
}

/** An access key as inspection shows it. `secretAccessKey` is there for tests: never log it. */
export interface AccessKeyView {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly userName: string;
  readonly status: AccessKeyStatus;
  readonly createDate: number;
  readonly propagationDelayMs: number;
  /** Active and past its propagation delay. */
  readonly authenticates: boolean;
  readonly listPropagationDelayMs: number;
  /** Past its listing delay: ListAccessKeys shows it. */
  readonly listed: boolean;
  /**
   * When the key last signed a request that authenticated. Recorded at once, as moto does;
   * AWS records it hours late.
   */
  readonly lastUsedDate?: number;
}

/** A CloudFormation stack of the simulated account: what `AWS::StackId` and `AWS::StackName` give. */
export interface SimulatedStack {
  readonly stackId: string;
  readonly stackName: string;
}

/** A stable UUID-shaped id for a stack name (FNV-1a), so stacks cost no draw of the seeded random. */
const stackUuid = (stackName: string): string => {
  let hex = '';
  for (let round = 0; hex.length < 32; round += 1) {
    let hash = 0x811c9dc5 ^ round;
    for (const char of stackName) {
      hash ^= char.codePointAt(0) ?? 0;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    hex += hash.toString(16).padStart(8, '0');
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

export interface SecretVersionView {
  readonly versionId: string;
  readonly stages: readonly string[];
  readonly createdDate: number;
  readonly secretString?: string;
  readonly secretBinary?: string;
  readonly hasValue: boolean;
}

/**
 * A stateful, in-process simulation of the IAM, STS, Secrets Manager and EventBridge Scheduler
 * behaviour the rotation
 * service depends on (see shared/docs/aws-rotation-facts.md), plugged in under the real SDK v3
 * clients as their request handler.
 *
 * The pieces: `http.ts` takes requests apart and encodes answers; `iam-api.ts`, `sts-api.ts`,
 * `secrets-manager-api.ts` and `scheduler-api.ts` run each service's operations on the models in
 * `iam.ts`, `secrets-manager.ts` and `scheduler.ts`; `rotation.ts` plays Secrets Manager's part
 * in rotation and invokes functions. This class
 * builds them, gives SDK clients their configuration, and dispatches every request:
 * authentication, injected faults, attribution to a Lambda invocation, and the call log.
 */
export class Simulation {
  public readonly clock: Clock;
  public readonly region: string;
  public readonly accountId: string;
  public readonly iam: IamModel;
  public readonly secretsManager: SecretsManagerModel;
  public readonly scheduler: SchedulerModel;
  public readonly faults = new FaultInjector();
  /** Every request received, in order. */
  public readonly calls: CallRecord[] = [];
  /** The execution role of the rotation function. */
  public readonly lambdaRole: RoleCredentials;
  /** A role for tests and the demo: setup and out-of-band changes. */
  public readonly adminRole: RoleCredentials;
  private readonly random: SeededRandom;
  private readonly jitter: SeededRandom;
  private readonly runner: RotationRunner;
  private readonly roles = new Map<string, RoleCredentials>();
  private readonly handler: SimulatedHttpHandler;
  private readonly sdkMaxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly latencyMs: number;
  private nextCallIndex = 0;
  /**
   * Sees every request before and after it is handled and may hold it there (see
   * {@link RequestBoundaryHook}). Unset, requests are not held.
   */
  public onRequestBoundary: RequestBoundaryHook | undefined;

  public constructor(options: SimulationOptions = {}) {
    this.clock = options.clock ?? new VirtualClock();
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    const seed = options.seed ?? 1;
    this.random = new SeededRandom(seed);
    this.jitter = new SeededRandom(seed ^ 0x5bd1e995);
    this.sdkMaxAttempts = options.sdkMaxAttempts ?? 3;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.latencyMs = options.latencyMs ?? 0;
    if (this.sdkMaxAttempts < 1)
      throw new SimulationError(`sdkMaxAttempts must be at least 1, got ${this.sdkMaxAttempts}`);
    const accessKeysPerUser = options.accessKeysPerUser ?? ACCESS_KEYS_PER_USER;
    if (!Number.isInteger(accessKeysPerUser) || accessKeysPerUser < 1) {
      throw new SimulationError(
        `accessKeysPerUser must be a positive integer, got ${accessKeysPerUser}`,
      );
    }
    this.iam = new IamModel(this.accountId, this.clock, this.random, {
      propagationDelay: options.propagationDelayMs ?? 0,
      listPropagationDelayMs: validListPropagationDelay(options.listPropagationDelayMs ?? 0),
      accessKeysPerUser,
    });
    this.runner = new RotationRunner(
      this.clock,
      this.random,
      this.region,
      this.accountId,
      options.rotation,
    );
    this.secretsManager = new SecretsManagerModel(
      this.region,
      this.accountId,
      this.clock,
      this.random,
      this.runner,
    );
    this.runner.attach(this.secretsManager);
    this.scheduler = new SchedulerModel(this.region, this.accountId, this.clock);
    this.lambdaRole = this.createRole('iam-key-rotation-function');
    this.adminRole = this.createRole('simulation-admin');
    this.handler = new SimulatedHttpHandler(this);
  }

  // ---- SDK client configuration ----

  /** Config for SDK clients signed with `credentials` (e.g. an access key under test). */
  public clientConfig(credentials: AwsCredentialIdentity): SimulationClientConfig {
    const makeRetryStrategy = (): RetryStrategyV2 =>
      createRetryStrategy(this.clock, this.jitter, this.sdkMaxAttempts);
    return {
      region: this.region,
      credentials,
      requestHandler: this.handler,
      cacheMiddleware: true,
      get retryStrategy(): RetryStrategyV2 {
        return makeRetryStrategy();
      },
    };
  }

  /** Config for the rotation function's clients: its execution role. */
  public lambdaClientConfig(): SimulationClientConfig {
    return this.clientConfig(this.lambdaRole);
  }

  /** Config for setup and out-of-band changes by tests and the demo. */
  public adminClientConfig(): SimulationClientConfig {
    return this.clientConfig(this.adminRole);
  }

  // ---- CloudFormation ----

  /** The stack named `stackName` of this account and region (its id is stable per name). */
  public stack(stackName: string): SimulatedStack {
    return {
      stackName,
      stackId: `arn:aws:cloudformation:${this.region}:${this.accountId}:stack/${stackName}/${stackUuid(stackName)}`,
    };
  }

  /**
   * What CloudFormation does for an `AWS::SecretsManager::Secret` of `stack`: CreateSecret, with
   * the system tags `aws:cloudformation:stack-id`, `stack-name` and `logical-id` that no caller
   * of the API can set (the API refuses `aws:` keys). CloudFormation's own call is not one of
   * the account's principals' requests: it is not in the call log.
   */
  public createStackSecret(
    stack: SimulatedStack,
    logicalId: string,
    input: { Name: string; SecretString: string; Description?: string; Tags?: Tag[] },
  ): SecretState {
    return this.secretsManager.createSecret(input, { ...stack, logicalId });
  }

  /**
   * What CloudFormation does when it deletes an `AWS::SecretsManager::Secret` (a stack deleted, or
   * the rollback of its creation): DeleteSecret with ForceDeleteWithoutRecovery, so the name is
   * free at once. Like {@link createStackSecret}, not a request of the account's principals.
   */
  public deleteStackSecret(secretId: string): void {
    this.secretsManager.forceDeleteSecret(secretId);
  }

  // ---- Rotation ----

  /** Registers the rotation function; returns its ARN, to pass as RotationLambdaARN. */
  public registerRotationFunction(fn: RotationFunction, name = 'iam-key-rotation'): string {
    return this.runner.register(name, fn);
  }

  /**
   * Invokes the function `functionArn` directly with `event`, as any principal allowed
   * `lambda:InvokeFunction` can (`aws lambda invoke`), outside any rotation: no Secrets Manager
   * state changes around it. Recorded with the scheduled invocations (its `input` is the event),
   * so the invariants judge its calls. Resolves when it has ended.
   */
  public invokeFunction(functionArn: string, event: unknown): Promise<ScheduledInvocationRecord> {
    return this.runner.outsideInvocation(() =>
      this.runner.invokeScheduled(functionArn, JSON.stringify(event), 'lambda:InvokeFunction', 1),
    );
  }

  /** Runs a scheduled rotation of the secret (see RotationRunner.runScheduled) to its end. */
  public runScheduledRotation(secretId: string): Promise<RotationRecord> {
    return this.runner.runScheduled(this.secretsManager.get(secretId));
  }

  /** Delivers a step of a rotation once more (see RotationRunner.redeliver). */
  public redeliverStep(rotation: RotationRecord, step: RotationStep): Promise<InvocationRecord> {
    return this.runner.redeliver(rotation, step);
  }

  /**
   * Holds each rotation step's invocation until the gate's promise settles (see
   * {@link StepInvocationGate}); `undefined` removes the gate.
   */
  public setStepInvocationGate(gate: StepInvocationGate | undefined): void {
    this.runner.beforeStepInvocation = gate;
  }

  /** Runs `action` as someone other than the rotation function: its calls belong to no invocation. */
  public outsideInvocation<T>(action: () => T): T {
    return this.runner.outsideInvocation(action);
  }

  /** Releases what the simulation holds beyond its own objects; call it when done with it. */
  public dispose(): void {
    this.runner.dispose();
  }

  /** Waits until every rotation and invocation started so far has ended. */
  public settle(): Promise<void> {
    return this.runner.settle();
  }

  public get rotations(): readonly RotationRecord[] {
    return this.runner.rotations;
  }

  public get invocations(): InvocationRecord[] {
    return this.runner.rotations.flatMap((rotation) => rotation.invocations);
  }

  // ---- EventBridge Scheduler ----

  /**
   * Fires every one-time schedule that is due on the clock, in order (see
   * {@link fireDueSchedules}), and resolves when their invocations (with Lambda's retries) have
   * ended. Time does not fire schedules by itself: call this where time has passed (after a
   * wait, between actions), so when a schedule's invocation runs is always explicit.
   */
  public runDueSchedules(): Promise<ScheduledInvocationRecord[]> {
    return this.runner.outsideInvocation(() =>
      fireDueSchedules(this.scheduler, this.runner, this.clock),
    );
  }

  /** When the next schedule that has not fired is due, if any. */
  public nextScheduleTime(): number | undefined {
    return this.scheduler.nextDueTime();
  }

  /** Every schedule that exists (a DELETE schedule that fired no longer does). */
  public get schedules(): readonly ScheduleState[] {
    return this.scheduler.all();
  }

  /** Every invocation by a schedule, retries included, in order. */
  public get scheduledInvocations(): readonly ScheduledInvocationRecord[] {
    return this.runner.scheduledInvocations;
  }

  // ---- Faults ----

  public injectFault(spec: FaultSpec): InjectedFault {
    return this.faults.inject(spec);
  }

  // ---- Inspection ----

  /** The index the next request will get. */
  public get callCount(): number {
    return this.nextCallIndex;
  }

  public callsWhere(filter: CallFilter): CallRecord[] {
    return filterCalls(this.calls, filter);
  }

  /** The authentication delay of keys created from now on (see SimulationOptions.propagationDelayMs). */
  public setPropagationDelay(delay: PropagationDelay): void {
    this.iam.propagationDelay = delay;
  }

  /** The listing delay of keys created from now on (see SimulationOptions.listPropagationDelayMs). */
  public setListPropagationDelay(ms: number): void {
    this.iam.listPropagationDelayMs = validListPropagationDelay(ms);
  }

  public setKeyPropagationDelay(accessKeyId: string, ms: number): void {
    const key = this.iam.findAccessKey(accessKeyId);
    if (key === undefined) throw new SimulationError(`No access key ${accessKeyId}`);
    key.propagationDelayMs = ms;
  }

  /** Sets a key's status directly, including `Expired` (which the API cannot set). */
  public setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): void {
    const key = this.iam.findAccessKey(accessKeyId);
    if (key === undefined) throw new SimulationError(`No access key ${accessKeyId}`);
    key.status = status;
  }

  public user(userName: string): IamUser | undefined {
    return this.iam.findUser(userName);
  }

  /** The user's keys, oldest first, listed or not; empty if the user does not exist. */
  public accessKeys(userName: string): AccessKeyView[] {
    return this.iam
      .allAccessKeys()
      .filter((key) => key.userName === userName)
      .map((key) => this.keyView(key));
  }

  public accessKey(accessKeyId: string): AccessKeyView | undefined {
    const key = this.iam.findAccessKey(accessKeyId);
    return key === undefined ? undefined : this.keyView(key);
  }

  public secret(secretId: string): SecretState | undefined {
    return this.secretsManager.find(secretId);
  }

  /** The secret's versions in creation order, with labels and values. */
  public secretVersions(secretId: string): SecretVersionView[] {
    const secret = this.secretsManager.get(secretId);
    return [...secret.versions.values()].map((version) => ({
      versionId: version.versionId,
      stages: [...version.stages],
      createdDate: version.createdDate,
      hasValue: version.value !== undefined,
      ...(version.value?.SecretString === undefined
        ? {}
        : { secretString: version.value.SecretString }),
      ...(version.value?.SecretBinary === undefined
        ? {}
        : { secretBinary: version.value.SecretBinary }),
    }));
  }

  /** The version holding `stage`, if any. */
  public versionWithStage(secretId: string, stage: string): SecretVersionView | undefined {
    return this.secretVersions(secretId).find((version) => version.stages.includes(stage));
  }

  // ---- Request handling ----

  /** Runs {@link onRequestBoundary} for a request. Used by the request handler. */
  public boundary(request: HttpRequest, phase: RequestPhase): Promise<void> | undefined {
    const hook = this.onRequestBoundary;
    if (hook === undefined) return undefined;
    let service: string;
    let operation: string;
    let attempt: number | undefined;
    try {
      ({ service, operation, attempt } = parseRequest(request));
    } catch {
      // Not a service of the simulation: dispatch refuses it; the hook still sees it pass.
      service = request.hostname.split('.')[0] ?? request.hostname;
      operation = '';
    }
    const invocationId = this.runner.currentInvocation()?.record.id;
    return hook({
      phase,
      request,
      service,
      operation,
      ...(attempt === undefined ? {} : { attempt }),
      ...(invocationId === undefined ? {} : { invocationId }),
    });
  }

  /** Handles one signed SDK request. Used by the request handler; not for direct use. */
  public async dispatch(request: HttpRequest): Promise<HttpResponse> {
    const parsed = parseRequest(request);
    const { auth, service, operation } = parsed;
    const live = this.runner.currentInvocation();
    const info: CallInfo = {
      index: this.nextCallIndex,
      service,
      operation,
      params: redactParams(parsed.params),
      ...(live === undefined ? {} : { invocationId: live.record.id, step: live.record.step }),
      ...(parsed.attempt === undefined ? {} : { attempt: parsed.attempt }),
    };
    this.nextCallIndex += 1;
    const time = this.clock.now();
    const requestId = `sim-${String(info.index).padStart(8, '0')}`;
    const log = (fields: Omit<CallRecord, keyof CallInfo | 'time'>): void => {
      this.calls.push({
        ...info,
        time,
        ...(auth === undefined ? {} : { accessKeyId: auth.accessKeyId }),
        ...fields,
      });
    };

    if (live !== undefined) {
      if (live.state === 'running' && this.clock.now() > live.record.deadline) {
        this.runner.kill(live, 'timed-out');
      }
      if (live.state !== 'running') {
        log({ outcome: 'dead', errorCode: 'InvocationDead', effectApplied: false });
        throw new InvocationDeadError(live.record.id, operation);
      }
    }
    if (this.latencyMs > 0) await this.clock.sleep(this.latencyMs);

    const fault = this.faults.take(info);
    if (fault?.kind === 'throttling' || fault?.kind === 'server-error') {
      const error = faultError(service, fault.kind, fault.errorCode);
      log({
        outcome: 'fault',
        fault: fault.kind,
        errorCode: error.code,
        statusCode: error.statusCode,
        effectApplied: false,
      });
      return errorResponse(service, error, requestId);
    }
    if (fault?.kind === 'timeout-before-effect') {
      await this.clock.sleep(this.requestTimeoutMs);
      log({ outcome: 'fault', fault: fault.kind, errorCode: 'TimeoutError', effectApplied: false });
      throw new SimulatedTimeoutError(this.requestTimeoutMs, operation);
    }

    let result:
      | { ok: true; response: HttpResponse; principal: Principal }
      | { ok: false; error: AwsServiceError; principal?: Principal };
    let principal: Principal | undefined;
    try {
      principal = await this.authenticate(request, parsed);
      // An explicit deny is decided once the caller is known, as on AWS.
      if (fault?.kind === 'access-denied') {
        const error = accessDeniedError(
          service,
          operation,
          principal.arn,
          this.resourceOf(parsed, principal),
          fault.errorCode,
        );
        log({
          principalArn: principal.arn,
          outcome: 'fault',
          fault: fault.kind,
          errorCode: error.code,
          statusCode: error.statusCode,
          effectApplied: false,
        });
        return errorResponse(service, error, requestId);
      }
      const rotatingSecretArn =
        live?.state === 'running' && 'secretArn' in live.record ? live.record.secretArn : undefined;
      const body = this.execute(parsed, principal, rotatingSecretArn);
      result = {
        ok: true,
        principal,
        response: successResponse(service, operation, body, requestId),
      };
    } catch (error) {
      if (!(error instanceof AwsServiceError)) throw error;
      result = { ok: false, error, ...(principal === undefined ? {} : { principal }) };
    }
    const principalArn =
      result.principal === undefined ? {} : { principalArn: result.principal.arn };

    if (
      fault?.kind === 'timeout-after-effect' ||
      (fault?.kind === 'crash-after-success' && live === undefined)
    ) {
      if (fault.kind === 'timeout-after-effect') await this.clock.sleep(this.requestTimeoutMs);
      log({
        ...principalArn,
        outcome: 'fault',
        fault: fault.kind,
        errorCode: 'TimeoutError',
        effectApplied: result.ok,
      });
      throw new SimulatedTimeoutError(this.requestTimeoutMs, operation);
    }
    if (fault?.kind === 'crash-after-success' && live !== undefined) {
      this.runner.kill(live, 'crashed');
      log({
        ...principalArn,
        outcome: 'fault',
        fault: fault.kind,
        errorCode: 'InvocationDead',
        effectApplied: result.ok,
      });
      throw new InvocationDeadError(live.record.id, operation);
    }
    if (result.ok) {
      log({ ...principalArn, outcome: 'success', statusCode: 200, effectApplied: true });
      return result.response;
    }
    log({
      ...principalArn,
      outcome: 'error',
      errorCode: result.error.code,
      statusCode: result.error.statusCode,
      effectApplied: false,
    });
    return errorResponse(service, result.error, requestId);
  }

  private async authenticate(request: HttpRequest, parsed: SimulatedRequest): Promise<Principal> {
    const { auth, service } = parsed;
    if (auth === undefined) throw authError(service, 'missing');
    const role = this.roles.get(auth.accessKeyId);
    if (role !== undefined) {
      if (!(await verifySignature(request, auth, role))) throw authError(service, 'signature');
      return {
        kind: 'role',
        roleName: role.roleName,
        arn: role.arn,
        userId: role.userId,
        accessKeyId: role.accessKeyId,
      };
    }
    const key = this.iam.findAccessKey(auth.accessKeyId);
    if (key === undefined || !this.iam.isUsable(key)) throw authError(service, 'token');
    if (headerOf(request, 'x-amz-security-token') !== undefined) throw authError(service, 'token');
    if (!(await verifySignature(request, auth, { secretAccessKey: key.secretAccessKey }))) {
      throw authError(service, 'signature');
    }
    this.iam.recordUse(key, service, auth.region);
    const user = this.iam.getUser(key.userName);
    return { kind: 'user', userName: user.userName, arn: user.arn, accessKeyId: key.accessKeyId };
  }

  private execute(
    { service, operation, params, query }: SimulatedRequest,
    caller: Principal,
    rotatingSecretArn: string | undefined,
  ): XmlObject | Record<string, unknown> {
    switch (service) {
      case 'secretsmanager':
        return executeSecretsManager(this.secretsManager, operation, params, rotatingSecretArn);
      case 'iam':
        return executeIam(this.iam, operation, query, caller);
      case 'sts':
        return executeSts(this.iam, this.accountId, operation, caller);
      case 'scheduler':
        return executeScheduler(this.scheduler, operation, params);
    }
  }

  /** The resource a refusal names: the secret, or the IAM user the call is about. */
  private resourceOf(
    { service, params, query }: SimulatedRequest,
    caller: Principal,
  ): string | undefined {
    switch (service) {
      case 'secretsmanager': {
        const id = params.SecretId ?? params.Name;
        return typeof id === 'string' ? id : undefined;
      }
      case 'iam': {
        const userName = query.get('UserName') ?? (caller.kind === 'user' ? caller.userName : '');
        if (userName === '') return undefined;
        return this.iam.findUser(userName)?.arn ?? `user ${userName}`;
      }
      case 'sts':
        return undefined;
      case 'scheduler': {
        const name = typeof params.Name === 'string' ? params.Name : undefined;
        const group = typeof params.GroupName === 'string' ? params.GroupName : 'default';
        return name === undefined
          ? undefined
          : `arn:aws:scheduler:${this.region}:${this.accountId}:schedule/${group}/${name}`;
      }
    }
  }

  private createRole(roleName: string): RoleCredentials {
    const role: RoleCredentials = {
      roleName,
      accessKeyId: this.random.accessKeyId('ASIA'),
      secretAccessKey: this.random.secretAccessKey(),
      sessionToken: this.random.token(64),
      arn: `arn:aws:sts::${this.accountId}:assumed-role/${roleName}/session`,
      userId: this.random.uniqueId('AROA'),
    };
    this.roles.set(role.accessKeyId, role);
    return role;
  }

  private keyView(key: IamAccessKey): AccessKeyView {
    return {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      userName: key.userName,
      status: key.status,
      createDate: key.createDate,
      propagationDelayMs: key.propagationDelayMs,
      authenticates: this.iam.isUsable(key),
      listPropagationDelayMs: key.listPropagationDelayMs,
      listed: this.iam.isListed(key),
      ...(key.lastUsed === undefined ? {} : { lastUsedDate: key.lastUsed.date }),
    };
  }
}

const validListPropagationDelay = (ms: number): number => {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new SimulationError(`listPropagationDelayMs must be a finite number >= 0, got ${ms}`);
  }
  return ms;
};
