// Bundles a function the way the stack does (esbuild: ESM, minified, Node 22, @aws-sdk external).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER, EXTERNAL_MODULES } from '../lib/bundling.ts';

export async function bundleFunction(entry: string, outdir: string): Promise<{ file: string; bytes: number }> {
  const file = join(outdir, 'index.mjs');
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_TARGET,
    minify: true,
    sourcemap: 'external',
    external: EXTERNAL_MODULES,
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'error',
  });
  return { file, bytes: statSync(file).size };
}
