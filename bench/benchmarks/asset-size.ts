/**
 * The rotation function's bundled asset as `cdk synth` wrote it: bytes, and gzipped. The target
 * applies to `index.mjs`, which every cold start loads; the SES SMTP test's client
 * (smtp-login-client.mjs), which the function loads only for a secret that asks for that test, is
 * reported on its own, and so is the whole directory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { kib } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

export const ASSET_TARGET_BYTES = 300 * 1024;

interface AssetManifest {
  files?: Record<string, { displayName?: string; source?: { path?: string; packaging?: string } }>;
}

/** The directory of the rotation function's code asset in a cloud assembly. */
export const findRotationAsset = (outDir: string): string => {
  for (const file of readdirSync(outDir).filter((name) => name.endsWith('.assets.json'))) {
    const manifest = JSON.parse(readFileSync(path.join(outDir, file), 'utf8')) as AssetManifest;
    for (const asset of Object.values(manifest.files ?? {})) {
      if (
        asset.source?.packaging === 'zip' &&
        asset.source.path !== undefined &&
        (asset.displayName ?? '').includes('RotationFunction')
      ) {
        return path.join(outDir, asset.source.path);
      }
    }
  }
  throw new Error(`no RotationFunction code asset in ${outDir}`);
};

export interface AssetSize {
  readonly dir: string;
  readonly entry: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly files: readonly string[];
  /** Bytes of the entry file (`index.mjs`), loaded at every cold start. */
  readonly entryBytes: number;
  /** The other files and their bytes (loaded on demand). */
  readonly others: readonly { readonly name: string; readonly bytes: number }[];
}

export const measureAsset = (assetDir: string): AssetSize => {
  const files = readdirSync(assetDir);
  let bytes = 0;
  let gzipBytes = 0;
  const sizes = new Map<string, number>();
  for (const name of files) {
    const content = readFileSync(path.join(assetDir, name));
    sizes.set(name, statSync(path.join(assetDir, name)).size);
    bytes += sizes.get(name) ?? 0;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  const entry = files.find((name) => /^index\.(mjs|js|cjs)$/.test(name));
  if (entry === undefined) throw new Error(`no index.* in asset ${assetDir}`);
  return {
    dir: assetDir,
    entry: path.join(assetDir, entry),
    bytes,
    gzipBytes,
    files,
    entryBytes: sizes.get(entry) ?? 0,
    others: files
      .filter((name) => name !== entry)
      .map((name) => ({ name, bytes: sizes.get(name) ?? 0 })),
  };
};

export const assetRows = (size: AssetSize): BenchRow[] => [
  {
    figure: 'asset size (minified): index.mjs, loaded at every cold start',
    value: `${kib(size.entryBytes)} (${String(size.entryBytes)} B)`,
    target: `≤ ${kib(ASSET_TARGET_BYTES)}`,
    met: size.entryBytes <= ASSET_TARGET_BYTES,
  },
  ...size.others.map((other): BenchRow => ({
    figure: `asset size (minified): ${other.name}, loaded only when needed`,
    value: `${kib(other.bytes)} (${String(other.bytes)} B)`,
    target: 'report',
  })),
  {
    figure: 'asset size (minified): all files',
    value: `${kib(size.bytes)} (${String(size.bytes)} B, ${size.files.join(', ')})`,
    target: 'report',
  },
  {
    figure: 'asset size (gzip -9)',
    value: kib(size.gzipBytes),
    target: 'report',
  },
];
