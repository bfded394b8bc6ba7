import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The test files that take longest in CI (one long test each, or one long matrix), slowest first.
 * Without vitest's cache of earlier durations (a clean clone, as in CI) vitest runs larger files
 * first, and these are small files: they ran last, and the longest of them (half a minute on one
 * core) could end the run with the other worker idle. Started first, the other files fill the
 * other worker around them.
 */
export const SLOWEST_FILES: readonly string[] = [
  // Slowest first, as measured on a clean clone (BENCHMARKS.md, CI time).
  'test/local/rotation/rotation-properties.test.ts',
  'test/lib/app.test.ts',
  'test/lib/iam-key-rotation-stack.test.ts',
  'test/cli/cli-over-moto.test.ts',
  'test/docs/readme-commands.test.ts',
  'test/local/rotation/fault-matrix-steady-state.test.ts',
  'test/local/start.test.ts',
  'test/integration/grace-period-over-the-wire.test.ts',
  'test/local/rotation/fault-matrix-first-rotation.test.ts',
  'test/integration/operator-actions.test.ts',
  'test/local/rotation/races.test.ts',
  'test/local/rotation/interleavings.test.ts',
];

/** Vitest's order, with {@link SLOWEST_FILES} moved to the front in their own order. */
export class SlowestFirstSequencer extends BaseSequencer {
  public override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification): number => {
      const relative = path.relative(this.ctx.config.root, file.moduleId);
      const index = SLOWEST_FILES.indexOf(relative.split(path.sep).join('/'));
      return index === -1 ? SLOWEST_FILES.length : index;
    };
    return sorted
      .map((file, order) => ({ file, order, rank: rank(file) }))
      .sort((a, b) => a.rank - b.rank || a.order - b.order)
      .map(({ file }) => file);
  }
}
