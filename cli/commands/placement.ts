import type { Command } from 'commander';
import type { IamKeyRotationConfig } from '../../lib/config.js';
import type { CliIo } from '../dependencies.js';
import { CliError, EXIT_OK, type ExitCode } from '../errors.js';
import { renderTable, type Column } from '../table.js';

/** One row of `placement`: a configured user and the stack (account, region) that holds it. */
export interface PlacementRow {
  readonly userName: string;
  /** Absent: the account of the credentials `cdk deploy` runs with. */
  readonly account?: string;
  /** Absent: the region `cdk deploy` runs in. */
  readonly region?: string;
  readonly stack: string;
  /** `placed`: in the placement file; `new`: the next synth places it there. */
  readonly state: 'placed' | 'new';
}

const COLUMNS: readonly Column[] = [
  { header: 'USER', truncatable: true },
  { header: 'ACCOUNT' },
  { header: 'REGION' },
  { header: 'STACK', truncatable: true },
  { header: 'STATE' },
];

/**
 * The configuration file and its placement file (by default beside it), read as `cdk synth`
 * reads them, without writing either (`placement`, `plan`).
 *
 * @param refuse the error to throw for an invalid configuration, given its message (which names
 *   the file and the field)
 */
export const loadConfigurationFile = async (
  options: { readonly config: string; readonly placement?: string },
  refuse: (message: string) => Error,
): Promise<IamKeyRotationConfig> => {
  // Loaded only here: the configuration module brings aws-cdk-lib with it.
  const {
    loadIamKeyRotationConfig,
    InvalidConfigurationError,
    CONFIG_FILE_CONTEXT_KEY,
    PLACEMENT_FILE_CONTEXT_KEY,
  } = await import('../../lib/config.js');
  const context: Record<string, unknown> = {
    [CONFIG_FILE_CONTEXT_KEY]: options.config,
    ...(options.placement === undefined ? {} : { [PLACEMENT_FILE_CONTEXT_KEY]: options.placement }),
  };
  try {
    return loadIamKeyRotationConfig((key) => context[key]);
  } catch (error) {
    if (error instanceof InvalidConfigurationError) throw refuse(error.message);
    throw error;
  }
};

/**
 * `iam-key-rotation placement --config <file>`: the user -> stack (account, region) map that
 * `cdk synth` uses, from the configuration file and its placement file, without changing either
 * and without any AWS call. Users the next synth will place are marked `new`; users of the
 * placement file that are no longer configured are listed on stderr.
 */
export const runPlacement = async (
  io: Pick<CliIo, 'stdout' | 'stderr' | 'columns'>,
  options: { readonly config: string; readonly placement?: string; readonly json: boolean },
): Promise<ExitCode> => {
  const config = await loadConfigurationFile(
    options,
    (message) => new CliError(`placement: ${message}`),
  );
  const added = new Set(config.placement.added.map((entry) => entry.userName));
  const rows: PlacementRow[] = config.users.map((user) => ({
    userName: user.userName,
    ...(user.account === undefined ? {} : { account: user.account }),
    ...(user.region === undefined ? {} : { region: user.region }),
    stack: user.stackName,
    state: added.has(user.userName) ? 'new' : 'placed',
  }));
  if (options.json) {
    io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    io.stdout(
      renderTable(
        COLUMNS,
        rows.map((row) => [
          row.userName,
          row.account ?? '(default)',
          row.region ?? '(default)',
          row.stack,
          row.state,
        ]),
        io.columns,
      ),
    );
  }
  for (const entry of config.placement.removed) {
    io.stderr(
      `${entry.userName}: in ${config.placementFile ?? 'the placement file'} (stack ${entry.stack}) but no longer configured; the next synth removes it from the placement, and its secret is retained: see "Remove a user" in README\n`,
    );
  }
  return EXIT_OK;
};

/** Adds `placement` to the program (one line in cli/program.ts). */
export const registerPlacementCommand = (
  program: Command,
  io: CliIo,
  run: (code: ExitCode) => void,
): void => {
  program
    .command('placement')
    .description(
      'Show which stack (account, region) holds each configured user, as cdk synth places it (no AWS call)',
    )
    .requiredOption('--config <file>', 'the iamKeyRotation configuration file, e.g. users.json')
    .option(
      '--placement <file>',
      'the placement file (default: beside the configuration, users.json -> users.placement.json)',
    )
    .option('--json', 'print JSON for scripts')
    .addHelpText(
      'after',
      `
ACCOUNT and REGION (default) are those of the credentials and region cdk deploy runs with.
STATE new: not in the placement file yet; the next cdk synth places it in that stack.

Example:
  iam-key-rotation placement --config users.json`,
    )
    .action(async (options: { config: string; placement?: string; json?: boolean }) => {
      run(
        await runPlacement(io, {
          config: options.config,
          ...(options.placement === undefined ? {} : { placement: options.placement }),
          json: options.json === true,
        }),
      );
    });
};
