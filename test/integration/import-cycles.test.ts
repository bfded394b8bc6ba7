import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * No module of ours imports itself through others: a cycle makes the evaluation order depend on
 * which module is loaded first (a `const` read before its module ran is a TDZ error at cold
 * start), keeps esbuild from splitting the rotation asset along it, and ties two concerns
 * together. The graph is TypeScript's own reading of each file's imports and re-exports
 * (`ts.preProcessFile`), type-only ones included.
 */

const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

/** What we ship and what runs it: the functions, the command, the CDK app, the local tools. */
const SOURCE_DIRECTORIES = ['lambda', 'cli', 'lib', 'bin', 'local', 'scripts'];

const sourceFiles = (directory: string): string[] =>
  readdirSync(path.join(PROJECT_ROOT, directory), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [relative] : [];
  });

/** The project files a source file imports, by relative specifier (`./x.js` is `./x.ts`). */
const importsOf = (file: string, known: ReadonlySet<string>): string[] =>
  ts
    .preProcessFile(readFileSync(path.join(PROJECT_ROOT, file), 'utf8'), true, true)
    .importedFiles.map(({ fileName }) => fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) =>
      path.posix.join(path.posix.dirname(file), specifier).replace(/\.js$/, '.ts'),
    )
    .filter((imported) => known.has(imported));

const importGraph = (): Map<string, string[]> => {
  const files = SOURCE_DIRECTORIES.flatMap(sourceFiles);
  const known = new Set(files);
  return new Map(files.map((file) => [file, importsOf(file, known)]));
};

/** The cycles of a directed graph, each as the path that closes it (first node repeated last). */
export const findCycles = (graph: ReadonlyMap<string, readonly string[]>): string[][] => {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
};

describe('Import graph', () => {
  it('finds a cycle when there is one (the check can fail)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    expect(findCycles(new Map([['a.ts', ['b.ts']]]))).toEqual([]);
  });

  it('has no cycle among our modules, type-only imports included', () => {
    const graph = importGraph();
    expect(graph.size, 'modules in the graph').toBeGreaterThan(100);
    expect([...graph.values()].flat().length, 'imports resolved to project files').toBeGreaterThan(
      graph.size,
    );
    expect(findCycles(graph)).toEqual([]);
  });
});
