/** Small numeric helpers shared by the benchmarks. */
export const median = (values: readonly number[]): number => {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

export const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

export const ms = (milliseconds: number): string =>
  milliseconds >= 10_000
    ? `${(milliseconds / 1_000).toFixed(2)} s`
    : `${milliseconds.toFixed(milliseconds < 100 ? 1 : 0)} ms`;

/** Progress goes to stderr so stdout holds only the table. */
export const progress = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};
