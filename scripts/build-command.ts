/**
 * Builds the `iam-key-rotation` command (cli/iam-key-rotation.ts) into JavaScript that plain
 * `node` runs: `node --import tsx scripts/build-command.ts [outdir]`, the `prepare` script that
 * `npm ci` runs. The output, dist/cli by default (git-ignored), is `iam-key-rotation.mjs` (the
 * `bin` of package.json) and its chunks: every command, and every AWS SDK client but Secrets
 * Manager's, is a chunk loaded only by the run that needs it (cli/lazy-commands.ts,
 * cli/dependencies.ts), so `credential-process` loads commander, Secrets Manager and itself.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the command is built, and the file package.json's `bin` names. */
export const COMMAND_OUTDIR = path.join(PROJECT_ROOT, 'dist', 'cli');
export const COMMAND_FILE = 'iam-key-rotation.mjs';

/** The esbuild options of the command (ESM for the Node.js of package.json `engines`). */
export const commandBuildOptions = (outdir: string): BuildOptions & { metafile: true } => ({
  absWorkingDir: PROJECT_ROOT,
  entryPoints: { 'iam-key-rotation': path.join(PROJECT_ROOT, 'cli', 'iam-key-rotation.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The SDK's ESM builds: smaller than its CommonJS ones, and tree-shakable.
  mainFields: ['module', 'main'],
  minify: true,
  // The AWS SDK and commander still load a few Node.js built-ins with require().
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  outExtension: { '.js': '.mjs' },
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  // The browser's user-agent parser, imported dynamically by SDK code that runs only in a browser.
  external: ['bowser'],
  metafile: true,
  logLevel: 'warning',
});

/**
 * The file beside the build that records what it was built from: the SHA-256 of every input
 * esbuild read outside node_modules, and of package.json and package-lock.json (which decide
 * node_modules), by path relative to the build's working directory.
 */
export const BUILD_INPUTS_FILE = 'build-inputs.json';
const LOCK_FILES = ['package.json', 'package-lock.json'];

const sha256 = (file: string): string | undefined =>
  existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined;

/**
 * Whether the build in `outdir` is from the sources as they are now: every input it recorded
 * has the same content. False when there is no build or no record (a build older than the
 * record, or copied without it). Content, not modification times: a copy that keeps old times,
 * or a checkout that sets new ones, judges right.
 */
export const isBuildCurrent = (
  outdir: string = COMMAND_OUTDIR,
  workingDir: string = PROJECT_ROOT,
): boolean => {
  const record = path.join(outdir, BUILD_INPUTS_FILE);
  if (!existsSync(path.join(outdir, COMMAND_FILE)) || !existsSync(record)) return false;
  const inputs = JSON.parse(readFileSync(record, 'utf8')) as Record<string, string>;
  return (
    Object.keys(inputs).length > 0 &&
    Object.entries(inputs).every(([input, hash]) => sha256(path.join(workingDir, input)) === hash)
  );
};

/** The files below `directory`, as absolute paths. */
const filesBelow = (directory: string): string[] =>
  readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(directory, name))
    .filter((file) => statSync(file).isFile());

/**
 * Builds the command into `outdir`, replacing an earlier build there. A command may be running
 * from `outdir` meanwhile (npx runs `prepare` again while tests start the command), so nothing is
 * removed before the new build is complete: each file is written beside its place and renamed
 * over it (atomic), the chunks before the entry that imports them; files of an earlier build
 * that this one no longer has go last.
 */
export const buildCommand = async (
  outdir: string = COMMAND_OUTDIR,
  /** Other esbuild options (a test builds a small entry the same way). */
  overrides: BuildOptions = {},
): Promise<void> => {
  const result = await build({
    ...commandBuildOptions(outdir),
    ...overrides,
    write: false,
    metafile: true,
  });
  const entry = path.join(outdir, COMMAND_FILE);
  const files = [...result.outputFiles].sort(
    (a, b) => Number(a.path === entry) - Number(b.path === entry),
  );
  for (const file of files) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    const staged = `${file.path}.${process.pid}.partial`;
    writeFileSync(staged, file.contents, { mode: file.path === entry ? 0o755 : 0o644 });
    renameSync(staged, file.path);
  }
  const workingDir = overrides.absWorkingDir ?? PROJECT_ROOT;
  const inputs = Object.fromEntries(
    [
      ...Object.keys(result.metafile.inputs).filter((input) => !input.includes('node_modules/')),
      ...LOCK_FILES.filter((file) => existsSync(path.join(workingDir, file))),
    ].map((input) => [input, sha256(path.join(workingDir, input))]),
  );
  const record = path.join(outdir, BUILD_INPUTS_FILE);
  writeFileSync(`${record}.${String(process.pid)}.partial`, `${JSON.stringify(inputs, null, 2)}\n`);
  renameSync(`${record}.${String(process.pid)}.partial`, record);
  const built = new Set([...files.map((file) => file.path), record]);
  for (const stale of filesBelow(outdir).filter((file) => !built.has(file))) {
    rmSync(stale, { force: true });
  }
};

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  await buildCommand(
    process.argv[2] === undefined ? COMMAND_OUTDIR : path.resolve(process.argv[2]),
  );
}
