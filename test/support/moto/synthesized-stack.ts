import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { MotoServer } from './moto-server.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CloudFormationTemplate {
  readonly Resources: Record<string, TemplateResource>;
}

/**
 * The configuration of the suites that need the stack and its bundled function but no users of
 * their own: two users, so a suite can bind a secret to the other one. One synth serves them all
 * (see {@link synthesizeRotationStack}).
 */
export const SHARED_STACK_USER = 'app-reader';
export const SHARED_STACK_OTHER_USER = 'report-builder';
export const SHARED_STACK_CONFIG = {
  users: [SHARED_STACK_USER, SHARED_STACK_OTHER_USER].map((userName) => ({
    userName,
    createUser: true,
    schedule: 'rate(30 days)',
  })),
};

/** A stack synthesized with bundling, as `cdk synth` writes it. */
export interface SynthesizedStack {
  readonly outdir: string;
  readonly template: CloudFormationTemplate;
  /** Logical id of the rotation function. */
  readonly functionLogicalId: string;
  /** The bundled handler file inside the function's asset directory. */
  readonly handlerFile: string;
  /** The exported handler name (`index.handler` -> `handler`). */
  readonly handlerExport: string;
  /** Removes the output directory. */
  readonly dispose: () => void;
}

/** The Lambda Node.js runtime looks for the handler's file with these extensions, in this order. */
const HANDLER_FILE_EXTENSIONS = ['.js', '.mjs', '.cjs'];

interface CloudAssemblyManifest {
  readonly artifacts?: Record<string, { type?: string; properties?: { templateFile?: string } }>;
}

/** Runs `npx cdk synth` (the app of cdk.json, with bundling) into `outdir`. */
const runCdkSynth = (outdir: string, rawConfig: unknown): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      'npx',
      [
        'cdk',
        'synth',
        '--no-notices',
        '--quiet',
        '--output',
        outdir,
        '--context',
        `iamKeyRotation=${JSON.stringify(rawConfig)}`,
      ],
      {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
      },
    );
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-6_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`cdk synth exited with ${String(code)}:\n${output}`));
    });
  });

/** What `cdk synth` reads: the app, its constructs, the function and scripts it bundles, the lock. */
const SYNTH_INPUTS = [
  'bin',
  'lib',
  'lambda',
  'scripts',
  'cdk.json',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
];

/** Adds every file below `entry` (relative path and content, in a stable order) to `hash`. */
const hashInput = (hash: ReturnType<typeof createHash>, entry: string): void => {
  const absolute = path.join(PROJECT_ROOT, entry);
  if (!existsSync(absolute)) return;
  if (statSync(absolute).isDirectory()) {
    for (const name of readdirSync(absolute).sort()) hashInput(hash, path.join(entry, name));
    return;
  }
  hash.update(`${entry}\0`).update(readFileSync(absolute)).update('\0');
};

/** The cache key of a synth: the configuration and the content of every input file. */
const synthKey = (rawConfig: unknown): string => {
  const hash = createHash('sha256').update(JSON.stringify(rawConfig)).update('\0');
  for (const input of SYNTH_INPUTS) hashInput(hash, input);
  return hash.digest('hex').slice(0, 32);
};

const sleep = (milliseconds: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, milliseconds);
  });

/**
 * Takes `lock` for this process: a directory holding this process's pid, made beside it and
 * renamed into place, so a lock never exists without its holder's pid. False when another
 * process holds it.
 */
const takeLock = (lock: string): boolean => {
  const staged = `${lock}.${String(process.pid)}.new`;
  mkdirSync(staged);
  writeFileSync(path.join(staged, 'pid'), String(process.pid));
  try {
    renameSync(staged, lock);
    return true;
  } catch {
    rmSync(staged, { recursive: true, force: true });
    return false;
  }
};

/** Whether the process that holds `lock` is gone: no such process (a process of another user is not gone). */
const holderIsGone = (lock: string): boolean => {
  let holder: number;
  try {
    holder = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
  } catch {
    return false; // Released a moment ago: the next look finds the assembly or takes the lock.
  }
  try {
    process.kill(holder, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

/**
 * The cloud assembly of `rawConfig`, synthesized once per `vitest run`: the first suite that asks
 * for it runs `cdk synth` into this run's cache (test/support/global-setup.ts), holding a lock (a
 * directory with the holder's pid, renamed into place) so that a suite asking meanwhile in another
 * worker waits for it instead of synthesizing again; later suites find it done. Keyed by the
 * configuration and the content of every input of the synth, so a changed source is synthesized
 * anew. `undefined` outside a vitest run that provides the cache.
 */
const cachedAssembly = async (rawConfig: unknown): Promise<string | undefined> => {
  let cacheDir: unknown;
  try {
    cacheDir = inject('synthCacheDir');
  } catch {
    return undefined;
  }
  // Not provided (a vitest project whose global setup did not run), or already removed.
  if (typeof cacheDir !== 'string' || !existsSync(cacheDir)) return undefined;
  const assembly = path.join(cacheDir, synthKey(rawConfig));
  const lock = `${assembly}.lock`;
  for (;;) {
    if (existsSync(assembly)) return assembly;
    if (!takeLock(lock)) {
      // Another worker synthesizes it: wait, unless that worker is gone.
      if (holderIsGone(lock)) rmSync(lock, { recursive: true, force: true });
      await sleep(250);
      continue;
    }
    const building = `${assembly}.${String(process.pid)}.building`;
    try {
      await runCdkSynth(building, rawConfig);
      try {
        renameSync(building, assembly);
      } catch (error) {
        // Two workers judged a lock stale at once and both synthesized: the first one's stands.
        if (!existsSync(assembly)) throw error;
      }
      return assembly;
    } finally {
      rmSync(building, { recursive: true, force: true });
      rmSync(lock, { recursive: true, force: true });
    }
  }
};

/**
 * The CDK app of cdk.json synthesized (`npx cdk synth`, esbuild bundling included) with
 * `rawConfig` as its `iamKeyRotation` context, in a temporary directory of the caller's own (a
 * copy of this run's assembly for the configuration: see {@link cachedAssembly}), with the
 * rotation function's bundled handler located through the template's asset metadata. Expects the
 * configured users to land in one stack.
 *
 * @param rawConfig the `iamKeyRotation` configuration, as it would appear in cdk.json
 */
export const synthesizeRotationStack = async (rawConfig: unknown): Promise<SynthesizedStack> => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-synth-'));
  try {
    const assembly = await cachedAssembly(rawConfig);
    if (assembly === undefined) await runCdkSynth(outdir, rawConfig);
    else cpSync(assembly, outdir, { recursive: true });
    const manifest = JSON.parse(
      readFileSync(path.join(outdir, 'manifest.json'), 'utf8'),
    ) as CloudAssemblyManifest;
    const templateFiles = Object.values(manifest.artifacts ?? {})
      .filter((artifact) => artifact.type === 'aws:cloudformation:stack')
      .map((artifact) => artifact.properties?.templateFile)
      .filter((file): file is string => typeof file === 'string');
    if (templateFiles.length !== 1 || templateFiles[0] === undefined) {
      throw new Error(
        `Expected one stack in the cloud assembly, got [${templateFiles.join(', ')}]`,
      );
    }
    const template = JSON.parse(
      readFileSync(path.join(outdir, templateFiles[0]), 'utf8'),
    ) as CloudFormationTemplate;

    const functions = Object.entries(template.Resources).filter(
      ([, resource]) =>
        resource.Type === 'AWS::Lambda::Function' &&
        String(resource.Metadata?.['aws:cdk:path']).includes('/RotationFunction/'),
    );
    const [entry, ...others] = functions;
    if (entry === undefined || others.length > 0) {
      throw new Error(
        `Expected exactly one rotation function in the template, got ${functions.length}: ${functions.map(([id]) => id).join(', ')}`,
      );
    }
    const [functionLogicalId, fn] = entry;
    const assetPath = fn.Metadata?.['aws:asset:path'];
    const handler = fn.Properties?.Handler;
    if (typeof assetPath !== 'string' || fn.Metadata?.['aws:asset:is-bundled'] !== true) {
      throw new Error(
        `Rotation function ${functionLogicalId} has no bundled asset (aws:asset:path ${String(assetPath)})`,
      );
    }
    if (typeof handler !== 'string' || !/^[\w./-]+\.\w+$/.test(handler)) {
      throw new Error(`Rotation function ${functionLogicalId} has Handler ${String(handler)}`);
    }
    const separator = handler.lastIndexOf('.');
    const moduleName = handler.slice(0, separator);
    const handlerExport = handler.slice(separator + 1);
    const assetDir = path.resolve(outdir, assetPath);
    const handlerFile = HANDLER_FILE_EXTENSIONS.map((extension) =>
      path.join(assetDir, `${moduleName}${extension}`),
    ).find((candidate) => existsSync(candidate));
    if (handlerFile === undefined) {
      throw new Error(
        `Asset ${assetDir} has no ${moduleName}${HANDLER_FILE_EXTENSIONS.join('|')} for Handler ${handler}`,
      );
    }
    return {
      outdir,
      template,
      functionLogicalId,
      handlerFile,
      handlerExport,
      dispose: () => {
        rmSync(outdir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
};

/**
 * Starts moto while `cdk synth` runs ({@link synthesizeRotationStack}): both, or, when either
 * fails, neither (what did start is stopped or removed) and the first error.
 */
export const startMotoAndSynthesize = async (
  rawConfig: unknown,
  motoOptions: Parameters<typeof MotoServer.start>[0] = {},
): Promise<{ moto: MotoServer; synthesized: SynthesizedStack }> => {
  const [moto, synthesized] = await Promise.allSettled([
    MotoServer.start(motoOptions),
    synthesizeRotationStack(rawConfig),
  ]);
  if (moto.status === 'fulfilled' && synthesized.status === 'fulfilled') {
    return { moto: moto.value, synthesized: synthesized.value };
  }
  if (synthesized.status === 'fulfilled') synthesized.value.dispose();
  if (moto.status === 'fulfilled') await moto.value.stop();
  throw moto.status === 'rejected' ? moto.reason : (synthesized as PromiseRejectedResult).reason;
};
