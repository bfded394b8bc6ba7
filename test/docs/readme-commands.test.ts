import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig } from '../../lib/config.js';
import { codeBlocks, PROJECT_ROOT, SHELL_BLOCK_KINDS } from './readme-blocks.js';

/**
 * Every README shell block marked `sh` (no AWS account needed) runs as written, from the
 * repository's root, and exits 0; blocks marked `sh aws` need an account and `sh setup` changes
 * the machine, so they are only checked for their marker.
 */
const blocks = codeBlocks('README.md');
const offline = blocks.filter((block) => block.info === 'sh');

/**
 * What `npm ci` (Quick start, a `sh setup` block) leaves behind for the command: when the bin of
 * package.json is built by the `prepare` script and is missing, build it as npm ci would.
 */
function buildCommandAsNpmCiWould(): void {
  const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>;
    scripts?: Record<string, string>;
  };
  const bin = Object.values(manifest.bin ?? {})[0];
  if (bin === undefined || existsSync(path.join(PROJECT_ROOT, bin))) return;
  if (manifest.scripts?.prepare === undefined)
    throw new Error(`package.json bin ${bin} is missing`);
  const result = spawnSync('npm', ['run', 'prepare'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm run prepare failed: ${result.stderr}`);
}

describe('README: commands', () => {
  // npx keeps the checkout's own package in its cache, keyed by the checkout's path: an entry made
  // while package.json's bin was another file would hide the current one. So a cache of this test
  // keyed by the checkout and its package.json (reused while neither changes), and npm offline:
  // nothing here reaches a registry. Without scripts: npx links the checkout into that cache and
  // runs the bin as npm ci built it, instead of running the checkout's `prepare` (a rebuild of
  // dist/cli) again under the commands other tests run meanwhile.
  let npmCache = '';
  beforeAll(() => {
    buildCommandAsNpmCiWould();
    const key = createHash('sha256')
      .update(PROJECT_ROOT)
      .update(readFileSync(path.join(PROJECT_ROOT, 'package.json')))
      .digest('hex')
      .slice(0, 16);
    npmCache = path.join(tmpdir(), `iam-key-rotation-readme-npm-${key}`);
    mkdirSync(npmCache, { recursive: true });
  }, 120_000);

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
          npm_config_cache: npmCache,
          npm_config_offline: 'true',
          npm_config_ignore_scripts: 'true',
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

  it('shows configurations that synth accepts', () => {
    // Arrange
    const configurations = ['README.md', 'docs/configuration.md']
      .flatMap((file) => codeBlocks(file))
      .filter((block) => block.info === 'json' && block.code.includes('"users"'))
      // The reference lists a placeholder key ARN ("key/...").
      .map((block) => block.code.replace('key/...', 'key/1234abcd-12ab-34cd-56ef-1234567890ab'));

    // Act & Assert
    expect(configurations.length).toBeGreaterThanOrEqual(2);
    for (const text of configurations) {
      expect(() => parseIamKeyRotationConfig(JSON.parse(text) as unknown), text).not.toThrow();
    }
  });
});
