import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/cli-process.js';

/**
 * cli/iam-key-rotation, the bin of earlier releases: an npx cache entry or a global link made
 * before the command became built JavaScript still runs this path, which hands over to the build.
 */
const SHIM = path.join(PROJECT_ROOT, 'cli', 'iam-key-rotation');
const scratch = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-legacy-bin-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('Command: the bin of earlier releases', () => {
  it('runs the built command', () => {
    const run = spawnSync(process.execPath, [SHIM, '--help'], { encoding: 'utf8' });

    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: iam-key-rotation [options] [command]');
  });

  it('fails with exit 2 and says how to build it when the build is missing', () => {
    // Arrange: a checkout without dist/
    mkdirSync(path.join(scratch, 'cli'));
    const shim = path.join(scratch, 'cli', 'iam-key-rotation');
    copyFileSync(SHIM, shim);

    // Act
    const run = spawnSync(process.execPath, [shim, '--help'], { encoding: 'utf8' });

    // Assert
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('run `npm ci` (or `npm run build:command`) in the checkout');
  });
});
