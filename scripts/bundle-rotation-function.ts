/**
 * Builds the rotation function's asset (lib/rotation-asset-build.ts) into a folder:
 * `node --import tsx scripts/bundle-rotation-function.ts <outdir> [--entry <handler.ts>]
 * [--with-smtp-login-client]`. NodejsFunction runs it after its own bundling
 * (lib/rotation-bundling.ts, `afterBundling`), and replaces its single file with the split asset.
 */
import { parseArgs } from 'node:util';
import { buildRotationAsset } from '../lib/rotation-asset-build.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    entry: { type: 'string' },
    'with-smtp-login-client': { type: 'boolean', default: false },
  },
});
const [outdir, ...extra] = positionals;
if (outdir === undefined || extra.length > 0) {
  process.stderr.write(
    'usage: bundle-rotation-function.ts <outdir> [--entry <handler.ts>] [--with-smtp-login-client]\n',
  );
  process.exit(2);
}
await buildRotationAsset(outdir, {
  withSmtpLoginClient: values['with-smtp-login-client'],
  ...(values.entry === undefined ? {} : { entry: values.entry }),
});
