import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const projectPath = (...parts: string[]): string => path.join(PROJECT_ROOT, ...parts);

const created: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs} at the end of the run. */
export const makeTempDir = (label: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), `iam-key-rotation-bench-${label}-`));
  created.push(dir);
  return dir;
};

export const removeTempDirs = (): void => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
};
