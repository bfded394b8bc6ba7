// Exercises `npm start` (local/start.ts) as a user runs it: options, exit codes and output.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs local/start.ts with `<args>` in the project through tsx's loader, as `npm start -- <args>`
 * (`tsx local/start.ts`) does: `node --import tsx`, the process tsx's command starts, without
 * npx and tsx's command in front (half a second each, ten times).
 */
function start(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('Command: npm start (local/start.ts)', () => {
  it('lists the options with their ranges and defaults for --help, and exits 0', () => {
    // Act
    const result = start('--help');

    // Assert
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    const help = result.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('Usage: npm start -- [options]');
    expect(help).toContain('--delay-seconds <seconds>');
    expect(help).toContain('0 to 60 seconds, e.g. 5 or 2.5 (default: 5)');
    expect(help).toContain('--rotations <count>');
    expect(help).toContain('a whole number from 1 to 20 (default: 3)');
    expect(help).toContain('--verbose');
    expect(help).toContain('--grace-period <duration>');
    expect(help).toContain('0 (none) or 1s to 10m, e.g. 10s or 2m (default: 0)');
    expect(help).toContain('2 on a usage error');
  });

  it.each([
    [['--rotations', '1e1'], "option '--rotations <count>' argument '1e1' is invalid"],
    [['--rotations', '2.0'], "option '--rotations <count>' argument '2.0' is invalid"],
    [['--delay-seconds', '5s'], "option '--delay-seconds <seconds>' argument '5s' is invalid"],
    [['--delay'], "unknown option '--delay'"],
    [['--grace-period', '10'], "option '--grace-period <duration>' argument '10' is invalid"],
    [['--grace-period', '11m'], "option '--grace-period <duration>' argument '11m' is invalid"],
    [['--grace-period', '0s'], "option '--grace-period <duration>' argument '0s' is invalid"],
  ])(
    'fails when the arguments are %j, with one line and a hint on stderr and exit code 2',
    (args, message) => {
      // Act
      const result = start(...args);

      // Assert
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toContain(message);
      expect(lines[1]).toBe("(run 'npm start -- --help' for the options)");
    },
  );

  it('runs a rotation without delay and exits 0, with no JSON log line', () => {
    // Act
    const result = start('--delay-seconds', '0', '--rotations', '1');

    // Assert
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Total: 1 rotation in');
    expect(result.stdout).toContain('Every check passed');
    expect(result.stdout).not.toMatch(/^\{/m);
  });

  it('keeps the previous key Active for the grace period, then shows the schedule deactivate it', () => {
    // Act
    const result = start('--delay-seconds', '0', '--rotations', '2', '--grace-period', '1s');

    // Assert
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /Grace period 1\.0 s: after each rotation the previous key stays Active/,
    );
    expect(result.stdout).toMatch(
      /Grace period: the previous key (AKIA\w+) is Active; its schedule fires at/,
    );
    expect(result.stdout).toContain('retirePreviousKey');
    expect(result.stdout).toMatch(/AKIA\w+ {2}Inactive {2}AWSPREVIOUS/);
    expect(result.stdout).not.toMatch(/^\{/m);
  });
});
