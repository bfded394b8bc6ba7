import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeBlocks, PROJECT_ROOT, SHELL_BLOCK_KINDS } from './readme-blocks.js';

/**
 * Every README shell block marked `sh` (no AWS account needed) runs as written, from the
 * repository's root, and exits 0; blocks marked `sh aws` need an account and `sh setup` changes
 * the machine, so they are only checked for their marker.
 */
const blocks = codeBlocks('README.md');
const offline = blocks.filter((block) => block.info === 'sh');

describe('README: commands', () => {
  it('marks every shell block as offline (sh), needing an account (sh aws) or setup (sh setup)', () => {
    // Assert
    const shell = blocks.filter((block) => /^(sh|bash|shell)\b/.test(block.info));
    expect(shell.length).toBeGreaterThan(5);
    for (const block of shell) {
      expect(SHELL_BLOCK_KINDS, `README.md:${block.line} "${block.info}"`).toContain(block.info);
    }
    // The offline blocks cover what issue 16 asks for.
    const commands = offline.map((block) => block.code).join('\n');
    expect(commands).toContain('npm start -- --help');
    expect(commands).toContain('npx cdk synth');
    expect(commands).toContain('iam-key-rotation --help');
  });

  it.each(offline.map((block) => [block.line, block]))(
    'runs the offline block at README.md:%i as written',
    (_line, block) => {
      // Arrange: the example's committed placement must not change
      const placementFile = path.join(PROJECT_ROOT, 'examples', 'users.placement.json');
      const placementBefore = readFileSync(placementFile, 'utf8');

      // Act
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          CDK_DISABLE_VERSION_CHECK: '1',
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          // No account: nothing here may reach AWS.
          AWS_ACCESS_KEY_ID: '',
          AWS_SECRET_ACCESS_KEY: '',
          AWS_PROFILE: '',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        timeout: 120_000,
      });

      // Assert
      expect(result.status, `${block.code}\n${result.stderr}`).toBe(0);
      expect(result.stdout.length).toBeGreaterThan(0);
      expect(result.stderr).not.toMatch(/feature flags are not configured/);
      expect(readFileSync(placementFile, 'utf8')).toBe(placementBefore);
    },
    120_000,
  );
});
