/**
 * vitest globalSetup: builds the `iam-key-rotation` command (scripts/build-command.ts, as
 * `npm ci` does) when dist/cli holds no build, or one older than a source it bundles, so that
 * the tests that start the command run the JavaScript a user runs, with plain `node`; and makes
 * this run's cache of synthesized cloud assemblies (test/support/moto/synthesized-stack.ts), a
 * private temporary directory removed when the run ends.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
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

declare module 'vitest' {
  export interface ProvidedContext {
    /** This run's cache of synthesized cloud assemblies (see synthesized-stack.ts). */
    synthCacheDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  // mkdtemp: a new directory only this user can write, so no one else can plant an assembly
  // whose handler a test would then import.
  const synthCacheDir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-synth-cache-'));
  project.provide('synthCacheDir', synthCacheDir);
  const removeSynthCache = (): void => {
    rmSync(synthCacheDir, { recursive: true, force: true });
  };
  try {
    const built = path.join(COMMAND_OUTDIR, COMMAND_FILE);
    const sourcesChanged = Math.max(
      ...SOURCES.map((source) => newestModification(path.join(PROJECT_ROOT, source))),
    );
    if (!existsSync(built) || statSync(built).mtimeMs < sourcesChanged) await buildCommand();
  } catch (error) {
    removeSynthCache();
    throw error;
  }
  return removeSynthCache;
}
