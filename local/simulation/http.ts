import { Readable } from 'node:stream';
import { HttpResponse, type HttpHandler, type HttpRequest } from '@smithy/core/protocols';
import { AwsServiceError, SimulationError } from './errors.js';
import type { ServiceName } from './faults.js';
import { parseAuthorization, type ParsedAuthorization } from './sigv4.js';
import { parseQueryBody, queryErrorResponse, queryResponse, type XmlObject } from './wire.js';

/**
 * The HTTP side of the simulation: what the SDK clients' request handler receives, how a request
 * is taken apart, and how answers and errors are encoded as each service's protocol does (AWS
 * query protocol with XML answers for IAM and STS, JSON 1.1 for Secrets Manager, REST-JSON for
 * EventBridge Scheduler).
 */

/** Whatever answers the requests the handler receives (the Simulation). */
export interface RequestDispatcher {
  dispatch(request: HttpRequest): Promise<HttpResponse>;
  /**
   * Called, in the sender's async context, before a request reaches the service and after its
   * answer (or error) is known, before the sender sees it; a promise returned holds the request
   * there until it settles (see Simulation.onRequestBoundary).
   */
  boundary?(request: HttpRequest, phase: RequestPhase): Promise<void> | undefined;
}

/** `before`: the request has not reached the service; `after`: it has, its sender waits. */
export type RequestPhase = 'before' | 'after';

/** The request handler the SDK clients use: every request goes to the simulation, in-process. */
export class SimulatedHttpHandler implements HttpHandler {
  public constructor(private readonly dispatcher: RequestDispatcher) {}

  public async handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
    const before = this.dispatcher.boundary?.(request, 'before');
    if (before !== undefined) await before;
    try {
      return { response: await this.dispatcher.dispatch(request) };
    } finally {
      const after = this.dispatcher.boundary?.(request, 'after');
      if (after !== undefined) await after;
    }
  }

  public updateHttpClientConfig(): void {
    // Nothing to configure: there is no connection.
  }

  public httpHandlerConfigs(): Record<string, never> {
    return {};
  }
}

/** One SDK request, taken apart. */
export interface SimulatedRequest {
  /** The SigV4 `Authorization` header; absent for an unsigned request. */
  readonly auth: ParsedAuthorization | undefined;
  readonly service: ServiceName;
  /** `Action` (IAM, STS) or the `X-Amz-Target` operation (Secrets Manager). */
  readonly operation: string;
  /** The JSON body (Secrets Manager) or the query parameters but Action and Version. */
  readonly params: Record<string, unknown>;
  /** The query-protocol parameters as sent (IAM, STS); empty for Secrets Manager. */
  readonly query: ReadonlyMap<string, string>;
  /** The SDK's attempt number from `amz-sdk-request` (1 = first try), if sent. */
  readonly attempt?: number;
}

const NAMESPACES = {
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
} as const;

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

export const headerOf = (request: HttpRequest, name: string): string | undefined => {
  // The SDK sends lower-case names: the common case costs one lookup.
  const exact = request.headers[name];
  if (exact !== undefined) return exact;
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
  if (name === 'iam' || name === 'sts' || name === 'secretsmanager' || name === 'scheduler') {
    return name;
  }
  throw new SimulationError(`The simulation does not serve ${hostname} (service ${String(name)})`);
};

/** The query parameters of a REST request and the member names they stand for. */
const SCHEDULER_QUERY_MEMBERS: Readonly<Record<string, string>> = {
  groupName: 'GroupName',
  clientToken: 'ClientToken',
  ScheduleGroup: 'GroupName',
  NamePrefix: 'NamePrefix',
  State: 'State',
  NextToken: 'NextToken',
  MaxResults: 'MaxResults',
};

/**
 * EventBridge Scheduler's REST-JSON routes: the operation from the method and the path, the
 * parameters from the path (`Name`), the query and the JSON body.
 */
const parseSchedulerRoute = (
  request: HttpRequest,
  text: string,
): { operation: string; params: Record<string, unknown> } => {
  const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  const params: Record<string, unknown> = { ...body };
  for (const [name, value] of Object.entries(request.query)) {
    const member = SCHEDULER_QUERY_MEMBERS[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (member !== undefined && typeof first === 'string') params[member] = first;
  }
  const [collection, encodedName, extra] = request.path.split('/').filter((part) => part !== '');
  const method = request.method.toUpperCase();
  const named = encodedName !== undefined && extra === undefined;
  if (named) params.Name = decodeURIComponent(encodedName);
  const routes: Record<string, string> = {
    'POST schedules named': 'CreateSchedule',
    'PUT schedules named': 'UpdateSchedule',
    'GET schedules named': 'GetSchedule',
    'DELETE schedules named': 'DeleteSchedule',
    'GET schedules all': 'ListSchedules',
    'POST schedule-groups named': 'CreateScheduleGroup',
  };
  const key = `${method} ${String(collection)} ${named ? 'named' : encodedName === undefined ? 'all' : 'other'}`;
  return { operation: routes[key] ?? `${method} ${request.path}`, params };
};

/** Reads service, operation and parameters from a request. */
export const parseRequest = (request: HttpRequest): SimulatedRequest => {
  const auth = parseAuthorization(headerOf(request, 'authorization'));
  const service = serviceOf(auth, request.hostname);
  const text = bodyText(request.body);
  const attemptHeader = /attempt=(\d+)/.exec(headerOf(request, 'amz-sdk-request') ?? '');
  const attempt = attemptHeader?.[1] === undefined ? {} : { attempt: Number(attemptHeader[1]) };
  if (service === 'scheduler') {
    return { auth, service, ...parseSchedulerRoute(request, text), query: new Map(), ...attempt };
  }
  if (service === 'secretsmanager') {
    const target = headerOf(request, 'x-amz-target') ?? '';
    return {
      auth,
      service,
      operation: target.slice(target.indexOf('.') + 1),
      params: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      query: new Map(),
      ...attempt,
    };
  }
  const query = parseQueryBody(text);
  return {
    auth,
    service,
    operation: query.get('Action') ?? '',
    params: Object.fromEntries(
      [...query].filter(([name]) => name !== 'Action' && name !== 'Version'),
    ),
    query,
    ...attempt,
  };
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

/** HTTP 200 with the operation's result: a JSON document, or `<ActionResponse>` XML. */
export const successResponse = (
  service: ServiceName,
  operation: string,
  body: XmlObject | Record<string, unknown>,
  requestId: string,
): HttpResponse =>
  service === 'scheduler'
    ? response(200, 'application/json', JSON.stringify(body), requestId)
    : service === 'secretsmanager'
      ? response(200, JSON_CONTENT_TYPE, JSON.stringify(body), requestId)
      : response(
          200,
          'text/xml',
          queryResponse(operation, NAMESPACES[service], body as XmlObject, requestId),
          requestId,
        );

/**
 * The error as the service sends it: JSON `{__type, message}` with `x-amzn-errortype`
 * (Secrets Manager), or an `<ErrorResponse>` document (IAM, STS).
 */
export const errorResponse = (
  service: ServiceName,
  error: AwsServiceError,
  requestId: string,
): HttpResponse => {
  if (service === 'scheduler') {
    const res = response(
      error.statusCode,
      'application/json',
      JSON.stringify({ Message: error.message }),
      requestId,
    );
    res.headers['x-amzn-errortype'] = error.code;
    return res;
  }
  if (service === 'secretsmanager') {
    const text = JSON.stringify({ __type: error.code, message: error.message });
    const res = response(error.statusCode, JSON_CONTENT_TYPE, text, requestId);
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
};
