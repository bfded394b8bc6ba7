import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventBridgeRetirementScheduler,
  SchedulerServiceError,
  type OneTimeSchedule,
} from '../../../lambda/aws/scheduler-retirement-schedules.js';
import { Simulation, VirtualClock } from '../../../local/simulation/index.js';

/**
 * The CreateSchedule request, signed with the SDK's signer, against the simulation, which
 * verifies the SigV4 signature and answers as EventBridge Scheduler does.
 */
const GROUP = 'IamKeyRotation-retirement';

let sim: Simulation;
let scheduler: EventBridgeRetirementScheduler;
let sleeps: number[];

const schedule = (overrides: Partial<OneTimeSchedule> = {}): OneTimeSchedule => ({
  name: 'retire-0123456789abcdef0123456789abcdef01234567',
  groupName: GROUP,
  at: new Date('2026-01-02T03:04:05.678Z'),
  targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:iam-key-rotation',
  roleArn: 'arn:aws:iam::123456789012:role/retirement-scheduler',
  input: JSON.stringify({ source: 'iam-key-rotation.grace-period' }),
  description: 'Deactivates access key AKIA... at the end of its grace period',
  ...overrides,
});

const TARGET = {
  Arn: 'arn:aws:lambda:us-east-1:123456789012:function:iam-key-rotation',
  RoleArn: 'arn:aws:iam::123456789012:role/retirement-scheduler',
  Input: JSON.stringify({ source: 'iam-key-rotation.grace-period' }),
};

beforeEach(() => {
  sim = new Simulation({ clock: new VirtualClock() });
  sim.scheduler.createScheduleGroup(GROUP);
  // The function's own clients carry the region, credentials and handler the adapter reuses.
  const client = new SecretsManagerClient({ ...sim.lambdaClientConfig() });
  sleeps = [];
  scheduler = new EventBridgeRetirementScheduler({
    region: () => client.config.region(),
    credentials: (properties) => client.config.credentials(properties),
    requestHandler: client.config.requestHandler,
    sleep: (milliseconds) => {
      sleeps.push(milliseconds);
      return sim.clock.sleep(milliseconds);
    },
  });
});

afterEach(() => {
  sim.dispose();
});

describe('Class: EventBridgeRetirementScheduler', () => {
  describe('Method: createOneTimeSchedule', () => {
    it('creates a one-time schedule that EventBridge Scheduler accepts, signed as the function', async () => {
      // Act
      const outcome = await scheduler.createOneTimeSchedule(schedule());

      // Assert
      expect(outcome).toBe('created');
      const created = sim.schedules.find((candidate) => candidate.name === schedule().name);
      expect(created).toMatchObject({
        groupName: GROUP,
        scheduleExpression: 'at(2026-01-02T03:04:05)',
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { Mode: 'OFF' },
        actionAfterCompletion: 'DELETE',
        state: 'ENABLED',
        clientToken: schedule().name,
        target: TARGET,
      });
      const [call] = sim.callsWhere({ service: 'scheduler', operation: 'CreateSchedule' });
      expect(call).toMatchObject({ outcome: 'success', principalArn: sim.lambdaRole.arn });
    });

    it('is idempotent: the same request again (a retried finishSecret) creates no second schedule', async () => {
      await scheduler.createOneTimeSchedule(schedule());
      await expect(scheduler.createOneTimeSchedule(schedule())).resolves.toBe('created');
      expect(sim.schedules).toHaveLength(1);
    });

    it('answers exists when another request already created a schedule of that name (ConflictException)', async () => {
      // Arrange
      sim.scheduler.createSchedule({
        Name: schedule().name,
        GroupName: GROUP,
        ScheduleExpression: 'at(2026-01-02T03:04:05)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: schedule().targetArn, RoleArn: schedule().roleArn },
      });

      // Act / Assert
      await expect(scheduler.createOneTimeSchedule(schedule())).resolves.toBe('exists');
    });

    it('retries a server error and succeeds', async () => {
      // Arrange
      sim.injectFault({ kind: 'server-error', match: { service: 'scheduler' } });

      // Act / Assert
      await expect(scheduler.createOneTimeSchedule(schedule())).resolves.toBe('created');
      expect(sleeps).toEqual([200]);
    });

    it('fails with the service error type as its name when the request is refused', async () => {
      // Arrange: a group that does not exist
      const outcome = scheduler.createOneTimeSchedule(schedule({ groupName: 'no-such-group' }));

      // Act / Assert
      await expect(outcome).rejects.toBeInstanceOf(SchedulerServiceError);
      await expect(outcome).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      expect(sleeps).toEqual([]);
    });

    it('fails after three attempts when throttled every time', async () => {
      sim.injectFault({ kind: 'throttling', match: { service: 'scheduler' }, times: 3 });
      await expect(scheduler.createOneTimeSchedule(schedule())).rejects.toMatchObject({
        name: expect.stringMatching(/Throttl/) as string,
      });
      expect(sleeps).toEqual([200, 400]);
    });
  });

  describe('Method: getOneTimeSchedule', () => {
    it('reads a schedule back (GetSchedule, signed as the function) as it was created', async () => {
      // Arrange
      await scheduler.createOneTimeSchedule(schedule());

      // Act
      const found = await scheduler.getOneTimeSchedule(schedule().name, GROUP);

      // Assert
      expect(found).toEqual({
        name: schedule().name,
        groupName: GROUP,
        at: new Date('2026-01-02T03:04:05Z'),
        targetArn: TARGET.Arn,
        roleArn: TARGET.RoleArn,
        input: TARGET.Input,
        state: 'ENABLED',
        flexibleTimeWindowMode: 'OFF',
        otherSettings: [],
      });
      const [call] = sim.callsWhere({ service: 'scheduler', operation: 'GetSchedule' });
      expect(call).toMatchObject({ outcome: 'success', principalArn: sim.lambdaRole.arn });
    });

    it('answers undefined when the group holds no schedule of that name', async () => {
      await expect(scheduler.getOneTimeSchedule('retire-none', GROUP)).resolves.toBeUndefined();
    });
  });
});
