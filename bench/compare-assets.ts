/**
 * `npx tsx bench/compare-assets.ts [--runs N] before/index.mjs after/index.cjs ...`: loads each bundle in new
 * `node` processes, interleaved with a bare `node -e ""`, and prints the medians side by side:
 * the process wall time minus bare node, the import timed inside the process, and the CPU time
 * the import took (`process.cpuUsage`), which other work on a shared machine disturbs least.
 * For recording the before and after of a bundling change on a noisy machine. Not part of
 * `npm run bench`.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  importTimer,
  LAMBDA_LIKE_ENV,
  loadBetween,
  timeOnce,
  type Command,
} from './benchmarks/cold-start.js';
import { kib, median, ms } from './support/stats.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '25' }, warmups: { type: 'string', default: '3' } },
});
if (positionals.length === 0)
  throw new Error('usage: compare-assets.ts [--runs N] a.mjs b.mjs ...');
const runs = Number(values.runs);
const warmups = Number(values.warmups);
// Lambda-like, not this shell's environment (see measureColdStart in bench/benchmarks/cold-start.ts).
const env = { PATH: process.env.PATH ?? '', ...LAMBDA_LIKE_ENV };
/** Loads a module as the Lambda runtime does and prints the CPU time (user + system) that took, in ms. */
const importCpuTimer = (entry: string): string[] =>
  loadBetween(
    entry,
    'const c = process.cpuUsage();',
    'const u = process.cpuUsage(c); process.stdout.write(String((u.user + u.system) / 1000));',
  );
const commands: Command[] = [
  { name: 'bare node', file: process.execPath, args: ['-e', ''], clock: 'wall' },
  ...positionals.flatMap((entry): Command[] => [
    { name: `${entry} (wall)`, file: process.execPath, args: [entry], clock: 'wall' },
    {
      name: `${entry} (inside)`,
      file: process.execPath,
      args: importTimer(entry),
      clock: 'inside',
    },
    {
      name: `${entry} (CPU)`,
      file: process.execPath,
      args: importCpuTimer(entry),
      clock: 'inside',
    },
  ]),
];
const samples = commands.map(() => [] as number[]);
for (let round = 0; round < warmups + runs; round += 1) {
  for (let offset = 0; offset < commands.length; offset += 1) {
    const index = (round + offset) % commands.length;
    const command = commands[index];
    if (command === undefined) continue;
    const elapsed = timeOnce(command, env);
    if (round >= warmups) samples[index]?.push(elapsed);
  }
}
const medians = samples.map((values) => median(values));
const bare = medians[0] ?? NaN;
console.log(`bare node: ${ms(bare)} (medians of ${String(runs)} interleaved runs)\n`);
console.log(
  '| bundle | size | wall − bare node | import, timed inside | import, CPU |\n|---|---|---|---|---|',
);
positionals.forEach((entry, index) => {
  const wall = medians[1 + index * 3] ?? NaN;
  const inside = medians[2 + index * 3] ?? NaN;
  const cpu = medians[3 + index * 3] ?? NaN;
  console.log(
    `| ${entry} | ${kib(statSync(entry).size)} | ${ms(wall - bare)} | ${ms(inside)} | ${ms(cpu)} |`,
  );
});
