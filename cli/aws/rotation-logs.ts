import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  filterLogEventsContaining,
  type RotationLogEvent,
} from '../../lambda/aws/rotation-log-events.js';

export type { RotationLogEvent };

/** Reads the rotation function's log lines (CloudWatch Logs) for one rotation. */
export interface RotationLogReader {
  /**
   * The function's log group: Lambda's `LoggingConfig.LogGroup`, else `/aws/lambda/<name>`.
   * Fails when the function cannot be read.
   */
  logGroupOf(functionArn: string): Promise<string>;
  /**
   * The events of `logGroup` since `since` that contain `text` (the ClientRequestToken), oldest
   * first. Reads at most `maxPages` pages.
   */
  eventsContaining(
    logGroup: string,
    text: string,
    since: Date,
    maxPages?: number,
  ): Promise<RotationLogEvent[]>;
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` -> `<name>`. */
export const functionNameOf = (functionArn: string): string => {
  const match = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(functionArn);
  return match?.[1] ?? functionArn;
};

export class CloudWatchRotationLogs implements RotationLogReader {
  public constructor(
    private readonly lambda: LambdaClient,
    private readonly logs: CloudWatchLogsClient,
  ) {}

  public async logGroupOf(functionArn: string): Promise<string> {
    // By name: the stack deploys the function beside its secrets (same account and region as
    // the clients). An ARN in the request path is also signed differently by some emulators.
    const output = await this.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionNameOf(functionArn) }),
    );
    const configured = output.LoggingConfig?.LogGroup;
    if (configured !== undefined && configured !== '') return configured;
    return `/aws/lambda/${output.FunctionName ?? functionNameOf(functionArn)}`;
  }

  public eventsContaining(
    logGroup: string,
    text: string,
    since: Date,
    maxPages?: number,
  ): Promise<RotationLogEvent[]> {
    return filterLogEventsContaining(this.logs, logGroup, text, since, maxPages);
  }
}
