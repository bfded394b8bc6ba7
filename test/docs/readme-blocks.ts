import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The fence's info string, e.g. `sh`, `sh aws`, `json`. */
  readonly info: string;
  readonly code: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The `##`/`###` heading the block is under. */
  readonly heading: string;
}

/**
 * The info strings of shell blocks in README: `sh` runs offline without an AWS account (the
 * README test runs it as written), `sh aws` needs an account, `sh setup` changes the machine or
 * runs a whole suite (npm ci, npm link, npm test).
 */
export const SHELL_BLOCK_KINDS = ['sh', 'sh aws', 'sh setup'] as const;

/** Every fenced code block of a Markdown file, in order. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(path.resolve(PROJECT_ROOT, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  let heading = '';
  let open: { info: string; line: number; body: string[] } | undefined;
  lines.forEach((text, index) => {
    if (open === undefined) {
      if (/^#{1,6} /.test(text)) heading = text.replace(/^#+ /, '');
      const fence = /^```(.*)$/.exec(text);
      if (fence) open = { info: (fence[1] ?? '').trim(), line: index + 1, body: [] };
    } else if (text === '```') {
      blocks.push({ info: open.info, code: open.body.join('\n'), line: open.line, heading });
      open = undefined;
    } else {
      open.body.push(text);
    }
  });
  return blocks;
}

/**
 * A bare `npx iam-key-rotation` (outside the checkout npx looks the name up in the public
 * registry and runs whatever it finds): `npx` with options other than `--no-install` before the
 * name.
 */
export const BARE_NPX_PATTERN = /\bnpx(?:\s+(?!--no-install\b)-[\w-]+)*\s+iam-key-rotation\b/;
