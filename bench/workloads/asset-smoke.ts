/**
 * Loads the asset as the Lambda runtime would and invokes it once against a 127.0.0.1 endpoint
 * that answers every request with ResourceNotFoundException, then prints what the first request
 * carried: the operation and the access key id it was signed with (never a secret).
 * Run by bench/benchmarks/cold-start.ts as `node --import tsx asset-smoke.ts <asset entry>`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

interface SeenRequest {
  readonly target?: string;
  readonly accessKeyId?: string;
}

type Handler = (event: unknown) => Promise<unknown>;

const assetEntry = process.argv[2];
if (assetEntry === undefined) throw new Error('usage: asset-smoke.ts <asset entry>');
const seen: SeenRequest[] = [];
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    const target = request.headers['x-amz-target'];
    const accessKeyId = /Credential=([^/]+)\//.exec(request.headers.authorization ?? '')?.[1];
    seen.push({
      ...(typeof target === 'string' ? { target } : {}),
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
    });
    response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'bench' }));
  });
});

const invokeOnce = async (): Promise<void> => {
  const { port } = server.address() as AddressInfo;
  process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${String(port)}`;
  try {
    const { handler } = (await import(pathToFileURL(assetEntry).href)) as { handler: Handler };
    await handler({
      Step: 'createSecret',
      SecretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-AbCdEf',
      ClientRequestToken: '00000000-0000-4000-8000-000000000000',
    }).catch(() => undefined);
  } finally {
    server.close();
    process.stderr.write(`BENCH_RESULT ${JSON.stringify(seen)}\n`);
  }
};

server.listen(0, '127.0.0.1', () => {
  void invokeOnce();
});
