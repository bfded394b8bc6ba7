import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AccessKeyCredentials } from '../../../lambda/rotation/access-key-credentials.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('Class: AccessKeyCredentials', () => {
  const credentials = new AccessKeyCredentials('AKIAIOSFODNN7EXAMPLE', SECRET);

  it.each([
    ['JSON.stringify', () => JSON.stringify({ nested: credentials })],
    ['util.inspect', () => inspect({ nested: credentials }, { depth: 5, showHidden: true })],
    ['String()', () => String(credentials)],
  ])('redacts the secret access key in %s', (_label, render) => {
    const text = render();
    expect(text).toContain('AKIAIOSFODNN7EXAMPLE');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('[REDACTED]');
  });

  it('hands the secret out only for signing and storing', () => {
    expect(credentials.toAwsCredentials()).toEqual({
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: SECRET,
    });
    expect(credentials.toSecretFields()).toEqual({
      AccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      SecretAccessKey: SECRET,
    });
    expect(Object.keys(credentials)).toEqual(['accessKeyId']);
  });
});
