/**
 * Loads the asset as the Lambda runtime would and invokes it once against a 127.0.0.1 endpoint
 * that answers every request with ResourceNotFoundException, then prints what the requests
 * carried: the operation, the access key id they were signed with and whether they carried the
 * expected session token (never a secret).
 *
 * `environment`: the credentials are the environment's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
 * `container`: those are removed, and a second 127.0.0.1 server plays the container credentials
 * endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN), as
 * runtimes that do not put the credentials in the environment provide them; it hands out
 * credentials only for the token.
 *
 * Run by bench/benchmarks/cold-start.ts as
 * `node --import tsx asset-smoke.ts <asset entry> <environment|container>`, once per mode: the
 * asset caches its credentials at module load.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

interface SeenRequest {
  readonly target?: string;
  readonly accessKeyId?: string;
  /** Whether the request carried the container endpoint's session token. */
  readonly containerSessionToken: boolean;
}

export interface SmokeResult {
  readonly mode: SmokeMode;
  /** The access key id the requests must be signed with. */
  readonly expectedAccessKeyId: string;
  readonly requests: readonly SeenRequest[];
  /** Requests to the container credentials endpoint: whether each sent the token. */
  readonly credentialRequests: readonly { readonly authorized: boolean }[];
}

type SmokeMode = 'environment' | 'container';
type Handler = (event: unknown) => Promise<unknown>;

/** Stand-ins for what a container credentials endpoint hands out; none is a real credential. */
const CONTAINER_AUTHORIZATION_TOKEN = 'bench-authorization-token';
const CONTAINER_CREDENTIALS = {
  AccessKeyId: 'ASIABENCHCONTAINER01',
  SecretAccessKey: 'bench-not-a-secret',
  Token: 'bench-session-token',
};
const CONTAINER_VARIABLES_TO_CLEAR = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
];

const [assetEntry, modeArgument = 'environment'] = process.argv.slice(2);
if (assetEntry === undefined || (modeArgument !== 'environment' && modeArgument !== 'container')) {
  throw new Error('usage: asset-smoke.ts <asset entry> <environment|container>');
}
const mode: SmokeMode = modeArgument;

const requests: SeenRequest[] = [];
const credentialRequests: { authorized: boolean }[] = [];

const awsEndpoint = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    const target = request.headers['x-amz-target'];
    const accessKeyId = /Credential=([^/]+)\//.exec(request.headers.authorization ?? '')?.[1];
    requests.push({
      ...(typeof target === 'string' ? { target } : {}),
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
      containerSessionToken:
        request.headers['x-amz-security-token'] === CONTAINER_CREDENTIALS.Token,
    });
    response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'bench' }));
  });
});

const credentialsEndpoint = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    const authorized = request.headers.authorization === CONTAINER_AUTHORIZATION_TOKEN;
    credentialRequests.push({ authorized });
    response.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify(
        authorized
          ? {
              ...CONTAINER_CREDENTIALS,
              Expiration: new Date(Date.now() + 3_600_000).toISOString(),
            }
          : { Code: 'AccessDenied', Message: 'bench: wrong token' },
      ),
    );
  });
});

const listen = (server: Server): Promise<string> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${String((server.address() as AddressInfo).port)}`);
    });
  });

const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });

const invokeOnce = async (): Promise<SmokeResult> => {
  process.env.AWS_ENDPOINT_URL = await listen(awsEndpoint);
  let expectedAccessKeyId = process.env.AWS_ACCESS_KEY_ID ?? '';
  if (mode === 'container') {
    for (const name of CONTAINER_VARIABLES_TO_CLEAR) Reflect.deleteProperty(process.env, name);
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${await listen(credentialsEndpoint)}/credentials`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = CONTAINER_AUTHORIZATION_TOKEN;
    expectedAccessKeyId = CONTAINER_CREDENTIALS.AccessKeyId;
  }
  const { handler } = (await import(pathToFileURL(assetEntry).href)) as { handler: Handler };
  await handler({
    Step: 'createSecret',
    SecretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-AbCdEf',
    ClientRequestToken: '00000000-0000-4000-8000-000000000000',
  }).catch(() => undefined);
  return { mode, expectedAccessKeyId, requests, credentialRequests };
};

try {
  const result = await invokeOnce();
  process.stderr.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
} finally {
  await Promise.all([close(awsEndpoint), close(credentialsEndpoint)]);
}
