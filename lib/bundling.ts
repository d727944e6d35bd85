// How each function is bundled, shared by the stack (NodejsFunction) and the benchmark: one definition.

/** `@aws-sdk/*` ships with the Node 22 Lambda runtime, so bundles leave it out. */
export const EXTERNAL_MODULES = ['@aws-sdk/*'];

/** Lets CommonJS dependencies `require` Node built-ins inside an ESM bundle. */
export const ESM_REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export const BUNDLE_TARGET = 'node22';

/** The functions and their entry files. */
export const FUNCTION_ENTRIES = {
  complete: 'functions/complete/handler.ts',
  handleMessage: 'functions/handle-message/handler.ts',
} as const;
