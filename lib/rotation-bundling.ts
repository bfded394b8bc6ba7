import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** The project's root directory: esbuild's working directory when it bundles an asset. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The rotation Lambda's entry file. */
export const ROTATION_HANDLER_ENTRY = path.join(PROJECT_ROOT, 'lambda', 'handler.ts');

/** The lock file esbuild bundling resolves dependencies from. */
export const PROJECT_LOCK_FILE = path.join(PROJECT_ROOT, 'package-lock.json');

/**
 * Lets an ESM bundle call `require()` for the few CommonJS built-ins the AWS SDK still loads.
 */
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);";

/**
 * Module substitutions in the bundle (paths resolved from the project root, esbuild's working
 * directory). Each drops SDK code that the function never runs in Lambda:
 * - the default credential chain reduced to its first link, the environment variables in which
 *   the Lambda runtime passes the role's credentials (lambda/aws/lambda-credential-provider.ts):
 *   SSO, ini files, process, web identity, container and instance metadata providers and their
 *   nested STS/SSO/sign-in clients are about 110 KB;
 * - the event stream codec, which no operation rotation calls uses
 *   (lambda/aws/no-event-streams.ts): about 19 KB.
 */
export const ROTATION_ESBUILD_ARGS: Readonly<Record<string, string[]>> = {
  '--alias': [
    '@aws-sdk/credential-provider-node=./lambda/aws/lambda-credential-provider.ts',
    '@smithy/core/event-streams=./lambda/aws/no-event-streams.ts',
  ],
};

/**
 * The file, beside the asset's `index.cjs`, into which the SMTP client of the SES SMTP test
 * (lambda/aws/smtp-login-client.ts, nodemailer's SMTP connection, about 47 KB) is bundled on its
 * own: the function loads it only when a secret's tag asks for the SMTP test, so `index.cjs`, and
 * the cold start of every other rotation, stay as they were.
 */
export const SMTP_CLIENT_FILE = 'smtp-login-client.cjs';

/**
 * esbuild `define`s of the rotation bundle: tells lambda/dependencies.ts to load the SMTP client
 * from {@link SMTP_CLIENT_FILE} (a file of its own, which `index.cjs` loads on first use)
 * instead of from its source module.
 */
export const ROTATION_ESBUILD_DEFINE: Readonly<Record<string, string>> = {
  IAM_KEY_ROTATION_SMTP_CLIENT_FILE: JSON.stringify(`./${SMTP_CLIENT_FILE}`),
};

/**
 * The `define` of an asset built without {@link SMTP_CLIENT_FILE} (no user of the stack has
 * `sesSmtpTest`): the loader then refuses the SMTP test with a message that says so.
 */
export const ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT: Readonly<Record<string, string>> = {
  IAM_KEY_ROTATION_SMTP_CLIENT_FILE: JSON.stringify(''),
};

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The script that builds the split asset (lib/rotation-asset-build.ts), relative to the project root. */
const ASSET_BUILD_SCRIPT = path.join('scripts', 'bundle-rotation-function.ts');

/**
 * The shell command, run after NodejsFunction's own single-file bundle, that builds the asset
 * with code splitting (lib/rotation-asset-build.ts) in its place: `index.cjs` for every cold start, a chunk per part that only some invocations load, and the SES SMTP
 * test's client when `withSmtpLoginClient`. Runs in the project root (NodejsFunction's working
 * directory for local bundling), where tsx resolves.
 */
export const rotationAssetBundlingCommand = (
  inputDir: string,
  outputDir: string,
  entry: string,
  withSmtpLoginClient: boolean,
): string =>
  [
    'node',
    '--import',
    'tsx',
    shellQuote(path.join(inputDir, ASSET_BUILD_SCRIPT)),
    shellQuote(outputDir),
    '--entry',
    shellQuote(entry),
    ...(withSmtpLoginClient ? ['--with-smtp-login-client'] : []),
  ].join(' ');

/**
 * The bundling options of the rotation function. NodejsFunction's esbuild run makes one file;
 * its `afterBundling` hook replaces it with the split asset of lib/rotation-asset-build.ts, built
 * with the same esbuild options (node22, minified, the AWS SDK bundled,
 * {@link ROTATION_ESBUILD_ARGS}) plus code splitting, as CommonJS files (`index.cjs`), and the SES SMTP test's client in a file of
 * its own only when `withSmtpLoginClient`.
 */
export function rotationBundlingOptions(
  withSmtpLoginClient: boolean,
  entry: string = ROTATION_HANDLER_ENTRY,
): nodejs.BundlingOptions {
  return {
    format: nodejs.OutputFormat.ESM,
    target: 'node22',
    minify: true,
    sourceMap: false,
    mainFields: ['module', 'main'],
    banner: CREATE_REQUIRE_BANNER,
    // Bundle the AWS SDK instead of relying on the copy in the Lambda runtime, so the code
    // runs against the versions we tested.
    externalModules: [],
    forceDockerBundling: false,
    esbuildArgs: ROTATION_ESBUILD_ARGS,
    define: {
      ...(withSmtpLoginClient
        ? ROTATION_ESBUILD_DEFINE
        : ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT),
    },
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir: string, outputDir: string) => [
        rotationAssetBundlingCommand(inputDir, outputDir, entry, withSmtpLoginClient),
      ],
    },
  };
}
