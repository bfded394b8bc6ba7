import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCommand, COMMAND_FILE, COMMAND_OUTDIR } from '../../scripts/build-command.js';

/**
 * `prepare` may rebuild the command while it runs (npx installs the checkout and runs `prepare`
 * again while other commands start from dist/cli): a rebuild never leaves the entry or a chunk
 * it imports missing, and leaves nothing of an earlier, different build behind.
 */
const workDir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-build-'));

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('buildCommand', () => {
  it('replaces an earlier build in place: the command starts at every moment of a rebuild', async () => {
    // Arrange: the build vitest's global setup made, and a chunk an earlier build left
    const outdir = path.join(workDir, 'cli');
    cpSync(COMMAND_OUTDIR, outdir, { recursive: true });
    const entry = path.join(outdir, COMMAND_FILE);
    const stale = path.join(outdir, 'chunks', 'removed-command-OLD0HASH.mjs');
    writeFileSync(stale, 'export {};\n');

    // Act: rebuild while watching the entry
    let missing = 0;
    let looks = 0;
    const watching = setInterval(() => {
      looks += 1;
      if (!existsSync(entry)) missing += 1;
    }, 1);
    await buildCommand(outdir);
    clearInterval(watching);

    // Assert
    expect(looks).toBeGreaterThan(0);
    expect(missing).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(
      readdirSync(path.join(outdir, 'chunks')).filter((name) => name.includes('partial')),
    ).toEqual([]);
    const help = spawnSync(process.execPath, [entry, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: iam-key-rotation');
  }, 180_000);
});
