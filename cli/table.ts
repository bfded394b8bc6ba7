/** A table in the style of gh: upper-case headers, columns two spaces apart, fitted to a width. */

export interface Column {
  readonly header: string;
  /** May be cut (with `…`) when the table is wider than the terminal. */
  readonly truncatable?: boolean;
}

const GAP = '  ';
const MIN_TRUNCATED_WIDTH = 8;

const truncate = (text: string, width: number): string =>
  text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;

/**
 * Renders `rows` under `columns`. When `maxWidth` is given (a terminal's columns) and the table is
 * wider, the widest truncatable columns are cut first; the others are never cut.
 */
export const renderTable = (
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  maxWidth?: number,
): string => {
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  if (maxWidth !== undefined) {
    const total = (): number =>
      widths.reduce((sum, width) => sum + width, 0) + GAP.length * (widths.length - 1);
    while (total() > maxWidth) {
      let widest = -1;
      columns.forEach((column, index) => {
        const width = widths[index] ?? 0;
        const floor = Math.max(MIN_TRUNCATED_WIDTH, column.header.length);
        if (
          column.truncatable === true &&
          width > floor &&
          (widest < 0 || width > (widths[widest] ?? 0))
        ) {
          widest = index;
        }
      });
      if (widest < 0) break;
      widths[widest] = (widths[widest] ?? 0) - 1;
    }
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        const text = truncate(cell, width);
        return index === cells.length - 1 ? text : text.padEnd(width);
      })
      .join(GAP)
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join('\n') + '\n';
};
