/** One line of the result table. */
export interface BenchRow {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  readonly peer?: string;
  /** `true` met, `false` missed, `undefined` no target (report only). */
  readonly met?: boolean;
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

export const renderTable = (rows: readonly BenchRow[]): string => {
  const lines = ['| figure | value | target | peer |', '|---|---|---|---|'];
  for (const row of rows) {
    const mark = row.met === undefined ? '' : row.met ? ' ✅' : ' ❌';
    lines.push(
      `| ${cell(row.figure)} | ${cell(row.value)}${mark} | ${cell(row.target)} | ${cell(row.peer ?? '')} |`,
    );
  }
  return lines.join('\n');
};
