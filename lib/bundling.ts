// How each function is bundled, shared by the stack (NodejsFunction) and the benchmark: one definition.
import { fileURLToPath } from 'node:url';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** `@aws-sdk/*` ships with the Node 22 Lambda runtime, so bundles leave it out. */
export const EXTERNAL_MODULES = ['@aws-sdk/*'];

/** Lets CommonJS dependencies `require` Node built-ins inside an ESM bundle. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export const BUNDLE_TARGET = 'node22';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The functions and their entry files. */
export const FUNCTION_ENTRIES = {
  complete: 'functions/complete/handler.ts',
  handleMessage: 'functions/handle-message/handler.ts',
  migrate: 'functions/migrate/handler.ts',
} as const;

/**
 * NodejsFunction bundling: local esbuild (never Docker), ESM, minified, source maps. The maps are for reading
 * a stack trace offline: no embedded sources (smaller), and functions start without `--enable-source-maps`,
 * which slows every cold start's import.
 */
export function bundling(extra: Partial<BundlingOptions> = {}): BundlingOptions {
  return {
    format: 'esm' as BundlingOptions['format'],
    target: BUNDLE_TARGET,
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    externalModules: EXTERNAL_MODULES,
    banner: ESM_REQUIRE_BANNER,
    forceDockerBundling: false,
    ...extra,
  };
}
