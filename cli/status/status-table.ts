import { formatRelative, formatSpan } from '../format.js';
import { renderTable, type Column } from '../table.js';
import type { KeyLastUse, LocatedStatusRow, StatusRow } from './status-row.js';

/** `3h ago, sts eu-west-1`, `never`, or `-` when unknown. */
export const describeLastUse = (lastUsed: KeyLastUse | undefined, now: number): string => {
  if (lastUsed === undefined) return '-';
  if (lastUsed.date === undefined) return 'never';
  const where = [lastUsed.serviceName, lastUsed.region].filter(Boolean).join(' ');
  return `${formatRelative(new Date(lastUsed.date), now)}${where === '' ? '' : `, ${where}`}`;
};

const STATUS_COLUMNS: readonly Column[] = [
  { header: 'USER', truncatable: true },
  { header: 'CURRENT KEY' },
  { header: 'AGE' },
  { header: 'LAST USED', truncatable: true },
  { header: 'PREVIOUS KEY', truncatable: true },
  { header: 'ROTATED' },
  { header: 'NEXT' },
  { header: 'VERDICT' },
];

const LOCATED_COLUMNS: readonly Column[] = [
  { header: 'ACCOUNT' },
  { header: 'REGION' },
  ...STATUS_COLUMNS,
];

const verdictCell = (row: StatusRow, now: number): string =>
  row.verdicts
    .map((verdict) =>
      (verdict === 'rotating' || verdict === 'stuck') && row.pending?.createdDate !== undefined
        ? `${verdict} ${formatSpan(now - new Date(row.pending.createdDate).getTime())}`
        : verdict,
    )
    .join(', ');

const currentKeyCell = (row: StatusRow): string => {
  if (row.currentKey !== undefined) return row.currentKey.accessKeyId;
  if (row.currentVersionId === undefined) return '-';
  return row.verdicts.includes('current key unknown') ? 'unknown' : 'none';
};

const tableCells = (row: StatusRow, now: number): string[] => {
  const user =
    row.userName === undefined
      ? row.reference
      : row.reference === row.userName
        ? row.userName
        : `${row.userName} (${row.secretName})`;
  const current = row.currentKey;
  const previous = row.previousKey;
  return [
    user,
    currentKeyCell(row),
    current?.ageSeconds === undefined ? '-' : formatSpan(current.ageSeconds * 1000),
    describeLastUse(current?.lastUsed, now),
    previous === undefined ? '-' : `${previous.accessKeyId} ${previous.status}`,
    row.lastRotatedDate === undefined
      ? row.secretArn === ''
        ? '-'
        : 'never'
      : formatRelative(new Date(row.lastRotatedDate), now),
    row.rotationEnabled === false
      ? 'disabled'
      : row.nextRotationDate === undefined
        ? '-'
        : formatRelative(new Date(row.nextRotationDate), now),
    verdictCell(row, now),
  ];
};

/** Renders rows as the status table (fitted to `columns` when given). */
export const renderStatusTable = (
  rows: readonly StatusRow[],
  now: number,
  columns?: number,
): string =>
  rows.length === 0
    ? ''
    : renderTable(
        STATUS_COLUMNS,
        rows.map((row) => tableCells(row, now)),
        columns,
      );

/** Renders located rows as one table with ACCOUNT and REGION columns. */
export const renderLocatedStatusTable = (
  rows: readonly LocatedStatusRow[],
  now: number,
  columns?: number,
): string =>
  rows.length === 0
    ? ''
    : renderTable(
        LOCATED_COLUMNS,
        rows.map((row) => [row.account, row.region, ...tableCells(row, now)]),
        columns,
      );
