/**
 * The rotation function's asset as `cdk synth` wrote it: what every cold start loads
 * (`index.cjs` and whatever loading it loads, lib/rotation-asset-build.ts), its gzip size,
 * and every file with its size; beside it the baseline's asset (one file, main before issue 17).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  coldStartBytes,
  describeAsset,
  ROTATION_ENTRY_FILE,
  ROTATION_STATIC_BYTES_LIMIT,
  type AssetFile,
} from '../../lib/rotation-asset-build.js';
import { kib } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

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
  /** `index.cjs`. */
  readonly entry: string;
  readonly files: readonly AssetFile[];
  /** Bytes every cold start loads: `index.cjs` and whatever loading it loads. */
  readonly coldStartBytes: number;
  /** The same files, gzip -9. */
  readonly coldStartGzipBytes: number;
  readonly totalBytes: number;
}

export const measureAsset = (assetDir: string): AssetSize => {
  const files = describeAsset(assetDir);
  const atColdStart = files.filter((file) => file.loadedAtColdStart);
  return {
    dir: assetDir,
    entry: path.join(assetDir, ROTATION_ENTRY_FILE),
    files,
    coldStartBytes: coldStartBytes(files),
    coldStartGzipBytes: atColdStart.reduce(
      (sum, file) =>
        sum + gzipSync(readFileSync(path.join(assetDir, file.file)), { level: 9 }).length,
      0,
    ),
    totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
  };
};

export const assetRows = (
  size: AssetSize,
  baselineEntry?: { commit: string; file: string },
): BenchRow[] => {
  const baselineBytes = baselineEntry === undefined ? undefined : statSync(baselineEntry.file).size;
  const atColdStart = size.files.filter((file) => file.loadedAtColdStart);
  const onDemand = size.files.filter((file) => !file.loadedAtColdStart);
  const list = (files: readonly AssetFile[]): string =>
    files.map((file) => `${file.file} ${kib(file.bytes)}`).join(', ');
  return [
    {
      figure: 'asset: loaded at every cold start (index.cjs and whatever it loads)',
      value: `${kib(size.coldStartBytes)} (${String(size.coldStartBytes)} B in ${String(atColdStart.length)} files; gzip -9 ${kib(size.coldStartGzipBytes)})`,
      target: `≤ ${kib(ROTATION_STATIC_BYTES_LIMIT)}`,
      ...(baselineEntry === undefined || baselineBytes === undefined
        ? {}
        : {
            peer: `before (${baselineEntry.commit}): index.mjs alone, ${kib(baselineBytes)} (${String(baselineBytes)} B)`,
          }),
      met: size.coldStartBytes <= ROTATION_STATIC_BYTES_LIMIT,
    },
    {
      figure: 'asset: chunks loaded at cold start',
      value: list(atColdStart),
      target: 'report',
    },
    {
      figure: 'asset: chunks loaded only by the invocations that need them',
      value: list(onDemand),
      target: 'report',
    },
    {
      figure: 'asset: all files',
      value: `${kib(size.totalBytes)} in ${String(size.files.length)} files`,
      target: 'report',
    },
  ];
};
