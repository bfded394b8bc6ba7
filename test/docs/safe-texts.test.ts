import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig } from '../../lib/config.js';
import { addIamKeyRotationStacks } from '../../lib/iam-key-rotation-app.js';
import { BARE_NPX_PATTERN, codeBlocks, PROJECT_ROOT } from './readme-blocks.js';

/** Every string in a template (descriptions, event inputs, outputs), with where it is. */
function stringsOf(value: unknown, where: string, into: [string, string][]): [string, string][] {
  if (typeof value === 'string') into.push([where, value]);
  else if (Array.isArray(value))
    value.forEach((item, i) => stringsOf(item, `${where}[${i}]`, into));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) stringsOf(item, `${where}.${key}`, into);
  }
  return into;
}

/** The texts a stack gives to people: every switch that adds one is on. */
function templateStrings(): [string, string][] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = addIamKeyRotationStacks(
    app,
    parseIamKeyRotationConfig({
      gracePeriod: '24h',
      notifications: { email: ['security-team@example.com'], onSuccess: true },
      complianceRules: true,
      users: [
        { userName: 'created', createUser: true, schedule: 'rate(30 days)' },
        { userName: 'existing', schedule: 'rate(30 days)', sesSmtpRegions: ['eu-west-1'] },
      ],
    }),
  );
  const assembly = app.synth();
  return stacks.flatMap((stack) =>
    stringsOf(assembly.getStackByName(stack.stackName).template, stack.stackName, []),
  );
}

describe('Texts for people: no bare npx iam-key-rotation', () => {
  const strings = templateStrings();

  it('recognizes a bare npx and accepts npx --no-install and the installed command', () => {
    // Assert: the pattern itself
    expect(BARE_NPX_PATTERN.test('then: npx iam-key-rotation status')).toBe(true);
    expect(BARE_NPX_PATTERN.test('npx -y iam-key-rotation status')).toBe(true);
    expect(BARE_NPX_PATTERN.test('npx --no-install iam-key-rotation status')).toBe(false);
    expect(BARE_NPX_PATTERN.test('then: iam-key-rotation status')).toBe(false);
  });

  it('gives people the command in alarm descriptions and notification texts, never through a bare npx', () => {
    // Assert
    const commands = strings.filter(([, text]) => /iam-key-rotation (status|rotate)\b/.test(text));
    // The alarms (errors, throttles) and both notification texts name the command.
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const [where, text] of strings) {
      expect(BARE_NPX_PATTERN.test(text), `${where}: ${text}`).toBe(false);
    }
  });

  it('shows no bare npx iam-key-rotation in any code block of README or docs/', () => {
    // Arrange
    const files = ['README.md', ...readdirSync(path.join(PROJECT_ROOT, 'docs')).map((name) => `docs/${name}`)];

    // Act
    const blocks = files.flatMap((file) => codeBlocks(file).map((block) => ({ ...block, file })));

    // Assert
    expect(blocks.length).toBeGreaterThan(20);
    for (const block of blocks) {
      expect(BARE_NPX_PATTERN.test(block.code), `${block.file}:${block.line}`).toBe(false);
    }
  });
});
