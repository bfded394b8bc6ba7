import { vi, type MockInstance } from 'vitest';

/** Captures everything written to stdout and stderr (where Powertools Logger writes). */
export class LogCapture {
  private readonly chunks: string[] = [];
  private readonly spies: MockInstance[] = [];

  public start(): this {
    for (const stream of [process.stdout, process.stderr]) {
      this.spies.push(
        vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
          this.chunks.push(typeof chunk === 'string' ? chunk : String(chunk));
          return true;
        }),
      );
    }
    return this;
  }

  public stop(): void {
    for (const spy of this.spies) spy.mockRestore();
    this.spies.length = 0;
  }

  /** Adds `text` as if it had been written (a forked scenario's copy of its base's lines). */
  public append(text: string): void {
    if (text !== '') this.chunks.push(text);
  }

  public get text(): string {
    return this.chunks.join('');
  }

  /** Every JSON line written so far: log lines and metrics (EMF) lines. */
  public get entries(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim().startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The JSON log lines (the Logger's), without the metrics lines. */
  public get logEntries(): Record<string, unknown>[] {
    return this.entries.filter((entry) => !('_aws' in entry));
  }

  /**
   * The metrics lines: CloudWatch embedded metric format, one per flush, written to stdout like
   * the log lines (Powertools Metrics).
   */
  public get metricEntries(): EmfEntry[] {
    return this.entries.filter((entry) => '_aws' in entry) as EmfEntry[];
  }
}

/** One line of CloudWatch embedded metric format as Powertools Metrics writes it. */
export interface EmfEntry extends Record<string, unknown> {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
}
