/**
 * vitest globalSetup: builds the `iam-key-rotation` command (scripts/build-command.ts, as
 * `npm ci` does) when dist/cli holds no build, or one from other sources than today's (the
 * content of every file it bundles: `isBuildCurrent`), so that
 * the tests that start the command run the JavaScript a user runs, with plain `node`; and makes
 * this run's cache of synthesized cloud assemblies (test/support/moto/synthesized-stack.ts), a
 * private temporary directory removed when the run ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildCommand, isBuildCurrent } from '../../scripts/build-command.js';

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
    if (!isBuildCurrent()) await buildCommand();
  } catch (error) {
    removeSynthCache();
    throw error;
  }
  return removeSynthCache;
}
