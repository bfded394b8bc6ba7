import { SimulationError } from './errors.js';

export type ServiceName = 'iam' | 'sts' | 'secretsmanager' | 'scheduler';

/**
 * - `throttling`: the service answers `Throttling` (IAM, STS) / `ThrottlingException`
 *   (Secrets Manager), HTTP 400, without effect.
 * - `server-error`: `ServiceFailure` (IAM) / `InternalFailure` (STS) / `InternalServiceError`
 *   (Secrets Manager), HTTP 500, without effect.
 * - `timeout-before-effect`: no answer within the client's timeout; the request never reached
 *   the service. The SDK sees a `TimeoutError` (and retries it as transient).
 * - `timeout-after-effect`: as above, but the service did apply the call; only the answer was
 *   lost.
 * - `crash-after-success`: the call takes effect, then the Lambda process dies: this call and
 *   every later call of the same invocation fail without effect, and the invocation counts as
 *   failed. Outside an invocation it behaves as `timeout-after-effect` without the wait.
 * - `access-denied`: the call is refused without effect, as a service control policy or a KMS
 *   key policy refuses it: `AccessDeniedException`, HTTP 400 (Secrets Manager), `AccessDenied`,
 *   HTTP 403 (IAM, STS). The SDK does not retry it. Authentication comes first, as on AWS: a
 *   request that fails authentication gets that error instead (the fault still counts as
 *   fired), and one that passes it counts as a use of its access key (GetAccessKeyLastUsed).
 *   AWS itself never refuses `sts:GetCallerIdentity` (it needs no permission): a fault there
 *   stages a refusal AWS does not give.
 */
export type FaultKind =
  | 'throttling'
  | 'server-error'
  | 'timeout-before-effect'
  | 'timeout-after-effect'
  | 'crash-after-success'
  | 'access-denied';

export const FAULT_KINDS: readonly FaultKind[] = [
  'throttling',
  'server-error',
  'timeout-before-effect',
  'timeout-after-effect',
  'crash-after-success',
  'access-denied',
];

/** One request as the fault injector and the call log see it. */
export interface CallInfo {
  /** Position of the request in the simulation's global request counter, from 0. */
  readonly index: number;
  readonly service: ServiceName;
  readonly operation: string;
  /** The Lambda invocation that made the call; absent for calls from tests or the demo. */
  readonly invocationId?: string;
  /** The rotation step of that invocation. */
  readonly step?: string;
  /** The SDK's attempt number for this request (1 = first try). */
  readonly attempt?: number;
  /** Request parameters with SecretString, SecretBinary and RotationToken redacted. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** Which calls a fault applies to. All given criteria must hold. */
export interface CallMatcher {
  /** The call with this global index (see {@link CallInfo.index}). */
  readonly index?: number;
  readonly service?: ServiceName;
  readonly operation?: string;
  readonly invocationId?: string;
  readonly step?: string;
  /** `true`: only calls made by a Lambda invocation; `false`: only calls from outside. */
  readonly insideInvocation?: boolean;
  /** Any further condition. */
  readonly where?: (call: CallInfo) => boolean;
  /**
   * Fire on the nth call (1-based) that matches the other criteria, counted from the moment
   * the fault was injected.
   * @default 1
   */
  readonly nth?: number;
}

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly match: CallMatcher;
  /**
   * How many matching calls fail, starting at the nth.
   * @default 1
   */
  readonly times?: number;
  /**
   * Overrides the wire error code of `throttling`, `server-error` and `access-denied` (e.g.
   * `KMSAccessDeniedException`); the HTTP status stays the kind's.
   * @default - the service's own code (see {@link FaultKind})
   */
  readonly errorCode?: string;
}

/** A fault that has been injected; `fired` counts the calls it has hit. */
export interface InjectedFault {
  readonly id: number;
  readonly spec: FaultSpec;
  readonly fired: number;
  readonly seen: number;
}

interface MutableFault {
  id: number;
  spec: FaultSpec;
  fired: number;
  seen: number;
}

const matches = (matcher: CallMatcher, call: CallInfo): boolean =>
  (matcher.index === undefined || matcher.index === call.index) &&
  (matcher.service === undefined || matcher.service === call.service) &&
  (matcher.operation === undefined || matcher.operation === call.operation) &&
  (matcher.invocationId === undefined || matcher.invocationId === call.invocationId) &&
  (matcher.step === undefined || matcher.step === call.step) &&
  (matcher.insideInvocation === undefined ||
    matcher.insideInvocation === (call.invocationId !== undefined)) &&
  (matcher.where === undefined || matcher.where(call));

/** Holds injected faults and decides, call by call, which one fires. */
export class FaultInjector {
  private readonly faults: MutableFault[] = [];
  private nextId = 1;

  public inject(spec: FaultSpec): InjectedFault {
    const times = spec.times ?? 1;
    const nth = spec.match.nth ?? 1;
    if (!Number.isInteger(times) || times < 1) {
      throw new SimulationError(`Fault times must be a positive integer, got ${times}`);
    }
    if (!Number.isInteger(nth) || nth < 1) {
      throw new SimulationError(`Fault match.nth must be a positive integer, got ${nth}`);
    }
    const fault: MutableFault = { id: this.nextId, spec, fired: 0, seen: 0 };
    this.nextId += 1;
    this.faults.push(fault);
    return fault;
  }

  /** The first live fault that fires on `call`, if any (and counts it). */
  public take(call: CallInfo): FaultSpec | undefined {
    let chosen: FaultSpec | undefined;
    for (const fault of this.faults) {
      if (!matches(fault.spec.match, call)) continue;
      fault.seen += 1;
      const nth = fault.spec.match.nth ?? 1;
      const times = fault.spec.times ?? 1;
      if (chosen === undefined && fault.seen >= nth && fault.fired < times) {
        fault.fired += 1;
        chosen = fault.spec;
      }
    }
    return chosen;
  }

  /** Faults that have not yet fired as often as asked. */
  public pending(): InjectedFault[] {
    return this.faults.filter((fault) => fault.fired < (fault.spec.times ?? 1));
  }

  public all(): InjectedFault[] {
    return [...this.faults];
  }

  public clear(): void {
    this.faults.length = 0;
  }
}
