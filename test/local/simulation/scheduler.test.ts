import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ValidationException,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Simulation,
  VirtualClock,
  DEFAULT_VIRTUAL_EPOCH,
  type RotationInvocationEvent,
} from '../../../local/simulation/index.js';

const GROUP = 'retirement';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/scheduler';
const AT = 'at(2026-01-01T01:00:00)';
const AT_MS = Date.UTC(2026, 0, 1, 1);

let sim: Simulation;
let scheduler: SchedulerClient;
let functionArn: string;
let received: unknown[];
let failuresLeft: number;

const input = (
  overrides: Partial<CreateScheduleCommandInput> = {},
): CreateScheduleCommandInput => ({
  Name: 'retire-1',
  GroupName: GROUP,
  ScheduleExpression: AT,
  ScheduleExpressionTimezone: 'UTC',
  FlexibleTimeWindow: { Mode: 'OFF' },
  ActionAfterCompletion: 'DELETE',
  Target: { Arn: functionArn, RoleArn: ROLE_ARN, Input: '{"hello":"world"}' },
  ...overrides,
});

beforeEach(async () => {
  sim = new Simulation({ clock: new VirtualClock() });
  scheduler = new SchedulerClient({ ...sim.adminClientConfig() });
  received = [];
  failuresLeft = 0;
  functionArn = sim.registerRotationFunction((event: RotationInvocationEvent) => {
    received.push(event);
    if (failuresLeft > 0) {
      failuresLeft -= 1;
      return Promise.reject(new Error('the function failed'));
    }
    return Promise.resolve();
  }, 'target');
  await scheduler.send(new CreateScheduleGroupCommand({ Name: GROUP }));
});

afterEach(() => {
  scheduler.destroy();
  sim.dispose();
});

describe('Simulation: EventBridge Scheduler', () => {
  describe('CreateSchedule and GetSchedule', () => {
    it('creates a one-time schedule that GetSchedule shows with its target, input, role, time and action', async () => {
      const created = await scheduler.send(new CreateScheduleCommand(input()));

      expect(created.ScheduleArn).toBe(
        `arn:aws:scheduler:us-east-1:123456789012:schedule/${GROUP}/retire-1`,
      );
      const schedule = await scheduler.send(
        new GetScheduleCommand({ Name: 'retire-1', GroupName: GROUP }),
      );
      expect(schedule).toMatchObject({
        Name: 'retire-1',
        GroupName: GROUP,
        ScheduleExpression: AT,
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        State: 'ENABLED',
        Target: { Arn: functionArn, RoleArn: ROLE_ARN, Input: '{"hello":"world"}' },
      });
      expect(schedule.CreationDate).toEqual(new Date(DEFAULT_VIRTUAL_EPOCH));
    });

    it('fails with ConflictException for a second schedule of the same name in the group', async () => {
      await scheduler.send(new CreateScheduleCommand(input()));
      await expect(scheduler.send(new CreateScheduleCommand(input()))).rejects.toThrow(
        ConflictException,
      );
    });

    it('answers a repeated request with the same ClientToken as a success (the SDK retries so)', async () => {
      await scheduler.send(new CreateScheduleCommand(input({ ClientToken: 'token-1' })));
      await expect(
        scheduler.send(new CreateScheduleCommand(input({ ClientToken: 'token-1' }))),
      ).resolves.toMatchObject({ ScheduleArn: expect.stringContaining('retire-1') as string });
    });

    it('fails with ResourceNotFoundException when the group does not exist', async () => {
      await expect(
        scheduler.send(new CreateScheduleCommand(input({ GroupName: 'missing' }))),
      ).rejects.toThrow(ResourceNotFoundException);
      await expect(
        scheduler.send(new GetScheduleCommand({ Name: 'retire-1', GroupName: GROUP })),
      ).rejects.toThrow('Schedule retire-1 does not exist.');
    });

    it.each([
      ['a name with a slash', { Name: 'a/b' }],
      ['an invalid date', { ScheduleExpression: 'at(2026-02-30T00:00:00)' }],
      ['an expression without at()', { ScheduleExpression: '2026-01-01T01:00:00' }],
      ['a recurring expression (not modelled)', { ScheduleExpression: 'rate(1 day)' }],
      ['another time zone (not modelled)', { ScheduleExpressionTimezone: 'Europe/Paris' }],
      ['no flexible time window', { FlexibleTimeWindow: undefined }],
      [
        'a flexible window without its maximum',
        { FlexibleTimeWindow: { Mode: 'FLEXIBLE' as const } },
      ],
      [
        'a role that is not a role ARN',
        { Target: { Arn: 'arn:aws:lambda:::function:x', RoleArn: 'role' } },
      ],
      ['an unknown action after completion', { ActionAfterCompletion: 'ARCHIVE' as 'DELETE' }],
    ])('fails with ValidationException on %s', async (_name, overrides) => {
      await expect(scheduler.send(new CreateScheduleCommand(input(overrides)))).rejects.toThrow(
        ValidationException,
      );
    });
  });

  describe('ListSchedules and DeleteSchedule', () => {
    it('lists the schedules of a group by prefix, and deletes one', async () => {
      await scheduler.send(new CreateScheduleCommand(input()));
      await scheduler.send(
        new CreateScheduleCommand(input({ Name: 'other', GroupName: undefined })),
      );

      const listed = await scheduler.send(
        new ListSchedulesCommand({ GroupName: GROUP, NamePrefix: 'retire' }),
      );
      expect(listed.Schedules?.map((schedule) => schedule.Name)).toEqual(['retire-1']);
      expect(listed.Schedules?.[0]?.Target?.Arn).toBe(functionArn);

      await scheduler.send(new DeleteScheduleCommand({ Name: 'retire-1', GroupName: GROUP }));
      await expect(
        scheduler.send(new DeleteScheduleCommand({ Name: 'retire-1', GroupName: GROUP })),
      ).rejects.toThrow(ResourceNotFoundException);
      expect(sim.schedules.map((schedule) => schedule.name)).toEqual(['other']);
    });
  });

  describe('Method: runDueSchedules', () => {
    it("invokes the target with the Input at the schedule's time, not before, then deletes it (DELETE)", async () => {
      await scheduler.send(new CreateScheduleCommand(input()));

      await sim.clock.sleep(AT_MS - sim.clock.now() - 1_000);
      expect(await sim.runDueSchedules()).toEqual([]);
      await sim.clock.sleep(1_000);
      const fired = await sim.runDueSchedules();

      expect(fired).toMatchObject([{ outcome: 'succeeded', functionArn, attempt: 1 }]);
      expect(received).toEqual([{ hello: 'world' }]);
      expect(sim.schedules).toEqual([]);
      expect(await sim.runDueSchedules()).toEqual([]);
    });

    it('keeps a NONE schedule after it fired, and never fires it again', async () => {
      await scheduler.send(new CreateScheduleCommand(input({ ActionAfterCompletion: 'NONE' })));
      await sim.clock.sleep(AT_MS - sim.clock.now());

      await sim.runDueSchedules();
      await sim.runDueSchedules();

      expect(received).toHaveLength(1);
      expect(sim.schedules).toHaveLength(1);
    });

    it('retries a failed invocation twice, 1 and 2 minutes later, as Lambda does for asynchronous invocations', async () => {
      failuresLeft = 5;
      await scheduler.send(new CreateScheduleCommand(input()));
      await sim.clock.sleep(AT_MS - sim.clock.now());

      const fired = await sim.runDueSchedules();

      expect(fired.map((invocation) => [invocation.attempt, invocation.outcome])).toEqual([
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
      ]);
      expect(fired.map((invocation) => invocation.startedAt - AT_MS)).toEqual([0, 60_000, 180_000]);
    });

    it('fires due schedules earliest first and attributes their calls to the invocation', async () => {
      await scheduler.send(
        new CreateScheduleCommand(
          input({ Name: 'late', ScheduleExpression: 'at(2026-01-01T02:00:00)' }),
        ),
      );
      await scheduler.send(new CreateScheduleCommand(input({ Name: 'early' })));
      await sim.clock.sleep(2 * 3_600_000);

      const fired = await sim.runDueSchedules();

      expect(fired.map((invocation) => invocation.scheduleArn.split('/').at(-1))).toEqual([
        'early',
        'late',
      ]);
      expect(sim.nextScheduleTime()).toBeUndefined();
    });
  });
});
