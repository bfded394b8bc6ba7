import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestSpecification, Vitest } from 'vitest/node';
import { SLOWEST_FILES, SlowestFirstSequencer } from '../support/slowest-first-sequencer.js';

const ROOT = '/project';

/** What the base sequencer reads of a file: its project and path, and its size (no cache). */
const specification = (file: string): TestSpecification =>
  ({
    moduleId: path.join(ROOT, file),
    project: { name: '', config: { root: ROOT, isolate: true, sequence: { groupOrder: 0 } } },
  }) as unknown as TestSpecification;

describe('Class: SlowestFirstSequencer', () => {
  describe('Method: sort', () => {
    it('runs the slowest files first, in their order, and the others in vitest order (larger first)', async () => {
      // Arrange: a clean clone, no durations cached; vitest orders by size.
      const sizes = new Map<string, number>([
        ['test/big.test.ts', 30_000],
        ['test/small.test.ts', 1_000],
        [SLOWEST_FILES[0] ?? '', 3_000],
        [SLOWEST_FILES[2] ?? '', 2_000],
      ]);
      const context = {
        config: { root: ROOT },
        cache: {
          getFileTestResults: () => undefined,
          getFileStats: (key: string) => ({ size: sizes.get(key.slice(key.indexOf(':') + 1)) }),
        },
      } as unknown as Vitest;
      const files = [...sizes.keys()].reverse().map(specification);

      // Act
      const sorted = await new SlowestFirstSequencer(context).sort(files);

      // Assert
      expect(sorted.map((file) => path.relative(ROOT, file.moduleId))).toEqual([
        SLOWEST_FILES[0],
        SLOWEST_FILES[2],
        'test/big.test.ts',
        'test/small.test.ts',
      ]);
    });
  });
});
