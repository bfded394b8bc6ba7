/**
 * esbuild options equal to those NodejsFunction passes for the rotation function
 * (lib/rotation-bundling.ts: ESM, node22, minify, mainFields module,main, the createRequire
 * banner, its extra esbuild arguments and its `define`s), for bundles the benchmarks build
 * themselves. The SES SMTP test's client, which the asset holds in a file of its own
 * (SMTP_CLIENT_FILE), is left out of these bundles the same way: no benchmark runs that test.
 */
import type { BuildOptions } from 'esbuild';
import {
  CREATE_REQUIRE_BANNER,
  ROTATION_ESBUILD_ARGS,
  ROTATION_ESBUILD_DEFINE,
} from '../../lib/rotation-bundling.js';
import { projectPath } from './paths.js';

const assetAliases = (): Record<string, string> =>
  Object.fromEntries(
    (ROTATION_ESBUILD_ARGS['--alias'] ?? []).map((entry) => {
      const [from = '', to = ''] = entry.split('=');
      // esbuild resolves a relative alias from its working directory, the project root.
      return [from, to.startsWith('.') ? projectPath(to) : to];
    }),
  );

export const assetBuildOptions = (overrides: BuildOptions = {}): BuildOptions => ({
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  banner: { js: CREATE_REQUIRE_BANNER },
  alias: assetAliases(),
  define: { ...ROTATION_ESBUILD_DEFINE },
  logLevel: 'error',
  ...overrides,
});
