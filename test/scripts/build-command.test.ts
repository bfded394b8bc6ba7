import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUILD_INPUTS_FILE,
  buildCommand,
  COMMAND_FILE,
  isBuildCurrent,
} from '../../scripts/build-command.js';

/**
 * `prepare` may rebuild the command while it runs (npx installs the checkout and runs `prepare`
 * again while other commands start from dist/cli): a rebuild never leaves the entry or a chunk
 * it imports missing, and leaves nothing of an earlier, different build behind.
 */
const workDir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-build-'));

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/**
 * A small command's sources in `workDir/<name>`: `entry.ts` (`entry`) and `usage.ts` (`usage`),
 * with the esbuild options that build them as the real command is built, into `workDir/<name>-cli`.
 */
const smallCommand = (
  name: string,
  entry: string,
  usage: string,
): { source: string; outdir: string; overrides: BuildOptions } => {
  const source = path.join(workDir, name);
  mkdirSync(source);
  writeFileSync(path.join(source, 'entry.ts'), entry);
  writeFileSync(path.join(source, 'usage.ts'), usage);
  return {
    source,
    outdir: path.join(workDir, `${name}-cli`),
    overrides: {
      absWorkingDir: source,
      entryPoints: { 'iam-key-rotation': path.join(source, 'entry.ts') },
      banner: {},
    },
  };
};

describe('buildCommand', () => {
  it('replaces an earlier build in place: the command starts at every moment of a rebuild', async () => {
    // Arrange: a small command built as the real one is (its chunk loaded lazily), and a chunk
    // an earlier build left
    const { outdir, overrides } = smallCommand(
      'lazy',
      "const { usage } = await import('./usage.js');\nconsole.log(usage);\n",
      "export const usage = 'Usage: small-command';\n",
    );
    await buildCommand(outdir, overrides);
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
    await buildCommand(outdir, overrides);
    clearInterval(watching);

    // Assert
    expect(looks).toBeGreaterThan(0);
    expect(missing).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(
      readdirSync(path.join(outdir, 'chunks')).filter((name) => name.includes('partial')),
    ).toEqual([]);
    const help = spawnSync(process.execPath, [entry], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: small-command');
  }, 60_000);

  it('tells a build from today’s sources from one of other sources, by content, whatever the file times say', async () => {
    // Arrange: a small command, built, whose module outside the entry then changes
    const { source, outdir, overrides } = smallCommand(
      'current',
      "import { usage } from './usage.js';\nconsole.log(usage);\n",
      "export const usage = 'one';\n",
    );
    const usage = path.join(source, 'usage.ts');
    writeFileSync(path.join(source, 'package.json'), '{}\n');
    expect(isBuildCurrent(outdir, source)).toBe(false);
    await buildCommand(outdir, overrides);
    const entry = path.join(outdir, COMMAND_FILE);
    expect(isBuildCurrent(outdir, source)).toBe(true);

    // Act / Assert: another content, with the build newer than the source by its times
    writeFileSync(usage, "export const usage = 'two';\n");
    utimesSync(usage, new Date(0), new Date(0));
    expect(isBuildCurrent(outdir, source)).toBe(false);
    writeFileSync(usage, "export const usage = 'one';\n");
    expect(isBuildCurrent(outdir, source)).toBe(true);
    // package.json decides node_modules, so it counts although esbuild did not read it
    writeFileSync(path.join(source, 'package.json'), '{"dependencies":{}}\n');
    expect(isBuildCurrent(outdir, source)).toBe(false);
    writeFileSync(path.join(source, 'package.json'), '{}\n');
    // a build without its record (copied without it, or older than the record) is not current
    rmSync(path.join(outdir, BUILD_INPUTS_FILE));
    expect(existsSync(entry)).toBe(true);
    expect(isBuildCurrent(outdir, source)).toBe(false);
  });
});
