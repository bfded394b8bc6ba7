import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './readme-blocks.js';

/** Pages other helpers write; README links them before they are merged. */
const WRITTEN_ELSEWHERE = new Set([
  'docs/trust-function.md',
  'docs/threat-model.md',
  'docs/operations-guarantees.md',
  'docs/interleaving-explorer.md',
  'docs/organization.md',
]);

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set(
    text
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => slug(line.replace(/^#+ /, ''))),
  );
}

const files = [
  'README.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs')).map((n) => `docs/${n}`),
];

describe('README and docs: links', () => {
  it('finds links to check', () => {
    // Assert: README links its guide's sections and every design page
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    expect(readme.match(/\]\(docs\/[a-z-]+\.md/g)?.length).toBeGreaterThan(10);
  });

  it.each(files)('%s links only to pages and headings that exist', (file) => {
    // Arrange
    const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((match) => match[1] ?? '')
      .filter((link) => !/^https?:/.test(link));

    // Assert
    for (const link of links) {
      const [target = '', anchor] = link.split('#');
      const resolved = target === '' ? file : path.normalize(path.join(path.dirname(file), target));
      if (WRITTEN_ELSEWHERE.has(resolved)) continue;
      expect(existsSync(path.join(PROJECT_ROOT, resolved)), `${file}: ${link}`).toBe(true);
      if (anchor !== undefined && resolved.endsWith('.md')) {
        expect(anchorsOf(resolved).has(anchor), `${file}: ${link}`).toBe(true);
      }
    }
  });
});
