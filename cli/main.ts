/**
 * The `iam-key-rotation` command (package.json `bin`, through ./iam-key-rotation): wires the
 * process to the program, its streams, its environment and the AWS SDK clients.
 */
import { createCliDependencies, createCliDependenciesFor, processIo } from './dependencies.js';
import { runCli } from './program.js';

/** Runs the command line and sets the process's exit code. */
export const main = async (argv: readonly string[] = process.argv.slice(2)): Promise<void> => {
  // The SDK warns on every run that its releases after January 2027 need Node.js 22; stderr is
  // for the command's own messages (and must stay empty for credential-process). Set it to
  // false to see the warning.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // A reader that goes away early (`status | head`) is not an error of the command.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(process.exitCode ?? 0);
    });
  }
  const io = processIo();
  process.exitCode = await runCli(argv, {
    io,
    createDependencies: (clientConfig) => createCliDependencies({ clientConfig, io }),
    createTargetDependencies: (clientConfig, target) =>
      createCliDependenciesFor({ clientConfig, io, ...target }),
    environment: process.env,
  });
};
