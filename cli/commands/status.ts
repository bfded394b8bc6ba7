import { DEFAULT_STUCK_AFTER_MS } from '../command-defaults.js';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import type { CliIo } from '../dependencies.js';
import { CliError, EXIT_FAILURE, EXIT_OK, type ExitCode } from '../errors.js';
import { describeFailure } from '../failure.js';
import {
  describeManagedSecret,
  SecretNotFoundError,
  UnmanagedSecretError,
  type ManagedSecret,
} from '../secret-ref.js';
import { inspectSecret, type InspectDependencies } from '../status/inspect-secret.js';
import { FINE_VERDICTS, problemRow, type StatusRow } from '../status/status-row.js';
import { renderStatusTable } from '../status/status-table.js';
import { describeWhere } from '../whereabouts.js';

export type { StatusRow, Verdict } from '../status/status-row.js';

/** The tag CloudFormation puts on every resource of a stack. */
export const STACK_NAME_TAG_KEY = 'aws:cloudformation:stack-name';

export { DEFAULT_STUCK_AFTER_MS };

export interface StatusOptions {
  /** Secrets by user name, name or ARN; none: every secret tagged `iam-key-rotation:user`. */
  readonly secrets?: readonly string[];
  /** Only the secrets of this CloudFormation stack (its `aws:cloudformation:stack-name` tag). */
  readonly stack?: string;
  /**
   * A pending rotation older than this is `stuck`.
   * @default 120000 (the function's default timeout)
   */
  readonly stuckAfterMs?: number;
}

export type StatusDependencies = InspectDependencies;

export interface StatusReport {
  readonly rows: readonly StatusRow[];
  /** The table, one line per secret (empty when there is none). */
  readonly table: string;
  /** One line per problem: what it means and the next command to run. */
  readonly notes: readonly string[];
  /** The table, then the notes. */
  readonly text: string;
  /** Some row is neither `ok` nor `rotating`. */
  readonly needsAttention: boolean;
}

/** How many secrets are read at once. */
const CONCURRENCY = 8;

/** Maps `items` with at most `limit` calls of `map` at once; results in the order of `items`. */
export const mapWithConcurrency = async <T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T) => Promise<R>,
): Promise<R[]> => {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
};

/** The row of a secret that could not be described or is not this project's. */
const unjudgedRow = (reference: string, error: unknown): StatusRow => {
  if (error instanceof SecretNotFoundError) {
    return problemRow(reference, 'missing secret', error.message);
  }
  if (error instanceof UnmanagedSecretError)
    return problemRow(reference, 'not managed', error.message);
  return problemRow(
    reference,
    'error',
    error instanceof CliError ? error.message : describeFailure(error),
  );
};

/**
 * Reads and judges the managed secrets: the data of `iam-key-rotation status`, for callers that
 * show it themselves (`npm start` shows it before and after its rotations). Against the local
 * simulation, name the secrets: it does not implement ListSecrets.
 */
export const renderStatus = async (
  deps: StatusDependencies,
  options: StatusOptions = {},
  columns?: number,
): Promise<StatusReport> => {
  const stuckAfterMs = options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  const named = options.secrets ?? [];
  const references =
    named.length > 0 ? named : await deps.secrets.listSecretArnsWithTagKey(BINDING_TAG_KEY);
  const rows = (
    await mapWithConcurrency(references, CONCURRENCY, async (reference) => {
      let managed: ManagedSecret;
      try {
        managed = await describeManagedSecret(deps.secrets, reference);
      } catch (error) {
        return unjudgedRow(reference, error);
      }
      const stack = options.stack;
      if (stack !== undefined && managed.description.tags[STACK_NAME_TAG_KEY] !== stack) {
        return undefined;
      }
      try {
        return await inspectSecret(deps, managed, stuckAfterMs);
      } catch (error) {
        return unjudgedRow(managed.reference, error);
      }
    })
  )
    .filter((row): row is StatusRow => row !== undefined)
    .sort((left, right) => left.reference.localeCompare(right.reference));
  const now = deps.clock.now();
  const table = renderStatusTable(rows, now, columns);
  const notes = rows.flatMap((row) => row.notes);
  return {
    rows,
    table,
    notes,
    text: notes.length === 0 ? table : `${table}\n${notes.join('\n')}\n`,
    needsAttention: rows.some((row) => row.verdicts.some((verdict) => !FINE_VERDICTS.has(verdict))),
  };
};

export interface StatusCommandOptions extends StatusOptions {
  readonly json?: boolean;
}

/**
 * `iam-key-rotation status`: the table (or `--json`) on stdout, what to do about each problem on
 * stderr. Exit 1 when any secret needs attention.
 */
export const runStatus = async (
  deps: StatusDependencies & { readonly io: CliIo },
  options: StatusCommandOptions,
): Promise<ExitCode> => {
  const { io } = deps;
  const report = await renderStatus(deps, options, options.json === true ? undefined : io.columns);
  if (options.json === true) {
    io.stdout(`${JSON.stringify({ secrets: report.rows }, null, 2)}\n`);
  } else if (report.rows.length > 0) {
    io.stdout(report.table);
  }
  if (report.rows.length === 0) {
    const where = describeWhere(await deps.secrets.whereabouts());
    io.stderr(
      options.stack === undefined
        ? `No secrets tagged ${BINDING_TAG_KEY} were found in ${where}. Check --region and --profile.\n`
        : `No secrets tagged ${BINDING_TAG_KEY} belong to stack ${options.stack} (tag ${STACK_NAME_TAG_KEY}) in ${where}. Check --stack, --region and --profile.\n`,
    );
  }
  if (report.notes.length > 0) io.stderr(`\n${report.notes.join('\n')}\n`);
  return report.needsAttention ? EXIT_FAILURE : EXIT_OK;
};
