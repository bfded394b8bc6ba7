import { AwsServiceError } from './errors.js';
import type { ScheduleState, SchedulerModel } from './scheduler.js';
import { epochSeconds } from './wire.js';

/**
 * The EventBridge Scheduler operations the simulation serves (REST-JSON), on
 * {@link SchedulerModel}. `params` merges the JSON body with the path's `Name` and the query's
 * parameters under their member names (`GroupName`, `ClientToken`, `NamePrefix`, `State`,
 * `NextToken`, `MaxResults`).
 */

const describeSchedule = (schedule: ScheduleState): Record<string, unknown> => ({
  Arn: schedule.arn,
  Name: schedule.name,
  GroupName: schedule.groupName,
  ScheduleExpression: schedule.scheduleExpression,
  ScheduleExpressionTimezone: schedule.scheduleExpressionTimezone,
  FlexibleTimeWindow: schedule.flexibleTimeWindow,
  Target: schedule.target,
  ActionAfterCompletion: schedule.actionAfterCompletion,
  State: schedule.state,
  ...(schedule.description === undefined ? {} : { Description: schedule.description }),
  CreationDate: epochSeconds(schedule.creationDate),
  LastModificationDate: epochSeconds(schedule.creationDate),
});

const stringParam = (
  params: Readonly<Record<string, unknown>>,
  name: string,
): string | undefined => {
  const value = params[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

export const executeScheduler = (
  model: SchedulerModel,
  operation: string,
  params: Readonly<Record<string, unknown>>,
): Record<string, unknown> => {
  switch (operation) {
    case 'CreateScheduleGroup':
      return { ScheduleGroupArn: model.createScheduleGroup(params.Name).arn };
    case 'CreateSchedule':
      return { ScheduleArn: model.createSchedule(params).arn };
    case 'GetSchedule':
      return describeSchedule(model.getSchedule(params.Name, params.GroupName));
    case 'DeleteSchedule':
      model.deleteSchedule(params.Name, params.GroupName);
      return {};
    case 'ListSchedules': {
      const schedules = model.listSchedules({
        ...(stringParam(params, 'GroupName') === undefined
          ? {}
          : { groupName: stringParam(params, 'GroupName') }),
        ...(stringParam(params, 'NamePrefix') === undefined
          ? {}
          : { namePrefix: stringParam(params, 'NamePrefix') }),
        ...(stringParam(params, 'State') === undefined
          ? {}
          : { state: stringParam(params, 'State') }),
      });
      const maxResults = Number(stringParam(params, 'MaxResults') ?? '100');
      if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
        throw new AwsServiceError(
          'ValidationException',
          `MaxResults must be between 1 and 100, got ${String(params.MaxResults)}`,
          400,
        );
      }
      const start = Number(stringParam(params, 'NextToken') ?? '0');
      const page = schedules.slice(start, start + maxResults);
      return {
        Schedules: page.map((schedule) => ({
          Arn: schedule.arn,
          Name: schedule.name,
          GroupName: schedule.groupName,
          State: schedule.state,
          CreationDate: epochSeconds(schedule.creationDate),
          LastModificationDate: epochSeconds(schedule.creationDate),
          Target: { Arn: schedule.target.Arn },
        })),
        ...(start + maxResults < schedules.length ? { NextToken: String(start + maxResults) } : {}),
      };
    }
    default:
      throw new AwsServiceError(
        'UnknownOperationException',
        `The simulation does not implement EventBridge Scheduler ${operation}`,
        400,
      );
  }
};
