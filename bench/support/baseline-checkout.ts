/**
 * The baseline of the before/after figures: main's commit before issue 17 (0189c65), extracted
 * with `git archive` into a temporary directory outside the repository, with this checkout's
 * node_modules linked in (the same lock file). Its rotation asset is built as its own
 * NodejsFunction built it (one file, its bench/support/asset-build-options.ts), and its command is
 * its tsx launcher, cli/iam-key-rotation.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, projectPath } from './paths.js';

/** main before issue 17. */
export const BASELINE_COMMIT = '0189c65';

export interface BaselineCheckout {
  readonly commit: string;
  readonly dir: string;
  /** Its rotation asset, one file. */
  readonly assetEntry: string;
  /** Its command's launcher (TypeScript through tsx). */
  readonly commandEntry: string;
}

let prepared: BaselineCheckout | undefined;

/** Extracts the baseline commit and builds its asset (once per run). */
export const baselineCheckout = (): BaselineCheckout => {
  if (prepared !== undefined) return prepared;
  const dir = makeTempDir(`baseline-${BASELINE_COMMIT}`);
  const archive = execFileSync('git', ['archive', '--format=tar', BASELINE_COMMIT], {
    cwd: projectPath(),
    maxBuffer: 256 * 1024 * 1024,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(projectPath('node_modules'), path.join(dir, 'node_modules'));
  const assetEntry = path.join(dir, 'asset', 'index.mjs');
  const script = [
    "import { build } from 'esbuild';",
    "import { assetBuildOptions } from './bench/support/asset-build-options.ts';",
    `await build(assetBuildOptions({ entryPoints: ['lambda/handler.ts'], outfile: ${JSON.stringify(assetEntry)} }));`,
  ].join('\n');
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  if (result.status !== 0 || !existsSync(assetEntry)) {
    throw new Error(
      `could not build the asset of ${BASELINE_COMMIT}: ${result.stderr.toString().slice(-1_000)}`,
    );
  }
  prepared = {
    commit: BASELINE_COMMIT,
    dir,
    assetEntry,
    commandEntry: path.join(dir, 'cli', 'iam-key-rotation'),
  };
  return prepared;
};
