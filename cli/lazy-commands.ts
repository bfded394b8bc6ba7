/**
 * The commands, each loaded when it runs: a run of the command loads commander, the program and
 * the one command it runs (in the built command, dist/cli, a chunk of its own:
 * scripts/build-command.ts), so that `credential-process`, which the AWS CLI and SDKs start for
 * every profile they resolve, loads no other command's code. Same names and signatures as the
 * command modules.
 */
import type * as Cancel from './commands/cancel.js';
import type * as CredentialProcess from './commands/credential-process.js';
import type * as Plan from './commands/plan.js';
import type * as Rollback from './commands/rollback.js';
import type * as Rotate from './commands/rotate.js';
import type * as SmtpPassword from './commands/smtp-password.js';
import type * as Status from './commands/status.js';
import type * as StatusTargets from './commands/status-targets.js';

export const runStatus: typeof Status.runStatus = async (...args) =>
  (await import('./commands/status.js')).runStatus(...args);

export const runStatusAcrossAccountsCommand: typeof StatusTargets.runStatusAcrossAccountsCommand =
  async (...args) =>
    (await import('./commands/status-targets.js')).runStatusAcrossAccountsCommand(...args);

export const runPlan: typeof Plan.runPlan = async (...args) =>
  (await import('./commands/plan.js')).runPlan(...args);

export const runRotate: typeof Rotate.runRotate = async (...args) =>
  (await import('./commands/rotate.js')).runRotate(...args);

export const runRollback: typeof Rollback.runRollback = async (...args) =>
  (await import('./commands/rollback.js')).runRollback(...args);

export const runCancel: typeof Cancel.runCancel = async (...args) =>
  (await import('./commands/cancel.js')).runCancel(...args);

export const runCredentialProcess: typeof CredentialProcess.runCredentialProcess = async (
  ...args
) => (await import('./commands/credential-process.js')).runCredentialProcess(...args);

export const runSmtpPassword: typeof SmtpPassword.runSmtpPassword = async (...args) =>
  (await import('./commands/smtp-password.js')).runSmtpPassword(...args);

export const readProcessStdin: typeof SmtpPassword.readProcessStdin = async (...args) =>
  (await import('./commands/smtp-password.js')).readProcessStdin(...args);
