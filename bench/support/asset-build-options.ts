/**
 * esbuild options of the rotation function's bundles (lib/rotation-asset-build.ts
 * `rotationBundleSettings`: ESM, node22, minify, mainFields module,main, the createRequire banner,
 * its aliases, `define`s and plugin) for single-file bundles of other entries that the benchmarks
 * and tests build themselves (pass `entryPoints` and `outfile`). The SES SMTP test's client is
 * left out, as in the asset of a stack without that test, unless `define` says otherwise.
 */
import type { BuildOptions } from 'esbuild';
import { rotationBundleSettings } from '../../lib/rotation-asset-build.js';

export const assetBuildOptions = (overrides: BuildOptions = {}): BuildOptions => ({
  ...rotationBundleSettings(),
  logLevel: 'error',
  ...overrides,
});
