import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertRequiredFilesExist,
  buildRotationAsset,
  coldStartBytes,
  coldStartFiles,
  coldStartInputs,
  describeAsset,
  ROTATION_STATIC_BYTES_LIMIT,
  staticImportClosure,
  type AssetFile,
} from '../../lib/rotation-asset-build.js';

/**
 * The rotation function's asset, built as NodejsFunction's afterBundling hook builds it
 * (lib/rotation-asset-build.ts): what every cold start loads stays within its budget, and code
 * that only some invocations need is loaded only by them.
 */

/**
 * What only some invocations need, each matched against the source paths of esbuild's metafile:
 * one step per invocation; the grace period's scheduling and retirement; the SES SMTP test; STS
 * (testSecret); the container credentials endpoint (runtimes that do not put the credentials in
 * the environment).
 */
const ONLY_SOME_INVOCATIONS: readonly string[] = [
  'lambda/rotation/create-secret.ts',
  'lambda/rotation/set-secret.ts',
  'lambda/rotation/test-secret.ts',
  'lambda/rotation/finish-secret.ts',
  'lambda/rotation/retire-previous-key.ts',
  'lambda/rotation/retirement-schedule.ts',
  'lambda/aws/scheduler-retirement-schedules.ts',
  'lambda/rotation/ses-smtp-test.ts',
  'lambda/aws/smtp-login-client.ts',
  'node_modules/nodemailer/',
  'node_modules/@aws-sdk/client-sts/',
  'node_modules/@aws-sdk/credential-provider-http/',
];

/** The entries of the list some input is (a package: some input in it, wherever node_modules is). */
const matching = (inputs: Iterable<string>): string[] =>
  ONLY_SOME_INVOCATIONS.filter((part) =>
    [...inputs].some((input) => input.startsWith(part) || input.includes(`/${part}`)),
  );

const workDir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-asset-'));
let built: { files: AssetFile[]; metafile: Metafile } | undefined;

beforeAll(async () => {
  const outdir = path.join(workDir, 'asset');
  const metafile = await buildRotationAsset(outdir, { withSmtpLoginClient: true });
  built = { files: describeAsset(outdir), metafile };
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const asset = (): { files: AssetFile[]; metafile: Metafile } => {
  if (built === undefined) throw new Error('beforeAll did not finish');
  return built;
};

describe('Asset: the rotation function', () => {
  it(`loads at most ${String(ROTATION_STATIC_BYTES_LIMIT / 1024)} KB at a cold start (index.cjs and whatever it loads)`, () => {
    const { files } = asset();

    expect(files.filter((file) => file.loadedAtColdStart).map((file) => file.file)).toContain(
      'index.cjs',
    );
    expect(coldStartBytes(files)).toBeLessThanOrEqual(ROTATION_STATIC_BYTES_LIMIT);
  });

  it('holds every path that only some invocations need, in chunks a cold start does not load', () => {
    const { metafile } = asset();
    const everyInput = Object.values(metafile.outputs).flatMap((output) =>
      Object.keys(output.inputs),
    );

    // Every entry of the list is in the asset (a renamed module would make the check hollow)...
    expect(matching(everyInput)).toEqual(ONLY_SOME_INVOCATIONS);
    // ...and none of them is in the graph a cold start loads.
    expect(matching(coldStartInputs(metafile))).toEqual([]);
  });

  it('fails when a handler imports such a path at the top of its graph', async () => {
    const metafile = await buildRotationAsset(path.join(workDir, 'eager'), {
      entry: path.resolve('test/support/asset-entries/eager-test-secret.ts'),
    });

    expect(matching(coldStartInputs(metafile))).toEqual([
      'lambda/rotation/test-secret.ts',
      'lambda/rotation/ses-smtp-test.ts',
    ]);
  });

  it('refuses code the conversion to CommonJS would change, such as import.meta', async () => {
    await expect(
      buildRotationAsset(path.join(workDir, 'import-meta'), {
        entry: path.resolve('test/support/asset-entries/import-meta.ts'),
      }),
    ).rejects.toThrow(/^converting index\.mjs to CommonJS: .*import\.meta/);
  });

  it('keeps strict mode in every file, as the ES modules had it, and renames require calls only, never a string', async () => {
    // Arrange
    const outdir = path.join(workDir, 'strict');
    await buildRotationAsset(outdir, {
      entry: path.resolve('test/support/asset-entries/strict.ts'),
    });

    // Act
    const module = createRequire(import.meta.url)(path.join(outdir, 'index.cjs')) as {
      writeToFrozenThrows: () => boolean;
      label: () => string;
    };

    // Assert
    expect(module.writeToFrozenThrows()).toBe(true);
    expect(module.label()).toBe('./not-a-chunk.mjs');
    for (const { file } of asset().files) {
      expect(readFileSync(path.join(workDir, 'asset', file), 'utf8'), file).toMatch(
        /^"use strict";/,
      );
    }
  });

  it('refuses an asset whose file requires another it does not hold', () => {
    // Arrange
    const dir = path.join(workDir, 'missing');
    mkdirSync(path.join(dir, 'chunks'), { recursive: true });
    writeFileSync(path.join(dir, 'index.cjs'), 'exports.handler=()=>require("./chunks/gone.cjs");');
    writeFileSync(path.join(dir, 'chunks', 'here.cjs'), 'require("../index.cjs");');

    // Act / Assert
    expect(() => {
      assertRequiredFilesExist(dir);
    }).toThrow('index.cjs requires "./chunks/gone.cjs", which the asset does not hold');
    writeFileSync(path.join(dir, 'chunks', 'gone.cjs'), '');
    expect(() => {
      assertRequiredFilesExist(dir);
    }).not.toThrow();
  });

  it('loads one CommonJS file at a cold start: the chunks index.mjs shared with lazy parts are folded into it', () => {
    const { files } = asset();
    const lazy = files.filter((file) => !file.loadedAtColdStart).map((file) => file.file);

    expect(files.filter((file) => file.loadedAtColdStart).map((file) => file.file)).toEqual([
      'index.cjs',
    ]);
    expect(lazy).toContain('smtp-login-client.cjs');
    expect(lazy.filter((file) => file.startsWith('chunks/')).length).toBeGreaterThan(0);
    // Every file is CommonJS, whatever package.json a folder above it may hold.
    expect(files.filter((file) => !file.file.endsWith('.cjs'))).toEqual([]);
  });

  it('observes what loading index.cjs loads: a chunk required at load counts, one required on first use not', () => {
    const dir = path.join(workDir, 'observed');
    mkdirSync(path.join(dir, 'chunks'), { recursive: true });
    writeFileSync(
      path.join(dir, 'index.cjs'),
      'const a=require("./chunks/chunk-A.cjs");exports.handler=()=>Promise.resolve().then(()=>require("./chunks/lazy.cjs"));',
    );
    writeFileSync(path.join(dir, 'chunks', 'chunk-A.cjs'), 'require("./chunk-C.cjs");exports.a=1;');
    for (const file of ['chunk-C.cjs', 'lazy.cjs']) {
      writeFileSync(path.join(dir, 'chunks', file), 'exports.c=2;');
    }

    expect(coldStartFiles(dir)).toEqual(['chunks/chunk-A.cjs', 'chunks/chunk-C.cjs', 'index.cjs']);
  });

  it('counts, in the ES module stage, a chunk that index.mjs imports statically as loaded at cold start, and a dynamic one not', () => {
    const dir = path.join(workDir, 'closure');
    mkdirSync(path.join(dir, 'chunks'), { recursive: true });
    writeFileSync(
      path.join(dir, 'index.mjs'),
      'import{a as b}from"./chunks/chunk-A.mjs";import"./chunks/chunk-B.mjs";export const handler=()=>import("./chunks/lazy.mjs");',
    );
    writeFileSync(
      path.join(dir, 'chunks', 'chunk-A.mjs'),
      'import"./chunk-C.mjs";export const a=1;',
    );
    for (const file of ['chunk-B.mjs', 'chunk-C.mjs', 'lazy.mjs']) {
      writeFileSync(path.join(dir, 'chunks', file), 'export const c=2;');
    }

    expect(staticImportClosure(dir).sort()).toEqual([
      'chunks/chunk-A.mjs',
      'chunks/chunk-B.mjs',
      'chunks/chunk-C.mjs',
      'index.mjs',
    ]);
  });

  it('runs its lazy parts against the folded index.cjs: a step chunk finds what it requires there', () => {
    const { files } = asset();
    const step = files.find((file) => /^chunks\/set-secret-[^/]+\.cjs$/.test(file.file));
    if (step === undefined) throw new Error('no set-secret chunk in the asset');
    const stepFile = path.join(workDir, 'asset', step.file);

    expect(readFileSync(stepFile, 'utf8')).toContain('require("../index.cjs")');
    const module = createRequire(import.meta.url)(stepFile) as Record<string, unknown>;
    expect(typeof module.setSecret).toBe('function');
  });
});
