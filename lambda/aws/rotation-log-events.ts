import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';

/** One line the rotation function logged. */
export interface RotationLogEvent {
  readonly eventId: string;
  readonly timestamp: Date;
  readonly message: string;
}

const DEFAULT_MAX_PAGES = 10;

/**
 * The events of `logGroup` since `since` that contain `text` (a ClientRequestToken), oldest
 * first, from CloudWatch Logs' FilterLogEvents; reads at most `maxPages` pages.
 */
export const filterLogEventsContaining = async (
  logs: CloudWatchLogsClient,
  logGroup: string,
  text: string,
  since: Date,
  maxPages = DEFAULT_MAX_PAGES,
): Promise<RotationLogEvent[]> => {
  const events: RotationLogEvent[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const output = await logs.send(
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
};

/** A line of the function's log, for a person, and the error it reports. */
export interface ParsedLogLine {
  readonly text: string;
  /** `Name: message` of the error the line reports, if it reports one. */
  readonly error?: string;
  /** The error's name alone (`AccessKeyInUseError`), if the line reports one. */
  readonly errorName?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const parseJsonObject = (text: string): Record<string, unknown> | undefined => {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
};

const MAX_LINE = 600;

/**
 * A line of the function's log, for a person: `[step] LEVEL message (accessKeyId ...)`, and the
 * error it carries. The function logs only identifiers (its README promise); only the message, the
 * step, the level, the access key id and the error's name and message are shown.
 */
export const parseLogLine = (message: string): ParsedLogLine => {
  let entry = parseJsonObject(message);
  // Lambda's JSON log format wraps a line that is not JSON itself: unwrap one level.
  if (entry !== undefined && typeof entry.message === 'string') {
    entry = parseJsonObject(entry.message) ?? entry;
  }
  if (entry === undefined || typeof entry.message !== 'string') {
    return { text: message.trim().slice(0, MAX_LINE) };
  }
  const level = typeof entry.level === 'string' ? entry.level.toUpperCase() : undefined;
  const details: string[] = [];
  if (typeof entry.accessKeyId === 'string') details.push(`access key ${entry.accessKeyId}`);
  let error: string | undefined;
  let errorName: string | undefined;
  if (isRecord(entry.error)) {
    const name = typeof entry.error.name === 'string' ? entry.error.name : 'Error';
    const text = typeof entry.error.message === 'string' ? entry.error.message : '';
    error = text === '' ? name : `${name}: ${text}`;
    errorName = name;
  } else if (level === 'ERROR') {
    error = entry.message;
  }
  const text = `${level === undefined ? '' : `${level} `}${entry.message}${
    details.length === 0 ? '' : ` (${details.join(', ')})`
  }${error === undefined || error === entry.message ? '' : `: ${error}`}`;
  return {
    text: text.slice(0, MAX_LINE),
    ...(error === undefined ? {} : { error }),
    ...(errorName === undefined ? {} : { errorName }),
  };
};
