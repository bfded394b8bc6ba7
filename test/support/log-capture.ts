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

  public get text(): string {
    return this.chunks.join('');
  }

  /** Every JSON log line written so far. */
  public get entries(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim().startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
