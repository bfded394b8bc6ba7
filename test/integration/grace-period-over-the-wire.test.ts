import {
  UpdateSecretVersionStageCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { UpdateAccessKeyCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
  RETIRE_EVENT_SOURCE,
} from '../../lambda/observability.js';
import {
  importBundledHandler,
  MotoAws,
  REGION,
  ROTATION_STEPS,
  UNCHECKED_CREDENTIALS,
  waitForNextSecond,
  type BundledHandler,
} from '../support/moto/moto-aws.js';
import { MOTO_ACCOUNT_ID, MotoServer } from '../support/moto/moto-server.js';
import {
  SHARED_STACK_CONFIG,
  SHARED_STACK_USER,
  startMotoAndSynthesize,
  type SynthesizedStack,
} from '../support/moto/synthesized-stack.js';

/**
 * The bundled function with a grace period against moto over HTTP (moto 5.2.1 implements
 * EventBridge Scheduler's CreateSchedule and GetSchedule): finishSecret creates the one-time
 * schedule, and the schedule's Input, given to the bundled handler as EventBridge Scheduler
 * would, deactivates the previous key, unless a rollback came first. Request authentication is
 * off here; the function's policy for these calls (scheduler:CreateSchedule in the stack's group,
 * iam:PassRole of the scheduler role) is the stack's, checked with authentication on in the
 * least-privilege suite once the template grants it.
 */
const USER = SHARED_STACK_USER;
/** The stack other suites synthesize too (one synth for all); only {@link USER} is rotated here. */
const CONFIG = SHARED_STACK_CONFIG;
const GROUP = 'iam-key-rotation-retirement';
const ROLE_ARN = `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/iam-key-rotation-retirement-scheduler`;
/** Short, so the test can wait for its end on the real clock moto and the bundle share. */
const GRACE_SECONDS = 2;
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${MOTO_ACCOUNT_ID}:function:IamKeyRotation-RotationFunction`;

let moto: MotoServer | undefined;
let synthesized: SynthesizedStack | undefined;
let motoAws: MotoAws | undefined;
let handler: BundledHandler;
let restoreEnvironment: (() => void) | undefined;
let scheduler: SchedulerClient;
let secrets: SecretsManagerClient;
let iam: IAMClient;
let secretArn: string;

const aws = (): MotoAws => {
  if (motoAws === undefined) throw new Error('beforeAll did not start moto');
  return motoAws;
};

const invoke = (event: Record<string, string>): Promise<unknown> =>
  handler(event, {
    getRemainingTimeInMillis: () => 60_000,
    invokedFunctionArn: FUNCTION_ARN,
  } as never);

const rotate = async (): Promise<string> => {
  const token = await aws().startRotation(secretArn);
  for (const step of ROTATION_STEPS) {
    await invoke({ Step: step, SecretId: secretArn, ClientRequestToken: token });
  }
  return token;
};

const currentKeyId = async (): Promise<string> =>
  String((await aws().secretValue(secretArn, 'AWSCURRENT')).AccessKeyId);

const statusOf = async (accessKeyId: string | undefined): Promise<string | undefined> =>
  (await aws().listKeys(USER)).find((key) => key.accessKeyId === accessKeyId)?.status;

beforeAll(async () => {
  ({ moto, synthesized } = await startMotoAndSynthesize(CONFIG));
  motoAws = new MotoAws(moto.endpoint);
  const clientConfig = {
    endpoint: moto.endpoint,
    region: REGION,
    credentials: UNCHECKED_CREDENTIALS,
  };
  scheduler = new SchedulerClient(clientConfig);
  secrets = new SecretsManagerClient(clientConfig);
  iam = new IAMClient(clientConfig);
  ({ handler, restoreEnvironment } = await importBundledHandler(
    synthesized.handlerFile,
    synthesized.handlerExport,
    moto.endpoint,
    UNCHECKED_CREDENTIALS,
    {
      [GRACE_PERIOD_SECONDS_ENV]: String(GRACE_SECONDS),
      [RETIREMENT_SCHEDULE_GROUP_ENV]: GROUP,
      [RETIREMENT_SCHEDULER_ROLE_ARN_ENV]: ROLE_ARN,
    },
  ));
});

afterAll(async () => {
  try {
    restoreEnvironment?.();
    motoAws?.destroy();
    scheduler.destroy();
    secrets.destroy();
    iam.destroy();
  } finally {
    await moto?.stop();
    synthesized?.dispose();
  }
});

beforeEach(async () => {
  if (moto === undefined || synthesized === undefined) throw new Error('beforeAll failed');
  await moto.reset();
  await moto.setAuthentication(false);
  const userArns = await aws().createUsers(CONFIG.users);
  const { secretArnByUser } = await aws().deployStackResources(synthesized.template, userArns);
  secretArn = secretArnByUser.get(USER) ?? '';
  await scheduler.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  await rotate();
  await waitForNextSecond();
});

/** The one schedule of the group and the event it will send. */
const theSchedule = async (): Promise<{ name: string; event: Record<string, string> }> => {
  const listed = await scheduler.send(new ListSchedulesCommand({ GroupName: GROUP }));
  expect(listed.Schedules).toHaveLength(1);
  const name = listed.Schedules?.[0]?.Name ?? '';
  const schedule = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }));
  return { name, event: JSON.parse(schedule.Target?.Input ?? '{}') as Record<string, string> };
};

describe('Grace period over the wire (bundled function, moto)', () => {
  it('creates the one-time schedule in moto: target, input, role, at() time, ActionAfterCompletion', async () => {
    const previous = await currentKeyId();
    const previousVersion = Object.entries(await aws().versionStages(secretArn)).find(
      ([, stages]) => stages.includes('AWSCURRENT'),
    )?.[0];
    const startedAt = Date.now();

    await rotate();

    const { name } = await theSchedule();
    const schedule = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }));
    expect(schedule).toMatchObject({
      GroupName: GROUP,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: { Arn: FUNCTION_ARN, RoleArn: ROLE_ARN },
    });
    const at = /^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$/.exec(schedule.ScheduleExpression ?? '');
    const atMs = Date.parse(`${at?.[1] ?? ''}Z`);
    expect(atMs).toBeGreaterThanOrEqual(startedAt - 1_000 + GRACE_SECONDS * 1_000);
    expect(atMs).toBeLessThanOrEqual(Date.now() + 1_000 + GRACE_SECONDS * 1_000);
    const rotationVersion = Object.entries(await aws().versionStages(secretArn)).find(
      ([, labels]) => labels.includes('AWSCURRENT'),
    )?.[0];
    expect(JSON.parse(schedule.Target?.Input ?? '{}')).toEqual({
      source: RETIRE_EVENT_SOURCE,
      SecretId: secretArn,
      VersionId: previousVersion,
      AccessKeyId: previous,
      RotationVersionId: rotationVersion,
      NotBefore: new Date(atMs).toISOString(),
    });
    expect(await statusOf(previous)).toBe('Active');
  });

  it("deactivates the previous key when the bundled handler gets the schedule's Input", async () => {
    const previous = await currentKeyId();
    await rotate();
    const current = await currentKeyId();
    const { event } = await theSchedule();
    await new Promise((resolve) => setTimeout(resolve, (GRACE_SECONDS + 1) * 1_000));

    await invoke(event);

    expect(await statusOf(previous)).toBe('Inactive');
    expect(await statusOf(current)).toBe('Active');
  });

  it('does nothing when the operator rolled back before the schedule fired', async () => {
    const previous = await currentKeyId();
    await rotate();
    const current = await currentKeyId();
    const stages = await aws().versionStages(secretArn);
    const versionOf = (stage: string): string =>
      Object.entries(stages).find(([, labels]) => labels.includes(stage))?.[0] ?? '';
    await iam.send(
      new UpdateAccessKeyCommand({ UserName: USER, AccessKeyId: previous, Status: 'Active' }),
    );
    await secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretArn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: versionOf('AWSPREVIOUS'),
        RemoveFromVersionId: versionOf('AWSCURRENT'),
      }),
    );
    const { event } = await theSchedule();

    await invoke(event);

    expect(await statusOf(previous)).toBe('Active');
    expect(await statusOf(current)).toBe('Active');
  });
});
