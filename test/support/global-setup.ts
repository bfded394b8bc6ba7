/**
 * vitest globalSetup: builds the `iam-key-rotation` command (scripts/build-command.ts, as
 * `npm ci` does) when dist/cli holds no build, or one older than a source it bundles, so that
 * the tests that start the command run the JavaScript a user runs, with plain `node`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { buildCommand, COMMAND_FILE, COMMAND_OUTDIR } from '../../scripts/build-command.js';
import { PROJECT_ROOT } from './cli-process.js';

/** What the command bundles: its sources, the function's modules it reuses, package.json. */
const SOURCES = ['cli', 'lambda', 'package.json', 'package-lock.json', 'scripts/build-command.ts'];

const newestModification = (entry: string): number => {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(
    stats.mtimeMs,
    ...readdirSync(entry).map((name) => newestModification(path.join(entry, name))),
  );
};

export default async function setup(): Promise<void> {
  const built = path.join(COMMAND_OUTDIR, COMMAND_FILE);
  const sourcesChanged = Math.max(
    ...SOURCES.map((source) => newestModification(path.join(PROJECT_ROOT, source))),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sourcesChanged) return;
  await buildCommand();
}
