import { runCancel } from '../../../cli/commands/cancel.js';
import { runRollback } from '../../../cli/commands/rollback.js';
import { runRotate } from '../../../cli/commands/rotate.js';
import type { RotationLogReader } from '../../../cli/aws/rotation-logs.js';
import {
  createCliDependencies,
  type CliDependencies,
  type CliIo,
} from '../../../cli/dependencies.js';
import { CliError } from '../../../cli/errors.js';
import { AWSCURRENT } from '../../../local/simulation/index.js';
import type { Scenario } from './scenario.js';

/**
 * The operator command's own code (cli/commands), with the command's own adapters (cli/aws,
 * built by cli/dependencies.ts) pointed at the scenario's simulation: what an operator runs,
 * not a copy of its steps.
 */
export type OperatorCommand = 'rollback' | 'cancel' | 'rotate';

/** The Lambda timeout of the scenario's rotation function (the simulation runner's default). */
export const SCENARIO_FUNCTION_TIMEOUT_MS = 30_000;

/** What a command printed and how it ended. */
export interface CommandRun {
  readonly command: OperatorCommand;
  /** 0 when the command reported success. */
  readonly exitCode: number;
  /** The CliError (or anything else) it ended with, if any. */
  readonly error?: unknown;
  readonly stdout: string;
  readonly stderr: string;
  /** The simulation's call index when it started, and after its last call. */
  readonly startCall: number;
  readonly endCall: number;
}

/** Captures stdout and stderr; `--yes` is passed, so nothing is asked. */
class CapturedCliIo implements CliIo {
  public out = '';
  public err = '';
  public readonly interactive = false;

  public readonly stdout = (text: string): void => {
    this.out += text;
  };

  public readonly stderr = (text: string): void => {
    this.err += text;
  };
}

/**
 * The simulation serves no CloudWatch Logs: `rotate --wait` follows the labels alone, as it does
 * for an operator whose credentials cannot read the function's logs.
 */
const unreadableLogs: RotationLogReader = {
  logGroupOf: () => Promise.reject(new Error('CloudWatch Logs are not simulated')),
  eventsContaining: () => Promise.reject(new Error('CloudWatch Logs are not simulated')),
};

const dependenciesFor = (scenario: Scenario, io: CliIo): CliDependencies => ({
  ...createCliDependencies({
    clientConfig: scenario.sim.adminClientConfig(),
    clock: scenario.sim.clock,
    io,
    confirm: () => Promise.reject(new Error('the explorer passes --yes: nothing may be asked')),
  }),
  logs: unreadableLogs,
});

/**
 * Records a rollback that moved AWSCURRENT for invariant 6: the operator's AWSCURRENT move among
 * the calls from `startCall` on, and the versions that existed when it landed.
 */
const recordRollback = (scenario: Scenario, startCall: number): void => {
  const move = scenario.sim.calls.findLast(
    (call) =>
      call.index >= startCall &&
      call.invocationId === undefined &&
      call.operation === 'UpdateSecretVersionStage' &&
      call.params.VersionStage === AWSCURRENT &&
      call.outcome === 'success',
  );
  if (move === undefined) return;
  const versionIds = scenario.snapshots
    .get(move.index)
    ?.secrets.get(scenario.secretArn)?.versionIds;
  const target = move.params.MoveToVersionId;
  scenario.labelMoves.push({
    action: 'rollback',
    endCall: move.index,
    versionIds: new Set(versionIds ?? scenario.versionIds()),
    currentVersionId: typeof target === 'string' ? target : '',
  });
};

/**
 * Runs `iam-key-rotation <command> <alice's secret> --yes` (rotate: `--wait`) in-process against
 * the scenario's simulation. A refusal or failure is a result (exit code and message), not a
 * throw; anything but a CliError is rethrown (a bug of the command or of the test).
 */
export const runOperatorCommand = async (
  scenario: Scenario,
  command: OperatorCommand,
): Promise<CommandRun> => {
  const io = new CapturedCliIo();
  const deps = dependenciesFor(scenario, io);
  const startCall = scenario.sim.callCount;
  const secret = scenario.secretArn;
  let exitCode: number;
  let error: unknown;
  try {
    switch (command) {
      case 'rollback':
        exitCode = await runRollback(deps, {
          secret,
          yes: true,
          stepTimeoutMs: SCENARIO_FUNCTION_TIMEOUT_MS,
        });
        break;
      case 'cancel':
        exitCode = await runCancel(deps, { secret, yes: true });
        break;
      case 'rotate':
        exitCode = await runRotate(deps, { secret, wait: true });
        break;
    }
  } catch (caught) {
    if (!(caught instanceof CliError)) throw caught;
    exitCode = caught.exitCode;
    error = caught;
  }
  if (command === 'rollback') recordRollback(scenario, startCall);
  return {
    command,
    exitCode,
    ...(error === undefined ? {} : { error }),
    stdout: io.out,
    stderr: io.err,
    startCall,
    endCall: scenario.sim.callCount,
  };
};
