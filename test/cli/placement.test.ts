import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runPlacement } from '../../cli/commands/placement.js';

function collectingIo(): {
  stdout: string[];
  stderr: string[];
  io: Parameters<typeof runPlacement>[0];
} {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    io: { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) },
  };
}

describe('Command: placement', () => {
  let directory: string | undefined;
  afterEach(() => {
    if (directory) rmSync(directory, { recursive: true, force: true });
    directory = undefined;
  });

  function arrange(users: object[], placement?: object): string {
    directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-placement-'));
    const file = path.join(directory, 'users.json');
    writeFileSync(file, JSON.stringify({ users }));
    if (placement)
      writeFileSync(path.join(directory, 'users.placement.json'), JSON.stringify(placement));
    return file;
  }

  it('prints each user with its account, region and stack, placed or new, and changes no file', async () => {
    // Arrange
    const file = arrange(
      [
        { userName: 'alice', schedule: 'rate(30 days)' },
        {
          userName: 'bob',
          schedule: 'rate(30 days)',
          account: '111111111111',
          region: 'eu-west-1',
        },
      ],
      { version: 1, stacks: [{ stack: 'Keys-9', users: ['alice'] }] },
    );
    const placementFile = path.join(path.dirname(file), 'users.placement.json');
    const before = readFileSync(placementFile, 'utf8');
    const { io, stdout, stderr } = collectingIo();

    // Act
    const code = await runPlacement(io, { config: file, json: false });

    // Assert
    expect(code).toBe(0);
    expect(stdout.join('').split('\n')).toEqual(
      [
        'USER   ACCOUNT       REGION     STACK                                  STATE',
        'alice  (default)     (default)  Keys-9                                 placed',
        'bob    111111111111  eu-west-1  IamKeyRotation-111111111111-eu-west-1  new',
        '',
      ].map((line) => line),
    );
    expect(stderr).toEqual([]);
    expect(readFileSync(placementFile, 'utf8')).toBe(before);
  });

  it('prints JSON with --json and names removed users on stderr', async () => {
    // Arrange
    const file = arrange([{ userName: 'alice', schedule: 'rate(30 days)' }], {
      version: 1,
      stacks: [{ stack: 'IamKeyRotation', users: ['alice', 'gone'] }],
    });
    const { io, stdout, stderr } = collectingIo();

    // Act
    await runPlacement(io, { config: file, json: true });

    // Assert
    expect(JSON.parse(stdout.join(''))).toEqual([
      { userName: 'alice', stack: 'IamKeyRotation', state: 'placed' },
    ]);
    expect(stderr.join('')).toContain('gone: in ');
    expect(stderr.join('')).toContain('but no longer configured');
  });

  it('fails when the configuration would move a user, with the configuration error', async () => {
    // Arrange
    const file = arrange([{ userName: 'alice', schedule: 'rate(30 days)', stack: 'Other' }], {
      version: 1,
      stacks: [{ stack: 'IamKeyRotation', users: ['alice'] }],
    });
    const { io } = collectingIo();

    // Act & Assert
    await expect(runPlacement(io, { config: file, json: false })).rejects.toThrow(
      /^placement: iamKeyRotation\.users\[0\]\.stack: user "alice" is placed in stack "IamKeyRotation"/,
    );
  });
});
