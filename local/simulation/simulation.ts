import { Readable } from 'node:stream';
import { HttpResponse, type HttpHandler, type HttpRequest } from '@smithy/core/protocols';
import { StandardRetryStrategy } from '@smithy/core/retry';
import type {
  AwsCredentialIdentity,
  RetryStrategyV2,
  StandardRetryBackoffStrategy,
} from '@smithy/types';
import { filterCalls, redactParams, type CallFilter, type CallRecord } from './call-log.js';
import { VirtualClock, type Clock } from './clock.js';
import {
  AwsServiceError,
  InvocationDeadError,
  SimulatedTimeoutError,
  SimulationError,
} from './errors.js';
import {
  FaultInjector,
  type CallInfo,
  type FaultSpec,
  type InjectedFault,
  type ServiceName,
} from './faults.js';
import {
  IamModel,
  type AccessKeyStatus,
  type IamAccessKey,
  type IamUser,
  type PropagationDelay,
  type Tag,
} from './iam.js';
import type { Principal, RoleCredentials } from './principals.js';
import { SeededRandom } from './random.js';
import {
  RotationRunner,
  type InvocationRecord,
  type RotationFunction,
  type RotationRecord,
  type RotationRunnerOptions,
} from './rotation.js';
import { SecretsManagerModel, type SecretState } from './secrets-manager.js';
import { parseAuthorization, verifySignature, type ParsedAuthorization } from './sigv4.js';
import {
  epochSeconds,
  parseQueryBody,
  queryErrorResponse,
  queryList,
  queryResponse,
  type XmlObject,
} from './wire.js';

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

/** What to spread into an SDK v3 client constructor to talk to this simulation. */
export interface SimulationClientConfig {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity;
  readonly requestHandler: HttpHandler;
  /** A getter: every spread (every client) gets a fresh retry strategy, as the SDK does. */
  readonly retryStrategy: RetryStrategyV2;
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
  readonly lastUsedDate?: number;
}

export interface SecretVersionView {
  readonly versionId: string;
  readonly stages: readonly string[];
  readonly createdDate: number;
  readonly secretString?: string;
  readonly secretBinary?: string;
  readonly hasValue: boolean;
}

const NAMESPACES = {
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
} as const;

const INVALID_TOKEN = 'The security token included in the request is invalid.';
const BAD_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const authError = (
  service: ServiceName,
  kind: 'token' | 'signature' | 'missing',
): AwsServiceError => {
  const sm = service === 'secretsmanager';
  switch (kind) {
    case 'token':
      return sm
        ? new AwsServiceError('UnrecognizedClientException', INVALID_TOKEN, 400)
        : new AwsServiceError('InvalidClientTokenId', INVALID_TOKEN, 403);
    case 'signature':
      return sm
        ? new AwsServiceError('InvalidSignatureException', BAD_SIGNATURE, 400)
        : new AwsServiceError('SignatureDoesNotMatch', BAD_SIGNATURE, 403);
    case 'missing':
      return sm
        ? new AwsServiceError(
            'MissingAuthenticationTokenException',
            'Missing Authentication Token',
            400,
          )
        : new AwsServiceError(
            'MissingAuthenticationToken',
            'Request is missing Authentication Token',
            403,
          );
  }
};

const faultError = (
  service: ServiceName,
  kind: 'throttling' | 'server-error',
  code?: string,
): AwsServiceError => {
  if (kind === 'throttling') {
    return new AwsServiceError(
      code ?? (service === 'secretsmanager' ? 'ThrottlingException' : 'Throttling'),
      'Rate exceeded',
      400,
    );
  }
  const fallback = {
    iam: 'ServiceFailure',
    sts: 'InternalFailure',
    secretsmanager: 'InternalServiceError',
  }[service];
  return new AwsServiceError(
    code ?? fallback,
    'We encountered an internal error. Please try again.',
    500,
  );
};

const headerOf = (request: HttpRequest, name: string): string | undefined => {
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
};

const bodyText = (body: unknown): string => {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) {
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  }
  throw new SimulationError(`Unsupported request body type ${typeof body}`);
};

const serviceOf = (auth: ParsedAuthorization | undefined, hostname: string): ServiceName => {
  const name = auth?.service ?? hostname.split('.')[0];
  if (name === 'iam' || name === 'sts' || name === 'secretsmanager') return name;
  throw new SimulationError(`The simulation does not serve ${hostname} (service ${String(name)})`);
};

const str = (params: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new AwsServiceError(
      'InvalidParameterException',
      `${name} must be a string, got ${typeof value}`,
    );
  }
  return value;
};

const requiredStr = (params: Readonly<Record<string, unknown>>, name: string): string => {
  const value = str(params, name);
  if (value === undefined || value === '') {
    throw new AwsServiceError('InvalidParameterException', `${name} is required`);
  }
  return value;
};

const response = (
  statusCode: number,
  contentType: string,
  text: string,
  requestId: string,
): HttpResponse =>
  new HttpResponse({
    statusCode,
    headers: {
      'content-type': contentType,
      'content-length': String(Buffer.byteLength(text)),
      'x-amzn-requestid': requestId,
    },
    body: Readable.from([Buffer.from(text, 'utf8')]),
  });

/** Jittered exponential backoff like the SDK's, spent on a virtual clock instead of setTimeout. */
class VirtualClockBackoff implements StandardRetryBackoffStrategy {
  private base = 50;

  public constructor(
    private readonly clock: VirtualClock,
    private readonly random: SeededRandom,
  ) {}

  public computeNextBackoffDelay(retryCount: number): number {
    this.clock.advance(
      Math.floor(this.random.next() * Math.min(this.base * 2 ** retryCount, 20_000)),
    );
    return 0;
  }

  public setDelayBase(delayBase: number): void {
    this.base = delayBase;
  }
}

/** The request handler the SDK clients use: every request goes to the simulation, in-process. */
class SimulatedHttpHandler implements HttpHandler {
  public constructor(private readonly simulation: Simulation) {}

  public async handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
    return { response: await this.simulation.dispatch(request) };
  }

  public updateHttpClientConfig(): void {
    // Nothing to configure: there is no connection.
  }

  public httpHandlerConfigs(): Record<string, never> {
    return {};
  }
}

/**
 * A stateful, in-process simulation of the IAM, STS and Secrets Manager behaviour the rotation
 * service depends on (see shared/docs/aws-rotation-facts.md), plugged in under the real SDK v3
 * clients as their request handler.
 */
export class Simulation {
  public readonly clock: Clock;
  public readonly region: string;
  public readonly accountId: string;
  public readonly iam: IamModel;
  public readonly secretsManager: SecretsManagerModel;
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
    this.iam = new IamModel(
      this.accountId,
      this.clock,
      this.random,
      options.propagationDelayMs ?? 0,
    );
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
    this.lambdaRole = this.createRole('iam-key-rotation-function');
    this.adminRole = this.createRole('simulation-admin');
    this.handler = new SimulatedHttpHandler(this);
  }

  // ---- SDK client configuration ----

  /** Config for SDK clients signed with `credentials` (e.g. an access key under test). */
  public clientConfig(credentials: AwsCredentialIdentity): SimulationClientConfig {
    const makeRetryStrategy = (): RetryStrategyV2 =>
      this.clock instanceof VirtualClock
        ? new StandardRetryStrategy({
            maxAttempts: this.sdkMaxAttempts,
            backoff: new VirtualClockBackoff(this.clock, this.jitter),
          })
        : new StandardRetryStrategy(this.sdkMaxAttempts);
    return {
      region: this.region,
      credentials,
      requestHandler: this.handler,
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

  // ---- Rotation ----

  /** Registers the rotation function; returns its ARN, to pass as RotationLambdaARN. */
  public registerRotationFunction(fn: RotationFunction, name = 'iam-key-rotation'): string {
    return this.runner.register(name, fn);
  }

  /** Runs a scheduled rotation of the secret (see RotationRunner.runScheduled) to its end. */
  public runScheduledRotation(secretId: string): Promise<RotationRecord> {
    return this.runner.runScheduled(this.secretsManager.get(secretId));
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

  public setPropagationDelay(delay: PropagationDelay): void {
    this.iam.propagationDelay = delay;
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

  /** The user's keys, oldest first; empty if the user does not exist. */
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

  /** Handles one signed SDK request. Used by the request handler; not for direct use. */
  public async dispatch(request: HttpRequest): Promise<HttpResponse> {
    const auth = parseAuthorization(headerOf(request, 'authorization'));
    const service = serviceOf(auth, request.hostname);
    const text = bodyText(request.body);
    let operation: string;
    let params: Record<string, unknown>;
    let query: Map<string, string> | undefined;
    if (service === 'secretsmanager') {
      const target = headerOf(request, 'x-amz-target') ?? '';
      operation = target.slice(target.indexOf('.') + 1);
      params = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } else {
      query = parseQueryBody(text);
      operation = query.get('Action') ?? '';
      params = Object.fromEntries(
        [...query].filter(([name]) => name !== 'Action' && name !== 'Version'),
      );
    }
    const live = this.runner.currentInvocation();
    const attemptHeader = /attempt=(\d+)/.exec(headerOf(request, 'amz-sdk-request') ?? '');
    const info: CallInfo = {
      index: this.nextCallIndex,
      service,
      operation,
      params: redactParams(params),
      ...(live === undefined ? {} : { invocationId: live.record.id, step: live.record.step }),
      ...(attemptHeader?.[1] === undefined ? {} : { attempt: Number(attemptHeader[1]) }),
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
      return this.errorResponse(service, error, requestId);
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
      principal = await this.authenticate(request, auth, service);
      const rotatingSecretArn = live?.state === 'running' ? live.record.secretArn : undefined;
      const body =
        service === 'secretsmanager'
          ? this.executeSecretsManager(operation, params, rotatingSecretArn)
          : service === 'iam'
            ? this.executeIam(operation, query ?? new Map(), principal)
            : this.executeSts(operation, principal);
      result = {
        ok: true,
        principal,
        response:
          service === 'secretsmanager'
            ? response(200, 'application/x-amz-json-1.1', JSON.stringify(body), requestId)
            : response(
                200,
                'text/xml',
                queryResponse(operation, NAMESPACES[service], body as XmlObject, requestId),
                requestId,
              ),
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
    return this.errorResponse(service, result.error, requestId);
  }

  private errorResponse(
    service: ServiceName,
    error: AwsServiceError,
    requestId: string,
  ): HttpResponse {
    if (service === 'secretsmanager') {
      const text = JSON.stringify({ __type: error.code, message: error.message });
      const res = response(error.statusCode, 'application/x-amz-json-1.1', text, requestId);
      res.headers['x-amzn-errortype'] = error.code;
      return res;
    }
    return response(
      error.statusCode,
      'text/xml',
      queryErrorResponse(
        NAMESPACES[service],
        { type: error.faultType, code: error.code, message: error.message },
        requestId,
      ),
      requestId,
    );
  }

  private async authenticate(
    request: HttpRequest,
    auth: ParsedAuthorization | undefined,
    service: ServiceName,
  ): Promise<Principal> {
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

  private executeIam(
    action: string,
    query: ReadonlyMap<string, string>,
    caller: Principal,
  ): XmlObject {
    const userNameOrSigner = (): string => {
      const given = query.get('UserName');
      if (given !== undefined) return given;
      if (caller.kind === 'user') return caller.userName;
      throw new AwsServiceError(
        'ValidationError',
        'Must specify userName when calling with non-User credentials',
      );
    };
    const required = (name: string): string => {
      const value = query.get(name);
      if (value === undefined || value === '') {
        throw new AwsServiceError(
          'ValidationError',
          `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
        );
      }
      return value;
    };
    const userXml = (user: IamUser): XmlObject => ({
      Path: user.path,
      UserName: user.userName,
      UserId: user.userId,
      Arn: user.arn,
      CreateDate: new Date(user.createDate),
      Tags:
        user.tags.length === 0
          ? undefined
          : user.tags.map((tag) => ({ Key: tag.Key, Value: tag.Value })),
    });
    switch (action) {
      case 'CreateUser': {
        const tags = queryList(query, 'Tags').map((tag): Tag => ({
          Key: tag.Key ?? '',
          Value: tag.Value ?? '',
        }));
        return {
          User: userXml(this.iam.createUser(required('UserName'), query.get('Path') ?? '/', tags)),
        };
      }
      case 'GetUser':
        return { User: userXml(this.iam.getUser(userNameOrSigner())) };
      case 'DeleteUser':
        this.iam.deleteUser(required('UserName'));
        return {};
      case 'ListUsers':
        return { Users: this.iam.listUsers().map(userXml), IsTruncated: false };
      case 'CreateAccessKey': {
        const key = this.iam.createAccessKey(query.get('UserName'), caller);
        return {
          AccessKey: {
            UserName: key.userName,
            AccessKeyId: key.accessKeyId,
            Status: key.status,
            SecretAccessKey: key.secretAccessKey,
            CreateDate: new Date(key.createDate),
          },
        };
      }
      case 'ListAccessKeys': {
        const keys = this.iam.listAccessKeys(userNameOrSigner());
        const maxItems = Number(query.get('MaxItems') ?? '100');
        const start = Number(query.get('Marker') ?? '0');
        const page = keys.slice(start, start + maxItems);
        const truncated = start + maxItems < keys.length;
        return {
          AccessKeyMetadata: page.map((key) => ({
            UserName: key.userName,
            AccessKeyId: key.accessKeyId,
            Status: key.status,
            CreateDate: new Date(key.createDate),
          })),
          IsTruncated: truncated,
          Marker: truncated ? String(start + maxItems) : undefined,
        };
      }
      case 'UpdateAccessKey':
        this.iam.updateAccessKey(userNameOrSigner(), required('AccessKeyId'), required('Status'));
        return {};
      case 'DeleteAccessKey':
        this.iam.deleteAccessKey(userNameOrSigner(), required('AccessKeyId'));
        return {};
      case 'GetAccessKeyLastUsed': {
        const key = this.iam.getAccessKeyLastUsed(required('AccessKeyId'));
        return {
          UserName: key.userName,
          AccessKeyLastUsed: {
            LastUsedDate: key.lastUsed === undefined ? undefined : new Date(key.lastUsed.date),
            ServiceName: key.lastUsed?.serviceName ?? 'N/A',
            Region: key.lastUsed?.region ?? 'N/A',
          },
        };
      }
      default:
        throw new AwsServiceError(
          'InvalidAction',
          `The simulation does not implement IAM ${action}`,
        );
    }
  }

  private executeSts(action: string, caller: Principal): XmlObject {
    if (action !== 'GetCallerIdentity') {
      throw new AwsServiceError('InvalidAction', `The simulation does not implement STS ${action}`);
    }
    if (caller.kind === 'user') {
      const user = this.iam.getUser(caller.userName);
      return { UserId: user.userId, Account: this.accountId, Arn: user.arn };
    }
    return { UserId: `${caller.userId}:session`, Account: this.accountId, Arn: caller.arn };
  }

  private executeSecretsManager(
    operation: string,
    params: Readonly<Record<string, unknown>>,
    rotatingSecretArn: string | undefined,
  ): Record<string, unknown> {
    const sm = this.secretsManager;
    switch (operation) {
      case 'CreateSecret': {
        const secret = sm.createSecret({
          Name: requiredStr(params, 'Name'),
          ...optional(params, [
            'ClientRequestToken',
            'Description',
            'SecretString',
            'SecretBinary',
          ]),
          ...(Array.isArray(params.Tags) ? { Tags: params.Tags as Tag[] } : {}),
        });
        const current = sm.holderOf(secret, 'AWSCURRENT');
        return {
          ARN: secret.arn,
          Name: secret.name,
          ...(current === undefined ? {} : { VersionId: current.versionId }),
        };
      }
      case 'DescribeSecret':
        return this.describe(sm.get(requiredStr(params, 'SecretId')));
      case 'GetSecretValue': {
        const { secret, version, value } = sm.getSecretValue({
          SecretId: requiredStr(params, 'SecretId'),
          ...optional(params, ['VersionId', 'VersionStage']),
        });
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.versionId,
          ...value,
          VersionStages: [...version.stages],
          CreatedDate: epochSeconds(version.createdDate),
        };
      }
      case 'PutSecretValue': {
        const stages = params.VersionStages;
        const { secret, version } = sm.putSecretValue(
          {
            SecretId: requiredStr(params, 'SecretId'),
            ...optional(params, ['ClientRequestToken', 'SecretString', 'SecretBinary']),
            ...(Array.isArray(stages) ? { VersionStages: stages as string[] } : {}),
          },
          rotatingSecretArn === undefined ? {} : { rotatingSecretArn },
        );
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.versionId,
          VersionStages: [...version.stages],
        };
      }
      case 'UpdateSecretVersionStage': {
        const secret = sm.updateSecretVersionStage({
          SecretId: requiredStr(params, 'SecretId'),
          VersionStage: requiredStr(params, 'VersionStage'),
          ...optional(params, ['MoveToVersionId', 'RemoveFromVersionId']),
        });
        return { ARN: secret.arn, Name: secret.name };
      }
      case 'ListSecretVersionIds': {
        const secret = sm.get(requiredStr(params, 'SecretId'));
        const includeDeprecated = params.IncludeDeprecated === true;
        const versions = [...secret.versions.values()].filter(
          (v) => includeDeprecated || v.stages.size > 0,
        );
        const maxResults = typeof params.MaxResults === 'number' ? params.MaxResults : 100;
        const start = Number(str(params, 'NextToken') ?? '0');
        const page = versions.slice(start, start + maxResults);
        return {
          ARN: secret.arn,
          Name: secret.name,
          Versions: page.map((v) => ({
            VersionId: v.versionId,
            VersionStages: [...v.stages],
            CreatedDate: epochSeconds(v.createdDate),
            ...(v.lastAccessedDate === undefined
              ? {}
              : { LastAccessedDate: epochSeconds(v.lastAccessedDate) }),
          })),
          ...(start + maxResults < versions.length
            ? { NextToken: String(start + maxResults) }
            : {}),
        };
      }
      case 'RotateSecret': {
        const { secret, versionId } = sm.rotateSecret({
          SecretId: requiredStr(params, 'SecretId'),
          ...optional(params, ['ClientRequestToken', 'RotationLambdaARN']),
          ...(typeof params.RotationRules === 'object' && params.RotationRules !== null
            ? { RotationRules: params.RotationRules }
            : {}),
          ...(typeof params.RotateImmediately === 'boolean'
            ? { RotateImmediately: params.RotateImmediately }
            : {}),
        });
        return { ARN: secret.arn, Name: secret.name, VersionId: versionId };
      }
      case 'CancelRotateSecret': {
        const secret = sm.cancelRotateSecret(requiredStr(params, 'SecretId'));
        return { ARN: secret.arn, Name: secret.name };
      }
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `The simulation does not implement Secrets Manager ${operation}`,
        );
    }
  }

  private describe(secret: SecretState): Record<string, unknown> {
    const versionIdsToStages: Record<string, string[]> = {};
    for (const version of secret.versions.values()) {
      if (version.stages.size > 0) versionIdsToStages[version.versionId] = [...version.stages];
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description === undefined ? {} : { Description: secret.description }),
      ...(secret.rotationEnabled === undefined ? {} : { RotationEnabled: secret.rotationEnabled }),
      ...(secret.rotationLambdaArn === undefined
        ? {}
        : { RotationLambdaARN: secret.rotationLambdaArn }),
      ...(secret.rotationRules === undefined ? {} : { RotationRules: secret.rotationRules }),
      ...(secret.lastRotatedDate === undefined
        ? {}
        : { LastRotatedDate: epochSeconds(secret.lastRotatedDate) }),
      LastChangedDate: epochSeconds(secret.lastChangedDate),
      ...(secret.lastAccessedDate === undefined
        ? {}
        : { LastAccessedDate: epochSeconds(secret.lastAccessedDate) }),
      ...(secret.tags.length === 0 ? {} : { Tags: secret.tags }),
      VersionIdsToStages: versionIdsToStages,
      CreatedDate: epochSeconds(secret.createdDate),
    };
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
      ...(key.lastUsed === undefined ? {} : { lastUsedDate: key.lastUsed.date }),
    };
  }
}

const optional = <K extends string>(
  params: Readonly<Record<string, unknown>>,
  names: readonly K[],
): Partial<Record<K, string>> => {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const value = str(params, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
};
