import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const HOST = '127.0.0.1';
const RESULT_PREFIX = 'BUNDLED_HANDLER_RESULT ';
const DEFAULT_TIMEOUT_MS = 30_000;

/** What a request to a loopback server carried (the header values as received). */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
}

/** An HTTP server on 127.0.0.1 (a free port the system picks) that records every request. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Stops listening and closes every open connection. */
  readonly close: () => Promise<void>;
}

/**
 * Starts an HTTP server on 127.0.0.1 that records each request (after reading its body) and lets
 * `respond` answer it.
 */
export const startLoopbackServer = (
  respond: (request: RecordedRequest, response: ServerResponse) => void,
): Promise<LoopbackServer> => {
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const recorded: RecordedRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
      };
      requests.push(recorded);
      respond(recorded, response);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${HOST}:${String(port)}`,
        requests,
        close: () =>
          new Promise((closed) => {
            server.close(() => {
              closed();
            });
            server.closeAllConnections();
          }),
      });
    });
  });
};

/** The access key id in a SigV4 Authorization header (`Credential=<id>/<scope>`). */
export const signingAccessKeyId = (request: RecordedRequest): string | undefined =>
  /Credential=([^/]+)\//.exec(request.headers.authorization ?? '')?.[1];

/** An error as the child process reported it: name, message and its causes, nothing else. */
export interface ReportedError {
  readonly name: string;
  readonly message: string;
  readonly cause?: ReportedError;
}

export type ChildInvocation =
  | { readonly outcome: 'resolved' }
  | { readonly outcome: 'rejected'; readonly error: ReportedError };

export interface ChildInvocationOptions {
  readonly handlerFile: string;
  readonly handlerExport: string;
  /** The child's whole environment (nothing is inherited but PATH). */
  readonly environment: Readonly<Record<string, string>>;
  readonly event: unknown;
  readonly timeoutMs?: number;
}

/** The module the child runs: import the asset, invoke the handler once, print the outcome. */
const childScript = (handlerFile: string, handlerExport: string, event: unknown): string => `
const describe = (error, depth = 0) => {
  if (!(error instanceof Error)) return { name: typeof error, message: String(error) };
  const described = { name: error.name, message: error.message };
  if (error.cause !== undefined && depth < 5) described.cause = describe(error.cause, depth + 1);
  return described;
};
const report = (result) => { process.stdout.write('\\n${RESULT_PREFIX}' + JSON.stringify(result) + '\\n'); };
const asset = await import(${JSON.stringify(pathToFileURL(handlerFile).href)});
const handler = asset[${JSON.stringify(handlerExport)}];
const startedAt = Date.now();
try {
  await handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 60000 - (Date.now() - startedAt) });
  report({ outcome: 'resolved' });
} catch (error) {
  report({ outcome: 'rejected', error: describe(error) });
}
`;

/**
 * Loads the bundled handler in a new `node` process with exactly `environment` and invokes it
 * once. The bundle builds its clients and caches its credentials at module load, so each
 * environment needs a process of its own. The child is killed (by its pid) if it outlives
 * `timeoutMs`.
 */
export const invokeBundledHandlerInChild = (
  options: ChildInvocationOptions,
): Promise<ChildInvocation> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        childScript(options.handlerFile, options.handlerExport, options.event),
      ],
      {
        env: { PATH: process.env.PATH ?? '', ...options.environment },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((candidate) => candidate.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(
          new Error(
            `The child process exited with ${String(code ?? signal)} and reported no result:\n${stderr}`,
          ),
        );
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ChildInvocation);
    });
  });
