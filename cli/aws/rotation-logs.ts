import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/** One line the rotation function logged. */
export interface RotationLogEvent {
  readonly eventId: string;
  readonly timestamp: Date;
  readonly message: string;
}

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

const DEFAULT_MAX_PAGES = 10;

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

  public async eventsContaining(
    logGroup: string,
    text: string,
    since: Date,
    maxPages = DEFAULT_MAX_PAGES,
  ): Promise<RotationLogEvent[]> {
    const events: RotationLogEvent[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const output = await this.logs.send(
        new FilterLogEventsCommand({
          logGroupName: logGroup,
          // A quoted term matches the exact text anywhere in the event.
          filterPattern: JSON.stringify(text),
          startTime: since.getTime(),
          nextToken,
        }),
      );
      for (const event of output.events ?? []) {
        // Checked again: an emulator may not implement filter patterns.
        if (event.message?.includes(text) !== true) continue;
        events.push({
          eventId: event.eventId ?? `${String(event.timestamp)}:${event.message}`,
          timestamp: new Date(event.timestamp ?? 0),
          message: event.message,
        });
      }
      nextToken = output.nextToken === '' ? undefined : output.nextToken;
      pages += 1;
    } while (nextToken !== undefined && pages < maxPages);
    return events.sort((left, right) => left.timestamp.getTime() - right.timestamp.getTime());
  }
}
