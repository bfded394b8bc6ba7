import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CloudFormationTemplate {
  readonly Resources: Record<string, TemplateResource>;
}

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

const HANDLER_FILE_EXTENSIONS = ['.mjs', '.js', '.cjs'];

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

/**
 * Synthesizes the CDK app of cdk.json (`npx cdk synth`, esbuild bundling included) into a
 * temporary directory, with `rawConfig` as its `iamKeyRotation` context, and locates the rotation
 * function's bundled handler through the template's asset metadata. Expects the configured users
 * to land in one stack.
 *
 * @param rawConfig the `iamKeyRotation` configuration, as it would appear in cdk.json
 */
export const synthesizeRotationStack = async (rawConfig: unknown): Promise<SynthesizedStack> => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-synth-'));
  try {
    await runCdkSynth(outdir, rawConfig);
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
