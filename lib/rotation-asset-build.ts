import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { build, transform, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import {
  CREATE_REQUIRE_BANNER,
  PROJECT_ROOT,
  ROTATION_ESBUILD_ARGS,
  ROTATION_ESBUILD_DEFINE,
  ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT,
  ROTATION_HANDLER_ENTRY,
  SMTP_CLIENT_FILE,
} from './rotation-bundling.js';

/**
 * The rotation function's asset, built with esbuild's code splitting, then folded and converted
 * to CommonJS: `index.cjs` (the handler) is what every cold start loads; what only some
 * invocations need is imported dynamically and lands in chunks of its own under {@link
 * ROTATION_CHUNKS_DIR}, loaded on first use:
 * - each rotation step and the grace period's retirement (lambda/lazy-steps.ts);
 * - the STS client (testSecret only), the grace period's scheduler (finishSecret with a grace
 *   period), the container credentials endpoint (runtimes that do not put the credentials in the
 *   environment): lambda/dependencies.ts, lambda/aws/sts-caller-identity.ts,
 *   lambda/aws/lambda-credential-provider.ts;
 * - the SES SMTP test's client, {@link SMTP_CLIENT_FILE}, only in the asset of a stack with such
 *   a test.
 */

/** The asset's entry file, the handler `index.handler` (a `.cjs` file is CommonJS in any folder). */
export const ROTATION_ENTRY_FILE = 'index.cjs';

/**
 * The entry file of the ES module stage of the build (esbuild splits ES modules only), which
 * {@link convertToCommonJs} turns into {@link ROTATION_ENTRY_FILE}.
 */
const STAGE_ENTRY_FILE = 'index.mjs';

/** The folder of the asset's chunks. */
export const ROTATION_CHUNKS_DIR = 'chunks';

/** The most the files every cold start loads may weigh together. */
export const ROTATION_STATIC_BYTES_LIMIT = 250 * 1024;

/** The SMTP client's entry, relative to the project root. */
const SMTP_CLIENT_ENTRY = path.join('lambda', 'aws', 'smtp-login-client.ts');

/**
 * The AWS SDK clients import their whole `package.json` to put their version in the user agent:
 * only `version` is kept (about 2 KB less per client).
 */
const sdkPackageVersionOnly: Plugin = {
  name: 'sdk-package-version-only',
  setup(pluginBuild) {
    pluginBuild.onLoad(
      { filter: /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ },
      (args) => {
        const { version } = JSON.parse(readFileSync(args.path, 'utf8')) as { version?: unknown };
        return { contents: JSON.stringify({ version }), loader: 'json' };
      },
    );
  },
};

/** `--alias` of {@link ROTATION_ESBUILD_ARGS} as esbuild's `alias` option (relative to the project root). */
const aliases = (): Record<string, string> =>
  Object.fromEntries(
    (ROTATION_ESBUILD_ARGS['--alias'] ?? []).map((entry) => {
      const [from = '', to = ''] = entry.split('=');
      return [from, to.startsWith('.') ? path.join(PROJECT_ROOT, to) : to];
    }),
  );

export interface RotationAssetOptions {
  /**
   * Whether the asset carries the SES SMTP test's client ({@link SMTP_CLIENT_FILE}).
   * @default false
   */
  readonly withSmtpLoginClient?: boolean;
  /**
   * The handler's entry file.
   * @default - lambda/handler.ts of this project
   */
  readonly entry?: string;
}

/**
 * The esbuild settings of every bundle of the function's code, the asset's and the single-file
 * bundles benchmarks and tests build of other entries: ESM for node22, minified, the AWS SDK
 * bundled (its ESM builds: smaller than its CommonJS ones, and tree-shakable), the createRequire
 * banner, {@link ROTATION_ESBUILD_ARGS}' aliases and the `define` of the SMTP client's file.
 */
export const rotationBundleSettings = (
  options: Pick<RotationAssetOptions, 'withSmtpLoginClient'> = {},
): BuildOptions => ({
  absWorkingDir: PROJECT_ROOT,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  banner: { js: CREATE_REQUIRE_BANNER },
  alias: aliases(),
  define: {
    ...(options.withSmtpLoginClient === true
      ? ROTATION_ESBUILD_DEFINE
      : ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT),
  },
  // The browser's user-agent parser, imported dynamically by SDK code that runs only in a
  // browser: left out rather than shipped as a chunk nothing loads.
  external: ['bowser'],
  plugins: [sdkPackageVersionOnly],
  logLevel: 'warning',
});

/**
 * The esbuild options of the asset's ES module stage (written to `outdir`): code splitting into
 * chunks. No createRequire banner: the stage never runs as ES modules, and after {@link
 * convertToCommonJs} every file has CommonJS's own `require`.
 */
export const rotationAssetBuildOptions = (
  outdir: string,
  options: RotationAssetOptions = {},
): BuildOptions & { metafile: true } => ({
  ...rotationBundleSettings(options),
  banner: {},
  entryPoints: {
    index: options.entry ?? ROTATION_HANDLER_ENTRY,
    ...(options.withSmtpLoginClient === true
      ? { [path.basename(SMTP_CLIENT_FILE, '.cjs')]: path.join(PROJECT_ROOT, SMTP_CLIENT_ENTRY) }
      : {}),
  },
  outdir,
  splitting: true,
  outExtension: { '.js': '.mjs' },
  entryNames: '[name]',
  chunkNames: `${ROTATION_CHUNKS_DIR}/[name]-[hash]`,
  metafile: true,
});

/** One file of the asset. */
export interface AssetFile {
  /** Relative to the asset's root, with `/`. */
  readonly file: string;
  readonly bytes: number;
  /** Whether every cold start loads it (`index.cjs` and whatever loading it loads). */
  readonly loadedAtColdStart: boolean;
}

/** The files `file` imports statically (`import … from "./x.mjs"`, `import "./x.mjs"`), relative to `dir`. */
const staticImportsOf = (dir: string, file: string): string[] => {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const found: string[] = [];
  // esbuild's ESM output: `import{a as b}from"./chunks/chunk-X.mjs";`, `import"./x.mjs";` (never
  // `import(`, a dynamic import, which this pattern leaves out).
  for (const match of text.matchAll(
    /\bimport\s*(?:[^"'();]*?\bfrom\s*)?["'](\.{1,2}\/[^"']+)["']/g,
  )) {
    const specifier = match[1];
    if (specifier !== undefined) {
      found.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
    }
  }
  return found;
};

/**
 * In the ES module stage of the build: `index.mjs` and every file it imports statically,
 * transitively.
 */
export const staticImportClosure = (dir: string, entry = STAGE_ENTRY_FILE): string[] => {
  const seen = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    pending.push(...staticImportsOf(dir, file));
  }
  return [...seen];
};

const listFiles = (dir: string, prefix = ''): string[] =>
  readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(dir, path.posix.join(prefix, entry.name))
      : [path.posix.join(prefix, entry.name)],
  );

/**
 * The files of the built asset in `dir` that loading its entry loads, as observed: a new `node`
 * process requires `index.cjs`, as the Lambda runtime does, and lists the files of `dir` in
 * require's cache (every file a `require` loaded, at any depth). Relative to `dir`, with `/`.
 */
export const coldStartFiles = (dir: string, entry = ROTATION_ENTRY_FILE): string[] => {
  const root = path.resolve(dir);
  const script = `require(${JSON.stringify(path.join(root, entry))});process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: root,
    // No AWS settings: loading must not depend on them (the handler reports them per invocation).
    env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`loading ${entry} from ${dir} failed: ${result.stderr.slice(-2_000)}`);
  }
  return (JSON.parse(result.stdout) as string[])
    .filter((file) => file.startsWith(`${root}${path.sep}`))
    .map((file) => path.relative(root, file).split(path.sep).join('/'))
    .sort();
};

/** The asset's files with their sizes, those every cold start loads first. */
export const describeAsset = (dir: string): AssetFile[] => {
  const atColdStart = new Set(coldStartFiles(dir));
  return listFiles(dir)
    .map((file) => ({
      file,
      bytes: statSync(path.join(dir, file)).size,
      loadedAtColdStart: atColdStart.has(file),
    }))
    .sort((a, b) => Number(b.loadedAtColdStart) - Number(a.loadedAtColdStart) || b.bytes - a.bytes);
};

/** What every cold start loads: the bytes of the files a cold start loads. */
export const coldStartBytes = (files: readonly AssetFile[]): number =>
  files.filter((file) => file.loadedAtColdStart).reduce((sum, file) => sum + file.bytes, 0);

/** `import{a as b,c}from"./x.mjs";` or `import"./x.mjs";`, as esbuild writes a chunk's imports. */
const STATIC_IMPORT = /import\s*(?:\{([^}]*)\}\s*from\s*)?"(\.{1,2}\/[^"]+)"\s*;?/g;

/**
 * In the ES module stage: folds the chunks every cold start loads into `index.mjs`, so that a
 * cold start reads, compiles and links one file instead of a dozen (about 5 ms less CPU on a 2-core machine; the bytes are
 * the same code, a few KB fewer).
 *
 * esbuild's code splitting puts the code `index.mjs` shares with the lazily loaded parts into
 * shared chunks, one per set of importers, all of which `index.mjs` imports statically. This
 * bundles `index.mjs` and those chunks again into one `index.mjs` that also exports, under
 * names of its own (`__c<chunk>_<name>`), everything the lazy files import from them, and
 * rewrites those imports to `index.mjs`: every module still exists once, evaluated in the same
 * order, and a lazy file loaded later finds it in `index.mjs`, already evaluated. Throws if a
 * lazy file still names a folded chunk afterwards (an import of a shape this does not rewrite).
 */
const foldColdStartChunks = async (outdir: string): Promise<void> => {
  const coldFiles = new Set(staticImportClosure(outdir));
  const coldChunks = [...coldFiles].filter((file) => file !== STAGE_ENTRY_FILE);
  if (coldChunks.length === 0) return;
  const prefixes = new Map(coldChunks.map((file, index) => [file, `__c${String(index)}_`]));
  const exported = new Map<string, Set<string>>();
  const rewritten = new Map<string, string>();
  for (const file of listFiles(outdir)) {
    if (!file.endsWith('.mjs') || coldFiles.has(file)) continue;
    const fromFile = path.posix.relative(path.posix.dirname(file), STAGE_ENTRY_FILE);
    const indexSpecifier = fromFile.startsWith('.') ? fromFile : `./${fromFile}`;
    const text = readFileSync(path.join(outdir, file), 'utf8').replace(
      STATIC_IMPORT,
      (statement, names: string | undefined, specifier: string) => {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
        const prefix = prefixes.get(target);
        if (prefix === undefined) return statement;
        if (names === undefined) return `import"${indexSpecifier}";`;
        const wanted = exported.get(target) ?? new Set<string>();
        exported.set(target, wanted);
        const bindings = names
          .split(',')
          .map((binding) => binding.trim())
          .filter((binding) => binding !== '')
          .map((binding) => {
            const [name = '', local = name] = binding.split(/\s+as\s+/);
            wanted.add(name);
            return `${prefix}${name} as ${local}`;
          });
        return `import{${bindings.join(',')}}from"${indexSpecifier}";`;
      },
    );
    for (const chunk of coldChunks) {
      if (text.includes(path.posix.basename(chunk))) {
        throw new Error(
          `${file} still refers to ${chunk}, which was folded into ${STAGE_ENTRY_FILE}`,
        );
      }
    }
    rewritten.set(file, text);
  }
  const entry = [
    `export * from "./${STAGE_ENTRY_FILE}";`,
    ...[...exported].map(
      ([chunk, names]) =>
        `export {${[...names].map((name) => `${name} as ${prefixes.get(chunk) ?? ''}${name}`).join(',')}} from "./${chunk}";`,
    ),
  ].join('\n');
  // The lazy files stay where they are: imports of them (dynamic ones) are left as they are,
  // relative to index.mjs.
  const keepLazyFiles: Plugin = {
    name: 'keep-lazy-files',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^\.{1,2}\// }, (args) => {
        const file = path.relative(outdir, path.resolve(args.resolveDir, args.path));
        const posix = file.split(path.sep).join('/');
        return coldFiles.has(posix) ? undefined : { path: `./${posix}`, external: true };
      });
    },
  };
  const result = await build({
    stdin: { contents: entry, resolveDir: outdir, loader: 'js', sourcefile: 'cold-start.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    plugins: [keepLazyFiles],
    write: false,
    outfile: path.join(outdir, STAGE_ENTRY_FILE),
    logLevel: 'warning',
  });
  const merged = result.outputFiles[0];
  if (merged === undefined) throw new Error(`esbuild wrote no ${STAGE_ENTRY_FILE}`);
  for (const chunk of coldChunks) rmSync(path.join(outdir, chunk));
  writeFileSync(path.join(outdir, STAGE_ENTRY_FILE), merged.contents);
  for (const [file, text] of rewritten) writeFileSync(path.join(outdir, file), text);
};

/** A `require` of another file of the asset, after the conversion: `require("./chunks/x.mjs")`. */
const RELATIVE_REQUIRE = /\brequire\("(\.{1,2}\/[^"]+)"\)/g;

/**
 * Throws when a `.cjs` file in `dir` requires another file of the asset (`require("./…")`,
 * `require("../…")`) that `dir` does not hold: a lazy chunk that would fail with
 * MODULE_NOT_FOUND at the first invocation that needs it, in Lambda.
 */
export const assertRequiredFilesExist = (dir: string): void => {
  for (const file of listFiles(dir).filter((name) => name.endsWith('.cjs'))) {
    const code = readFileSync(path.join(dir, file), 'utf8');
    for (const [, specifier = ''] of code.matchAll(RELATIVE_REQUIRE)) {
      if (!existsSync(path.join(dir, path.dirname(file), specifier))) {
        throw new Error(
          `converting to CommonJS: ${file} requires "${specifier}", which the asset does not hold`,
        );
      }
    }
  }
};

/**
 * Converts every `.mjs` file of the ES module stage in `outdir` into a `.cjs` file (esbuild's
 * transform to CommonJS), naming the other files by their new names. Static imports become
 * `require` calls at load, dynamic ones `require` calls on first use: a cold start compiles and
 * links `index.cjs` through CommonJS's loader, about 7 ms less than the same code as an ES
 * module on a 2-core machine (BENCHMARKS.md), and a lazy file still loads only when an
 * invocation needs it. Each file starts with `"use strict"` (an ES module is always strict; a
 * CommonJS file only when it says so). Throws on any esbuild warning (an `import.meta`, which
 * CommonJS lacks, for one), and when a file requires another that the asset does not hold.
 */
const convertToCommonJs = async (outdir: string): Promise<void> => {
  const stageFiles = listFiles(outdir).filter((name) => name.endsWith('.mjs'));
  for (const file of stageFiles) {
    const result = await transform(readFileSync(path.join(outdir, file), 'utf8'), {
      format: 'cjs',
      loader: 'js',
      platform: 'node',
      target: 'node22',
      minify: true,
      banner: '"use strict";',
      // `import()` becomes `Promise.resolve().then(() => require(…))`: loaded on first use.
      supported: { 'dynamic-import': false },
      sourcefile: file,
      logLevel: 'silent',
    });
    if (result.warnings.length > 0) {
      throw new Error(
        `converting ${file} to CommonJS: ${result.warnings.map((warning) => warning.text).join('; ')}`,
      );
    }
    // Only the specifiers of require calls are renamed, never a string that merely looks alike.
    const code = result.code.replace(RELATIVE_REQUIRE, (call, specifier: string) =>
      specifier.endsWith('.mjs')
        ? `require(${JSON.stringify(`${specifier.slice(0, -4)}.cjs`)})`
        : call,
    );
    writeFileSync(path.join(outdir, file.replace(/\.mjs$/, '.cjs')), code);
    rmSync(path.join(outdir, file));
  }
  assertRequiredFilesExist(outdir);
};

/**
 * Builds the asset into `outdir`, replacing the files of an earlier build there (the single-file
 * bundle NodejsFunction builds before its `afterBundling` hook runs this): esbuild's split build
 * as ES modules, then the chunks every cold start loads folded into `index.mjs` ({@link
 * foldColdStartChunks}), then every file converted to CommonJS ({@link convertToCommonJs}).
 * Returns the metafile of esbuild's split build: its outputs that `index.mjs` imports statically
 * are the code now in `index.cjs` ({@link coldStartInputs}).
 */
export const buildRotationAsset = async (
  outdir: string,
  options: RotationAssetOptions = {},
): Promise<Metafile> => {
  mkdirSync(outdir, { recursive: true });
  for (const earlier of [
    ROTATION_ENTRY_FILE,
    STAGE_ENTRY_FILE,
    ROTATION_CHUNKS_DIR,
    SMTP_CLIENT_FILE,
    SMTP_CLIENT_FILE.replace(/\.cjs$/, '.mjs'),
  ]) {
    rmSync(path.join(outdir, earlier), { recursive: true, force: true });
  }
  const result = await build(rotationAssetBuildOptions(outdir, options));
  await foldColdStartChunks(outdir);
  await convertToCommonJs(outdir);
  return result.metafile;
};

/**
 * The source files (relative to the project root, as esbuild's metafile names them) bundled into
 * the stage's `index.mjs` and the chunks it imports statically: the code of `index.cjs`, which
 * every cold start loads.
 */
export const coldStartInputs = (metafile: Metafile): Set<string> => {
  const entry = Object.keys(metafile.outputs).find(
    (output) => path.posix.basename(output) === STAGE_ENTRY_FILE,
  );
  if (entry === undefined) throw new Error(`esbuild wrote no ${STAGE_ENTRY_FILE}`);
  const outputs = new Set<string>();
  const pending = [entry];
  for (let output = pending.pop(); output !== undefined; output = pending.pop()) {
    if (outputs.has(output)) continue;
    outputs.add(output);
    for (const imported of metafile.outputs[output]?.imports ?? []) {
      if (imported.kind === 'import-statement' && imported.path in metafile.outputs) {
        pending.push(imported.path);
      }
    }
  }
  return new Set(
    [...outputs].flatMap((output) => Object.keys(metafile.outputs[output]?.inputs ?? {})),
  );
};
