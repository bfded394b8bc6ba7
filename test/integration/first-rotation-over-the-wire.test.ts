import { Logger } from '@aws-lambda-powertools/logger';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { TagUserCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHandler } from '../../lambda/create-handler.js';
import { defaultDependencies } from '../../lambda/dependencies.js';
import { filterLogEventsContaining } from '../../lambda/aws/rotation-log-events.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY, STACK_ID_ENV } from '../../lambda/rotation/binding.js';
import {
  createFirstRotationHandlers,
  type FirstRotationEvent,
  type FirstRotationResult,
} from '../../lambda/first-rotation/first-rotation-wait.js';
import { discardedMetrics } from '../../local/simulated-deployment.js';
import { StackStatusStub } from '../support/first-rotation-harness.js';
import {
  cloudFormationTags,
  MotoAws,
  REGION,
  ROTATION_STEPS,
  STACK_ID,
  UNCHECKED_CREDENTIALS,
  waitForNextSecond,
} from '../support/moto/moto-aws.js';
import { MotoServer } from '../support/moto/moto-server.js';

/**
 * The first-rotation wait's handlers (onEvent, isComplete, the rollback's Delete) with real SDK
 * clients against moto over HTTP, next to the rotation function's real handler, whose log lines
 * go into moto's CloudWatch Logs, where the wait reads them with FilterLogEvents. The harness plays
 * Secrets Manager (moto would run the function in Docker): it creates the pending version as
 * RotateSecret does and invokes the steps.
 */
const USER = 'first-rotation-user';
const LOG_GROUP = '/aws/lambda/iam-key-rotation';

let moto: MotoServer | undefined;
let aws: MotoAws;
let logs: CloudWatchLogsClient;
let lines: string[] = [];
let spies: { mockRestore(): void }[] = [];

const rotationFunction = () =>
  createHandler(
    defaultDependencies({
      clientConfig: {
        endpoint: moto?.endpoint ?? '',
        region: REGION,
        credentials: UNCHECKED_CREDENTIALS,
        maxAttempts: 1,
      },
      logger: new Logger({ serviceName: 'iam-key-rotation' }),
      metrics: discardedMetrics,
      environment: { [STACK_ID_ENV]: STACK_ID },
    }),
  );

/** Invokes one step as Secrets Manager does, then ships the function's log lines to moto. */
const invokeStep = async (
  step: (typeof ROTATION_STEPS)[number],
  secretArn: string,
  token: string,
  budgetMs = 30_000,
): Promise<unknown> => {
  const startedAt = Date.now();
  let failure: unknown;
  try {
    await rotationFunction()({ Step: step, SecretId: secretArn, ClientRequestToken: token }, {
      awsRequestId: 'request',
      functionName: 'iam-key-rotation',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:iam-key-rotation',
      getRemainingTimeInMillis: () => budgetMs - (Date.now() - startedAt),
    } as never);
  } catch (error) {
    failure = error;
  }
  const shipped = lines.splice(0);
  if (shipped.length > 0) {
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: LOG_GROUP,
        logStreamName: 'stream',
        logEvents: shipped.map((message) => ({ timestamp: Date.now(), message })),
      }),
    );
  }
  return failure;
};

/** The stack's secret of USER as CloudFormation creates it, and the user's ownership tag. */
const deploySecret = async (owner?: string): Promise<string> => {
  await aws.createUser(USER);
  const { ARN } = await aws.secrets.send(
    new CreateSecretCommand({
      Name: `iam-key-rotation/${USER}`,
      SecretString: JSON.stringify({ UserName: USER }),
      Tags: [{ Key: BINDING_TAG_KEY, Value: USER }, ...cloudFormationTags('Secret')],
    }),
  );
  const secretArn = ARN ?? '';
  await aws.iam.send(
    new TagUserCommand({
      UserName: USER,
      Tags: [{ Key: OWNER_TAG_KEY, Value: owner ?? secretArn }],
    }),
  );
  return secretArn;
};

const waitFor = (secretArn: string, waitTimeoutMs = 60_000) => {
  const stack = new StackStatusStub(Date.now() - 60_000);
  const handlers = createFirstRotationHandlers({
    settings: { stackId: STACK_ID, waitTimeoutMs, rotationTimeoutMs: 10 },
    secretsManager: aws.secrets,
    iam: aws.iam,
    stack,
    rotationLog: {
      eventsContaining: (text, since) => filterLogEventsContaining(logs, LOG_GROUP, text, since),
    },
    clock: {
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
    log: () => undefined,
  });
  const event: Omit<FirstRotationEvent, 'RequestType'> = {
    StackId: STACK_ID,
    LogicalResourceId: 'SecretFirstRotation',
    ResourceProperties: { UserName: USER, SecretArn: secretArn },
  };
  const isComplete = (created: FirstRotationResult) =>
    handlers.isComplete({
      ...event,
      RequestType: 'Create',
      PhysicalResourceId: created.PhysicalResourceId,
      Data: created.Data,
    });
  return { handlers, event, stack, isComplete };
};

beforeAll(async () => {
  moto = await MotoServer.start();
  aws = new MotoAws(moto.endpoint);
  logs = new CloudWatchLogsClient({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: UNCHECKED_CREDENTIALS,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  try {
    aws.destroy();
    logs.destroy();
  } finally {
    await moto?.stop();
  }
});

beforeEach(async () => {
  await moto?.reset();
  await moto?.setAuthentication(false);
  await logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: 'stream' }));
  // The rotation function's log lines (Powertools Logger writes JSON lines to stdout and stderr).
  lines = [];
  const keep = (chunk: unknown): boolean => {
    for (const line of String(chunk).split('\n')) {
      if (line.trim().startsWith('{') && line.includes('"clientRequestToken"')) lines.push(line);
    }
    return true;
  };
  spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation(keep),
  );
});

afterEach(() => {
  for (const spy of spies) spy.mockRestore();
});

describe('First-rotation wait over the wire (moto)', () => {
  it('awaits the rotation the schedule started and completes once AWSCURRENT holds the proven key', async () => {
    const secretArn = await deploySecret();
    const token = await aws.startRotation(secretArn);
    const wait = waitFor(secretArn);

    const created = await wait.handlers.onEvent({ ...wait.event, RequestType: 'Create' });
    const before = await wait.isComplete(created);
    for (const step of ROTATION_STEPS)
      expect(await invokeStep(step, secretArn, token)).toBeUndefined();
    const after = await wait.isComplete(created);

    expect(created.Data).toMatchObject({ Outcome: 'in-flight', ClientRequestToken: token });
    expect(before).toEqual({ IsComplete: false });
    const [key] = await aws.listKeys(USER);
    expect(after).toEqual({ IsComplete: true, Data: { AccessKeyId: key?.accessKeyId } });
  });

  it("fails with the function's own refusal, naming the user, when the ownership tag names another secret", async () => {
    const secretArn = await deploySecret(
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-key-rotation/elsewhere-AbCdEf',
    );
    const token = await aws.startRotation(secretArn);
    const wait = waitFor(secretArn);
    const created = await wait.handlers.onEvent({ ...wait.event, RequestType: 'Create' });

    expect(await invokeStep('createSecret', secretArn, token)).toBeDefined();

    await expect(wait.isComplete(created)).rejects.toThrow(
      new RegExp(
        `^First rotation of secret iam-key-rotation/${USER} \\(IAM user ${USER}\\) failed: UserOwnershipError: `,
      ),
    );
    expect(await aws.listKeys(USER)).toEqual([]);
  });

  it('keeps waiting through an attempt that ran out of time, and completes when the retry succeeds', async () => {
    const secretArn = await deploySecret();
    const token = await aws.startRotation(secretArn);
    const wait = waitFor(secretArn);
    const created = await wait.handlers.onEvent({ ...wait.event, RequestType: 'Create' });

    // Attempt 1: testSecret gets no time left (a Lambda timeout); Secrets Manager retries.
    expect(await invokeStep('createSecret', secretArn, token)).toBeUndefined();
    expect(await invokeStep('setSecret', secretArn, token)).toBeUndefined();
    expect(await invokeStep('testSecret', secretArn, token, 0)).toBeDefined();
    const between = await wait.isComplete(created);
    // Attempt 2, the same token.
    for (const step of ROTATION_STEPS)
      expect(await invokeStep(step, secretArn, token)).toBeUndefined();

    expect(between).toEqual({ IsComplete: false });
    expect(await wait.isComplete(created)).toMatchObject({ IsComplete: true });
  });

  it("fails at its deadline with the function's last error, and the rollback's Delete cancels the rotation and deletes its key", async () => {
    const secretArn = await deploySecret();
    const token = await aws.startRotation(secretArn);
    await waitForNextSecond();
    const wait = waitFor(secretArn, 1);
    const created = await wait.handlers.onEvent({ ...wait.event, RequestType: 'Create' });
    expect(await invokeStep('createSecret', secretArn, token)).toBeUndefined();
    expect(await invokeStep('testSecret', secretArn, token, 0)).toBeDefined();
    expect(await aws.listKeys(USER)).toHaveLength(1);

    await expect(wait.isComplete(created)).rejects.toThrow(
      /did not complete within 0 minutes \(version [\w-]+ carries \[AWSPENDING\]\); the function's last error: \w+Error: /,
    );
    wait.stack.stackStatus = 'ROLLBACK_IN_PROGRESS';
    wait.stack.resourceStatus = 'DELETE_IN_PROGRESS';
    wait.stack.physicalResourceId = created.PhysicalResourceId;
    await wait.handlers.onEvent({
      ...wait.event,
      RequestType: 'Delete',
      PhysicalResourceId: created.PhysicalResourceId,
    });

    expect(await aws.listKeys(USER)).toEqual([]);
    expect((await aws.versionStages(secretArn))[token] ?? []).not.toContain('AWSPENDING');
  });
});
