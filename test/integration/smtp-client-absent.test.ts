import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { assetBuildOptions } from '../../bench/support/asset-build-options.js';
import { ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT } from '../../lib/rotation-bundling.js';

/**
 * The asset of a stack without an SES SMTP login test has no SMTP client file: the loader, built
 * with that stack's `define`, refuses the test with a message naming the setting, instead of a
 * module-not-found error.
 */
const outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-no-smtp-'));

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('Asset: a stack without an SES SMTP login test', () => {
  it('fails the SMTP test with a message that names sesSmtpTest and the tag, loading nothing', async () => {
    // Arrange: lambda/dependencies.ts bundled as the asset of such a stack is
    const outfile = path.join(outdir, 'dependencies.mjs');
    await build(
      assetBuildOptions({
        entryPoints: [path.resolve('lambda/dependencies.ts')],
        outfile,
        define: { ...ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT },
      }),
    );
    const bundled = (await import(pathToFileURL(outfile).href)) as {
      loadSmtpLoginClient: () => Promise<unknown>;
    };

    // Act
    const loading = bundled.loadSmtpLoginClient();

    // Assert
    await expect(loading).rejects.toThrow(
      'this rotation function was built without the SMTP client of the SES SMTP login test: no user of its stack has "sesSmtpTest": true, yet the secret\'s tag iam-key-rotation:ses-smtp-test asks for the test',
    );
    await expect(loading).rejects.toMatchObject({ name: 'InvalidSettingsError' });
  });
});
