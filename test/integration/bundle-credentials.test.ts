import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STACK_ID_ENV } from '../../lambda/rotation/binding.js';
import { STACK_ID } from '../support/moto/moto-aws.js';
import {
  invokeBundledHandlerInChild,
  signingAccessKeyId,
  startLoopbackServer,
  type ChildInvocation,
  type LoopbackServer,
  type ReportedError,
} from '../support/bundled-handler-process.js';
import {
  SHARED_STACK_CONFIG,
  synthesizeRotationStack,
  type SynthesizedStack,
} from '../support/moto/synthesized-stack.js';

/**
 * The credentials of the bundled rotation function (the asset `cdk synth` produces), in which
 * lambda/aws/lambda-credential-provider.ts stands in for the SDK's default chain: the environment
 * first, then the container credentials endpoint. Each case loads the asset in a new `node`
 * process (the bundle caches its clients and credentials at module load) and invokes it once
 * against a loopback server that answers every AWS call with ResourceNotFoundException.
 */
/** The stack other suites synthesize too (one synth for all). */
const CONFIG = SHARED_STACK_CONFIG;
const EVENT = {
  Step: 'createSecret',
  SecretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bundle-credentials-AbCdEf',
  ClientRequestToken: '00000000-0000-4000-8000-000000000000',
};

const ENVIRONMENT_KEY = {
  AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENTEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'environment-secret-not-real',
};
const CONTAINER_KEY = {
  AccessKeyId: 'ASIACONTAINEREXAMPLE',
  SecretAccessKey: 'container-secret-not-real',
  Token: 'container-session-token-not-real',
};
const AUTHORIZATION_TOKEN = 'container-authorization-token-not-real';
const CREDENTIALS_PATH = '/2018-06-01/credentials';

let synthesized: SynthesizedStack | undefined;
let aws: LoopbackServer | undefined;
let credentialsEndpoint: LoopbackServer | undefined;

const started = (): {
  synthesized: SynthesizedStack;
  aws: LoopbackServer;
  credentialsEndpoint: LoopbackServer;
} => {
  if (synthesized === undefined || aws === undefined || credentialsEndpoint === undefined) {
    throw new Error('beforeAll did not finish');
  }
  return { synthesized, aws, credentialsEndpoint };
};

beforeAll(async () => {
  aws = await startLoopbackServer((_request, response) => {
    response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
    response.end(
      JSON.stringify({ __type: 'ResourceNotFoundException', message: 'bundle-credentials test' }),
    );
  });
  credentialsEndpoint = await startLoopbackServer((request, response) => {
    if (request.headers.authorization !== AUTHORIZATION_TOKEN) {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ Code: 'AccessDenied', Message: 'wrong token' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        ...CONTAINER_KEY,
        Expiration: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
  });
  synthesized = await synthesizeRotationStack(CONFIG);
});

afterAll(async () => {
  try {
    await Promise.all([aws?.close(), credentialsEndpoint?.close()]);
  } finally {
    synthesized?.dispose();
  }
});

beforeEach(() => {
  const servers = started();
  servers.aws.requests.length = 0;
  servers.credentialsEndpoint.requests.length = 0;
});

/**
 * A Lambda-like environment pointed at the loopback AWS server, with no shared config files and
 * no instance metadata, so nothing but 127.0.0.1 is ever contacted; `credentials` adds the
 * variables under test.
 */
const invoke = (credentials: Record<string, string>): Promise<ChildInvocation> => {
  const servers = started();
  return invokeBundledHandlerInChild({
    handlerFile: servers.synthesized.handlerFile,
    handlerExport: servers.synthesized.handlerExport,
    event: EVENT,
    environment: {
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: servers.aws.url,
      [STACK_ID_ENV]: STACK_ID,
      AWS_CONFIG_FILE: path.join(servers.synthesized.outdir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(servers.synthesized.outdir, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      ...credentials,
    },
  });
};

const containerEndpoint = (): string => `${started().credentialsEndpoint.url}${CREDENTIALS_PATH}`;

/** The error and its causes, outermost first. */
const errorChain = (invocation: ChildInvocation): ReportedError[] => {
  const chain: ReportedError[] = [];
  for (
    let error = invocation.outcome === 'rejected' ? invocation.error : undefined;
    error !== undefined;
    error = error.cause
  ) {
    chain.push(error);
  }
  return chain;
};

/** The handler got the loopback server's answer to its first call, DescribeSecret. */
const expectDescribeSecretAnswered = (invocation: ChildInvocation): void => {
  expect(invocation.outcome).toBe('rejected');
  expect(errorChain(invocation).map((error) => error.name)).toContain('ResourceNotFoundException');
  expect(started().aws.requests[0]?.headers['x-amz-target']).toBe('secretsmanager.DescribeSecret');
};

describe('Bundled rotation function: credentials', () => {
  it('signs with AWS_ACCESS_KEY_ID from the environment', async () => {
    // Act
    const invocation = await invoke(ENVIRONMENT_KEY);

    // Assert
    expectDescribeSecretAnswered(invocation);
    const [request] = started().aws.requests;
    expect(request && signingAccessKeyId(request)).toBe(ENVIRONMENT_KEY.AWS_ACCESS_KEY_ID);
    expect(request?.headers['x-amz-security-token']).toBeUndefined();
  });

  it('uses the environment first when a container credentials endpoint is configured too', async () => {
    // Act
    const invocation = await invoke({
      ...ENVIRONMENT_KEY,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: containerEndpoint(),
      AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTHORIZATION_TOKEN,
    });

    // Assert
    expectDescribeSecretAnswered(invocation);
    const [request] = started().aws.requests;
    expect(request && signingAccessKeyId(request)).toBe(ENVIRONMENT_KEY.AWS_ACCESS_KEY_ID);
    expect(started().credentialsEndpoint.requests).toEqual([]);
  });

  it('signs with the key of the container credentials endpoint (AWS_CONTAINER_AUTHORIZATION_TOKEN)', async () => {
    // Act
    const invocation = await invoke({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: containerEndpoint(),
      AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTHORIZATION_TOKEN,
    });

    // Assert
    const { aws: awsServer, credentialsEndpoint: endpoint } = started();
    expect(
      endpoint.requests.map(({ method, path: requestPath, headers }) => ({
        method,
        requestPath,
        authorization: headers.authorization,
      })),
    ).toEqual([
      { method: 'GET', requestPath: CREDENTIALS_PATH, authorization: AUTHORIZATION_TOKEN },
    ]);
    expectDescribeSecretAnswered(invocation);
    const [request] = awsServer.requests;
    expect(request && signingAccessKeyId(request)).toBe(CONTAINER_KEY.AccessKeyId);
    expect(request?.headers['x-amz-security-token']).toBe(CONTAINER_KEY.Token);
  });

  it('signs with the key of the container credentials endpoint (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)', async () => {
    // Arrange
    const tokenFile = path.join(started().synthesized.outdir, 'container-authorization-token');
    writeFileSync(tokenFile, AUTHORIZATION_TOKEN);

    // Act
    const invocation = await invoke({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: containerEndpoint(),
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
    });

    // Assert
    expect(
      started().credentialsEndpoint.requests.map(({ headers }) => headers.authorization),
    ).toEqual([AUTHORIZATION_TOKEN]);
    expectDescribeSecretAnswered(invocation);
    const [request] = started().aws.requests;
    expect(request && signingAccessKeyId(request)).toBe(CONTAINER_KEY.AccessKeyId);
    expect(request?.headers['x-amz-security-token']).toBe(CONTAINER_KEY.Token);
  });

  it('fails when neither the environment nor a container endpoint has credentials, naming the variables it looked for', async () => {
    // Act
    const invocation = await invoke({});

    // Assert
    expect(invocation.outcome).toBe('rejected');
    const credentialsError = errorChain(invocation).find(
      (error) => error.name === 'LambdaCredentialsError',
    );
    expect(credentialsError).toBeDefined();
    for (const variable of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_AUTHORIZATION_TOKEN',
      'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    ]) {
      expect(credentialsError?.message).toContain(variable);
    }
    expect(credentialsError?.message).toContain('none of them is set');
    expect(started().aws.requests).toEqual([]);
    expect(started().credentialsEndpoint.requests).toEqual([]);
  });

  it('fails when the container credentials endpoint refuses the token, naming the variable it used', async () => {
    // Act
    const invocation = await invoke({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: containerEndpoint(),
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'not-the-token',
    });

    // Assert
    expect(invocation.outcome).toBe('rejected');
    const credentialsError = errorChain(invocation).find(
      (error) => error.name === 'LambdaCredentialsError',
    );
    expect(credentialsError).toBeDefined();
    for (const part of [
      'container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)',
      '401',
      'AccessDenied: wrong token',
    ]) {
      expect(credentialsError?.message).toContain(part);
    }
    // fromHttp tries four times, a second apart; nothing is signed without credentials.
    expect(started().credentialsEndpoint.requests.length).toBeGreaterThan(0);
    expect(started().aws.requests).toEqual([]);
  });
});
