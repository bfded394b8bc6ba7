/**
 * `npx tsx bench/analyze-bundle.ts [--top N]`: bundles the rotation handler into one ES module
 * with the asset's esbuild options (bench/support/asset-build-options.ts; the aliases of
 * lib/rotation-bundling.ts) and prints what the bytes are (esbuild metafile): per package and the
 * largest files. The asset itself is split and converted to CommonJS (lib/rotation-asset-build.ts):
 * this shows what the whole handler graph weighs, not what a cold start loads. Not part of `npm run bench`; a tool for working the asset size down.
 */
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { assetBuildOptions } from './support/asset-build-options.js';
import { projectPath } from './support/paths.js';
import { kib } from './support/stats.js';

const packageOf = (input: string): string => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match?.[1] ?? input.split('/').slice(0, 2).join('/');
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({ options: { top: { type: 'string', default: '25' } } });
  const top = Number(values.top);
  const result = await build(
    assetBuildOptions({
      entryPoints: [projectPath('lambda', 'handler.ts')],
      outfile: 'index.mjs',
      write: false,
      metafile: true,
    }),
  );
  const output = Object.values(result.metafile?.outputs ?? {})[0];
  if (output === undefined) throw new Error('esbuild produced no output');
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytesInOutput);
  }
  console.log(`Bundle: ${kib(output.bytes)} (${String(output.bytes)} B)\n`);
  console.log('| package | bytes in bundle |\n|---|---|');
  for (const [name, bytes] of [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${name} | ${kib(bytes)} |`);
  }
  console.log('\n| file | bytes in bundle |\n|---|---|');
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
    .slice(0, top)) {
    console.log(`| ${input.replace(/^.*node_modules\//, '')} | ${kib(bytesInOutput)} |`);
  }
};

await main();
