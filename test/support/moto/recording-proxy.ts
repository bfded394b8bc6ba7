import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy forwarded: the AWS service (from the signature's scope) and operation. */
export interface RecordedCall {
  readonly service: string;
  readonly operation: string;
}

const readBody = (incoming: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    incoming.on('error', reject);
  });

/** `Credential=<key>/<date>/<region>/<service>/aws4_request` of a SigV4 Authorization header. */
const serviceOf = (authorization: string | undefined): string =>
  /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(authorization ?? '')?.[1] ?? 'unknown';

/** The JSON protocol's `X-Amz-Target: secretsmanager.DescribeSecret`, or the query's `Action=`. */
const operationOf = (target: string | undefined, body: Buffer): string =>
  target?.split('.').at(-1) ??
  new URLSearchParams(body.toString('utf8')).get('Action') ??
  'unknown';

/**
 * An HTTP proxy on 127.0.0.1 in front of moto that records the service and operation of every
 * request: the call log of the process that sends its requests here (moto keeps none). Bodies
 * are forwarded untouched and never recorded (they carry secret values).
 */
export class RecordingProxy {
  private constructor(
    private readonly server: Server,
    public readonly endpoint: string,
    /** Every forwarded request, in order of arrival. */
    public readonly calls: RecordedCall[],
  ) {}

  public static async start(target: string): Promise<RecordingProxy> {
    const upstream = new URL(target);
    const calls: RecordedCall[] = [];
    const server = createServer((incoming, outgoing) => {
      void readBody(incoming).then((body) => {
        const header = (name: string): string | undefined => {
          const value = incoming.headers[name];
          return Array.isArray(value) ? value[0] : value;
        };
        calls.push({
          service: serviceOf(header('authorization')),
          operation: operationOf(header('x-amz-target'), body),
        });
        const forwarded = request(
          {
            hostname: upstream.hostname,
            port: upstream.port,
            method: incoming.method,
            path: incoming.url,
            headers: incoming.headers,
          },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
          },
        );
        forwarded.on('error', () => {
          outgoing.writeHead(502).end();
        });
        forwarded.end(body);
      });
    });
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    return new RecordingProxy(server, `http://127.0.0.1:${String(port)}`, calls);
  }

  /** The recorded calls to `service` since `from` (an index into {@link calls}). */
  public callsTo(service: string, from = 0): RecordedCall[] {
    return this.calls.slice(from).filter((call) => call.service === service);
  }

  public stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => {
        resolve();
      });
    });
  }
}
