import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import type {
  AwsCredentialIdentityProvider,
  HttpRequest as SignedRequest,
  HttpResponse,
} from '@smithy/types';

/** A one-time EventBridge Scheduler schedule that invokes a Lambda function once, then is deleted. */
export interface OneTimeSchedule {
  /** 1-64 letters, digits, `-`, `_` and `.`; unique in the group. */
  readonly name: string;
  readonly groupName: string;
  /** When it fires (to the second, UTC). */
  readonly at: Date;
  /** The function to invoke: the rotation function's own ARN. */
  readonly targetArn: string;
  /** The role EventBridge Scheduler assumes to invoke it (the caller needs iam:PassRole on it). */
  readonly roleArn: string;
  /** The event the function receives. */
  readonly input: string;
  /** Up to 512 characters, for the operator reading the schedule. */
  readonly description: string;
}

/** A schedule as GetSchedule shows it: what it does, whether it is on, and how punctual. */
export interface ExistingSchedule extends Omit<OneTimeSchedule, 'at' | 'description'> {
  /** When it fires; `undefined` when its expression is not a one-time `at(...)`. */
  readonly at: Date | undefined;
  readonly state: string;
  /** `OFF`: it fires at its time; `FLEXIBLE`: up to a window later. */
  readonly flexibleTimeWindowMode: string;
  /**
   * Settings that change when or whether it fires and that the schedules of this function never
   * have: a time zone other than UTC (its `at` is then another instant), a KMS key, a start or
   * end date. Empty for a schedule of ours.
   */
  readonly otherSettings: readonly string[];
}

/** The EventBridge Scheduler calls the grace period makes. */
export interface RetirementScheduler {
  /**
   * Creates the schedule. `exists` when a schedule of that name is already in the group
   * (ConflictException): it is left as it is (see {@link getOneTimeSchedule}).
   */
  createOneTimeSchedule(schedule: OneTimeSchedule): Promise<'created' | 'exists'>;
  /** GetSchedule: the schedule of that name in the group, `undefined` when there is none. */
  getOneTimeSchedule(name: string, groupName: string): Promise<ExistingSchedule | undefined>;
}

/** `at(yyyy-mm-ddThh:mm:ss)`, UTC (with `ScheduleExpressionTimezone: UTC`). */
export const atExpression = (date: Date): string => `at(${date.toISOString().slice(0, 19)})`;

/** What sends a signed request: the request handler of the function's other SDK clients. */
export interface SignedRequestHandler {
  handle(request: SignedRequest): Promise<{ response: HttpResponse }>;
}

export interface SchedulerEndpointOptions {
  /** The region's provider of the function's SDK clients. */
  readonly region: () => Promise<string>;
  /** The credentials' provider of the function's SDK clients. */
  readonly credentials: AwsCredentialIdentityProvider;
  /** The request handler of the function's SDK clients (timeouts included). */
  readonly requestHandler: SignedRequestHandler;
  /**
   * The endpoint (`AWS_ENDPOINT_URL_SCHEDULER`, else `AWS_ENDPOINT_URL`, as the SDK reads them).
   * @default https://scheduler.<region>.amazonaws.com (.com.cn in China)
   */
  readonly endpoint?: string;
  readonly sleep: (milliseconds: number) => Promise<void>;
}

/** An error EventBridge Scheduler answered, with its type as `name` (as an SDK error has). */
export class SchedulerServiceError extends Error {
  public override name: string;
  public readonly $metadata: { readonly httpStatusCode: number };
  public readonly $fault: 'client' | 'server';

  public constructor(type: string, message: string, statusCode: number) {
    super(message);
    this.name = type;
    this.$metadata = { httpStatusCode: statusCode };
    this.$fault = statusCode >= 500 ? 'server' : 'client';
  }
}

const ATTEMPTS = 3;
const RETRYABLE_TYPES = new Set(['ThrottlingException', 'InternalServerException']);

/** The text of a response body (a string or a stream of chunks). */
export const readBody = async (body: unknown): Promise<string> => {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
};

/** The error type of a REST-JSON error answer: the `x-amzn-errortype` header, else the body. */
const errorOf = (response: HttpResponse, text: string): SchedulerServiceError => {
  let body: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not JSON: the status code says enough.
  }
  const header = Object.entries(response.headers).find(
    ([name]) => name.toLowerCase() === 'x-amzn-errortype',
  )?.[1];
  const raw = header ?? (typeof body.__type === 'string' ? body.__type : undefined) ?? '';
  const type = raw.split(':')[0]?.split('#').at(-1) ?? '';
  const message = body.message ?? body.Message;
  return new SchedulerServiceError(
    type === '' ? `HTTP ${String(response.statusCode)}` : type,
    typeof message === 'string'
      ? message
      : `EventBridge Scheduler answered HTTP ${String(response.statusCode)}`,
    response.statusCode,
  );
};

/**
 * CreateSchedule of EventBridge Scheduler as one REST-JSON request (`POST /schedules/{Name}`),
 * signed with the SDK's own SigV4 signer and sent by the request handler, credentials and
 * region of the function's other SDK clients. The Scheduler SDK client would add about 21 KB
 * (its client, schemas, endpoint rules and the REST protocol code) to a bundle budgeted at
 * 250 KB, for this single call. Retries throttling, 5xx and network errors twice; the
 * ClientToken (derived from the name) makes a retry that follows a lost answer harmless.
 */
export class EventBridgeRetirementScheduler implements RetirementScheduler {
  public constructor(private readonly options: SchedulerEndpointOptions) {}

  public async createOneTimeSchedule(schedule: OneTimeSchedule): Promise<'created' | 'exists'> {
    const body = JSON.stringify({
      GroupName: schedule.groupName,
      Description: schedule.description,
      ScheduleExpression: atExpression(schedule.at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      ActionAfterCompletion: 'DELETE',
      ClientToken: schedule.name,
      Target: { Arn: schedule.targetArn, RoleArn: schedule.roleArn, Input: schedule.input },
    });
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.send(`/schedules/${encodeURIComponent(schedule.name)}`, body);
        return 'created';
      } catch (error) {
        if (error instanceof SchedulerServiceError && error.name === 'ConflictException') {
          return 'exists';
        }
        const retryable =
          !(error instanceof SchedulerServiceError) ||
          error.$fault === 'server' ||
          RETRYABLE_TYPES.has(error.name);
        if (!retryable || attempt >= ATTEMPTS) throw error;
        await this.options.sleep(100 * 2 ** attempt);
      }
    }
  }

  public async getOneTimeSchedule(
    name: string,
    groupName: string,
  ): Promise<ExistingSchedule | undefined> {
    let text: string;
    try {
      text = await this.send(
        `/schedules/${encodeURIComponent(name)}?groupName=${encodeURIComponent(groupName)}`,
      );
    } catch (error) {
      if (error instanceof SchedulerServiceError && error.name === 'ResourceNotFoundException') {
        return undefined;
      }
      throw error;
    }
    const found = JSON.parse(text) as {
      ScheduleExpression?: string;
      ScheduleExpressionTimezone?: string;
      KmsKeyArn?: string;
      StartDate?: unknown;
      EndDate?: unknown;
      State?: string;
      FlexibleTimeWindow?: { Mode?: string };
      Target?: { Arn?: string; RoleArn?: string; Input?: string };
    };
    const timeZone = found.ScheduleExpressionTimezone;
    const at = /^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$/.exec(found.ScheduleExpression ?? '')?.[1];
    return {
      name,
      groupName,
      at: at === undefined ? undefined : new Date(`${at}Z`),
      targetArn: found.Target?.Arn ?? '',
      roleArn: found.Target?.RoleArn ?? '',
      input: found.Target?.Input ?? '',
      state: found.State ?? '',
      flexibleTimeWindowMode: found.FlexibleTimeWindow?.Mode ?? '',
      otherSettings: [
        ...(timeZone === undefined || timeZone === 'UTC' ? [] : [`time zone ${timeZone}`]),
        ...(found.KmsKeyArn === undefined ? [] : [`KMS key ${found.KmsKeyArn}`]),
        ...(found.StartDate === undefined ? [] : ['a start date']),
        ...(found.EndDate === undefined ? [] : ['an end date']),
      ],
    };
  }

  /** Sends one signed request (POST with `body`, else GET) and returns the answer's text. */
  private async send(path: string, body?: string): Promise<string> {
    const region = await this.options.region();
    const endpoint = new URL(
      this.options.endpoint ??
        `https://scheduler.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`,
    );
    const [pathname = '', search] = path.split('?');
    const request = new HttpRequest({
      method: body === undefined ? 'GET' : 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
      path: `${endpoint.pathname.replace(/\/$/, '')}${pathname}`,
      ...(search === undefined
        ? {}
        : { query: Object.fromEntries(new URLSearchParams(search).entries()) }),
      headers: {
        host: endpoint.host,
        ...(body === undefined
          ? {}
          : {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(body)),
            }),
      },
      ...(body === undefined ? {} : { body }),
    });
    const signer = new SignatureV4({
      service: 'scheduler',
      region,
      credentials: this.options.credentials,
      sha256: Sha256,
    });
    const { response } = await this.options.requestHandler.handle(await signer.sign(request));
    const text = await readBody(response.body);
    if (response.statusCode < 200 || response.statusCode >= 300) throw errorOf(response, text);
    return text;
  }
}
